package gha

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// githubAPI answers the three REST endpoints CheckEnvironment reads with
// the shapes GitHub documents (docs.github.com/rest/deployments/environments,
// …/branch-policies, …/branches/branches): envs maps an environment name to
// its "Get an environment" body, policies to its "List deployment branch
// policies" body; protected is the branches list for ?protected=true. An
// unknown environment is a 404, as on GitHub.
func githubAPI(t *testing.T, envs map[string]string, policies map[string]string, protected string, status int) (string, *[]string) {
	t.Helper()
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		if r.Header.Get("Accept") != "application/vnd.github+json" {
			t.Errorf("%s: Accept %q", r.URL, r.Header.Get("Accept"))
		}
		if status != 0 {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/deployments/environments#get-an-environment","status":"403"}`))
			return
		}
		const prefix = "/repos/acme/base-images/"
		p, ok := strings.CutPrefix(r.URL.Path, prefix)
		switch {
		case !ok:
			http.NotFound(w, r)
		case p == "branches" && r.URL.Query().Get("protected") == "true":
			_, _ = w.Write([]byte(protected))
		case strings.HasPrefix(p, "environments/"):
			name, rest, _ := strings.Cut(strings.TrimPrefix(p, "environments/"), "/")
			body, ok := envs[name]
			if rest == "deployment-branch-policies" {
				body, ok = policies[name]
			}
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`))
				return
			}
			_, _ = w.Write([]byte(body))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &auth
}

func environment(policy string) string {
	return `{"id":161088068,"node_id":"EN_kwDOAA","name":"clearcutt-signing","url":"https://api.github.com/repos/acme/base-images/environments/clearcutt-signing",` +
		`"html_url":"https://github.com/acme/base-images/deployments/activity_log?environments_filter=clearcutt-signing","created_at":"2026-11-02T10:00:00Z","updated_at":"2026-11-02T10:00:00Z",` +
		`"can_admins_bypass":true,"protection_rules":[{"id":3756,"node_id":"GA_kwDOAA","type":"branch_policy"}],"deployment_branch_policy":` + policy + `}`
}

func branchPolicies(p ...string) string {
	type pol struct {
		ID     int    `json:"id"`
		NodeID string `json:"node_id"`
		Name   string `json:"name"`
		Type   string `json:"type,omitempty"`
	}
	var list []pol
	for i, s := range p {
		typ, name, _ := strings.Cut(s, " ")
		list = append(list, pol{ID: 361471 + i, NodeID: "MDE2OkdhdGVCcmFuY2hQb2xpY3kzNjE0NzE=", Name: name, Type: typ})
	}
	raw, _ := json.Marshal(map[string]any{"total_count": len(list), "branch_policies": list})
	return string(raw)
}

func TestCheckEnvironment(t *testing.T) {
	const custom = `{"protected_branches":false,"custom_branch_policies":true}`
	const protected = `{"protected_branches":true,"custom_branch_policies":false}`
	cases := []struct {
		name      string
		ref       string
		env       string // "" = the environment does not exist
		policies  string
		protected string
		rule      string
		admits    []string
		problems  []string
	}{
		{name: "main only", ref: "refs/heads/main", env: environment(custom), policies: branchPolicies("branch main"),
			rule: "custom", admits: []string{"branch main"}},
		{name: "a policy without a type is a branch", ref: "refs/heads/main", env: environment(custom), policies: branchPolicies(" main"),
			rule: "custom", admits: []string{"branch main"}},
		{name: "a release tag", ref: "refs/tags/v1.4.0", env: environment(custom), policies: branchPolicies("tag v1.4.0"),
			rule: "custom", admits: []string{"tag v1.4.0"}},
		{name: "missing", ref: "refs/heads/main",
			problems: []string{"acme/base-images has no environment clearcutt-signing (or the token cannot see it): GitHub creates it without rules when a job names it, and then every branch may sign; create it with a deployment branch rule for branch main"}},
		{name: "no rule", ref: "refs/heads/main", env: environment("null"), rule: "none",
			problems: []string{"environment clearcutt-signing has no deployment branch rule: every branch and tag may sign; allow branch main only"}},
		{name: "a pattern besides main", ref: "refs/heads/main", env: environment(custom), policies: branchPolicies("branch main", "branch release/*", "tag v*"),
			rule: "custom", admits: []string{"branch main", "branch release/*", "tag v*"},
			problems: []string{"environment clearcutt-signing also admits branch release/*", "environment clearcutt-signing also admits tag v*"}},
		{name: "a wildcard instead of main", ref: "refs/heads/main", env: environment(custom), policies: branchPolicies("branch *"),
			rule: "custom", admits: []string{"branch *"},
			problems: []string{"environment clearcutt-signing also admits branch *", "environment clearcutt-signing does not admit branch main, so no release can sign"}},
		{name: "a branch named like the tag", ref: "refs/tags/v1", env: environment(custom), policies: branchPolicies("branch v1"),
			rule: "custom", admits: []string{"branch v1"},
			problems: []string{"environment clearcutt-signing also admits branch v1", "environment clearcutt-signing does not admit tag v1, so no release can sign"}},
		{name: "protected branches: main alone", ref: "refs/heads/main", env: environment(protected),
			protected: `[{"name":"main","commit":{"sha":"c5b97d5ae6c19d5c5df71a34c7fbeeda2479ccbc","url":"https://api.github.com/repos/acme/base-images/commits/c5b97d5"},"protected":true}]`,
			rule:      "protected-branches", admits: []string{"branch main"}},
		{name: "protected branches: main and develop", ref: "refs/heads/main", env: environment(protected),
			protected: `[{"name":"develop","commit":{"sha":"c5b97d5ae6c19d5c5df71a34c7fbeeda2479ccbc"},"protected":true},{"name":"main","commit":{"sha":"c5b97d5ae6c19d5c5df71a34c7fbeeda2479ccbc"},"protected":true}]`,
			rule:      "protected-branches", admits: []string{"branch develop", "branch main"},
			problems: []string{"environment clearcutt-signing admits every protected branch, and so branch develop"}},
		{name: "protected branches: main unprotected", ref: "refs/heads/main", env: environment(protected), protected: `[]`,
			rule:     "protected-branches",
			problems: []string{"environment clearcutt-signing admits protected branches only, and branch main is not protected"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			envs, pols := map[string]string{}, map[string]string{}
			if tc.env != "" {
				envs["clearcutt-signing"] = tc.env
				if tc.policies != "" {
					pols["clearcutt-signing"] = tc.policies
				}
			}
			api, auth := githubAPI(t, envs, pols, tc.protected, 0)
			rep, err := CheckEnvironment(context.Background(), EnvironmentCheck{API: api, Repository: "acme/base-images", Environment: "clearcutt-signing", Ref: tc.ref, Token: "ghs_token"})
			if (err == nil) != (len(tc.problems) == 0) || (err != nil && !errors.Is(err, ErrEnvironmentRule)) {
				t.Fatalf("err = %v, want problems %q", err, tc.problems)
			}
			if rep.OK() != (err == nil) {
				t.Errorf("OK() = %v with err %v", rep.OK(), err)
			}
			if rep.Exists != (tc.env != "") || rep.Rule != tc.rule {
				t.Errorf("exists %v rule %q, want %v %q", rep.Exists, rep.Rule, tc.env != "", tc.rule)
			}
			if d := cmp.Diff(tc.admits, rep.Admits); d != "" {
				t.Errorf("admits (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.problems, rep.Problems); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
			for _, a := range *auth {
				if a != "Bearer ghs_token" {
					t.Errorf("Authorization %q", a)
				}
			}
		})
	}
}

func TestCheckEnvironmentRefused(t *testing.T) {
	api, _ := githubAPI(t, nil, nil, "", http.StatusForbidden)
	_, err := CheckEnvironment(context.Background(), EnvironmentCheck{API: api, Repository: "acme/base-images", Environment: "clearcutt-signing", Ref: "refs/heads/main"})
	if !errors.Is(err, ErrEnvironmentAccess) || !strings.Contains(err.Error(), "actions: read") || !strings.Contains(err.Error(), "Resource not accessible by integration") {
		t.Fatalf("err = %v", err)
	}
	for _, o := range []EnvironmentCheck{
		{API: api, Repository: "acme", Environment: "e", Ref: "refs/heads/main"},
		{API: api, Repository: "acme/x", Environment: "", Ref: "refs/heads/main"},
		{API: api, Repository: "acme/x", Environment: "e", Ref: "main"},
	} {
		if _, err := CheckEnvironment(context.Background(), o); !errors.Is(err, ErrEnvironmentOptions) {
			t.Errorf("%+v: err = %v, want ErrEnvironmentOptions", o, err)
		}
	}
}
