package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/gha"
)

// TestFleetCheckEnvironment asks a stand-in of GitHub's REST API (the
// documented answers of "Get an environment" and "List deployment branch
// policies") as a release job does: the repository, API and token come
// from the job's environment, the ref from clearcutt.yaml.
func TestFleetCheckEnvironment(t *testing.T) {
	policies := map[string]string{
		"acme/ok":    `{"total_count":1,"branch_policies":[{"id":1,"node_id":"x","name":"main","type":"branch"}]}`,
		"acme/loose": `{"total_count":2,"branch_policies":[{"id":1,"node_id":"x","name":"main","type":"branch"},{"id":2,"node_id":"y","name":"feature/*","type":"branch"}]}`,
	}
	var tokens []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokens = append(tokens, r.Header.Get("Authorization"))
		rest, _ := strings.CutPrefix(r.URL.Path, "/repos/")
		parts := strings.SplitN(rest, "/", 5) // owner, name, "environments", env, [policies]
		repo := parts[0] + "/" + parts[1]
		pol, ok := policies[repo]
		if !ok || len(parts) < 4 || parts[3] != "clearcutt-signing" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found","status":"404"}`))
			return
		}
		if len(parts) == 5 {
			_, _ = w.Write([]byte(pol))
			return
		}
		_, _ = w.Write([]byte(`{"id":7,"name":"clearcutt-signing","protection_rules":[{"id":3,"type":"branch_policy"}],"deployment_branch_policy":{"protected_branches":false,"custom_branch_policies":true}}`))
	}))
	defer srv.Close()
	check := func(repo string, extra ...string) (int, string, string) {
		j := newGHAJob(t)
		j.env["GITHUB_API_URL"], j.env["GITHUB_REPOSITORY"], j.env["GITHUB_TOKEN"] = srv.URL, repo, "ghs_job"
		return runIn(t, j, append([]string{"-f", "../../clearcutt.yaml", "fleet", "check-environment"}, extra...)...)
	}

	code, out, errs := check("acme/ok")
	if code != ExitOK || !strings.Contains(out, "admits exactly the signing ref") || !strings.Contains(out, "refs/heads/main") {
		t.Fatalf("main only: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = check("acme/loose")
	if code != ExitFailed || !strings.Contains(out, "environment clearcutt-signing also admits branch feature/*") ||
		!strings.Contains(errs, `"Settings checklist", "Environments → `+"`clearcutt-signing`"+`"`) {
		t.Fatalf("a second pattern: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = check("acme/missing", "--json")
	var rep gha.EnvironmentReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if code != ExitFailed || rep.Exists || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "creates it without rules") {
		t.Fatalf("missing: exit %d %+v %s", code, rep, errs)
	}
	for _, tok := range tokens {
		if tok != "Bearer ghs_job" {
			t.Errorf("Authorization %q, want the job's token", tok)
		}
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	if code, _, errs := check("acme/ok", "--api", gone.URL); code != ExitRuntime {
		t.Errorf("an API that cannot be asked: exit %d, want %d: %s", code, ExitRuntime, errs)
	}
	if code, _, errs := check("acme/ok", "--api", "::"); code != ExitUsage {
		t.Errorf("--api that is no URL: exit %d, want %d: %s", code, ExitUsage, errs)
	}
}
