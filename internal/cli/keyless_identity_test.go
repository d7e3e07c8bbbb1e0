package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/sigtest"
)

// keylessJob is a GitHub Actions job's OIDC token endpoint, serving the
// token set last, and a Fulcio that counts the certificate requests it
// refuses.
type keylessJob struct {
	mu     sync.Mutex
	token  string
	fulcio atomic.Int32
	// fulcioURL is passed as --fulcio-url and --rekor-url.
	fulcioURL string
}

func newKeylessJob(t *testing.T) *keylessJob {
	t.Helper()
	j := &keylessJob{}
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer job-token" || r.URL.Query().Get("audience") != "sigstore" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"value": j.token})
	}))
	fulcio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j.fulcio.Add(1)
		http.Error(w, "no certificates here", http.StatusUnauthorized)
	}))
	t.Cleanup(tokens.Close)
	t.Cleanup(fulcio.Close)
	j.fulcioURL = fulcio.URL
	t.Setenv("GITHUB_ACTIONS", "")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", tokens.URL+"/token")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "job-token")
	return j
}

func (j *keylessJob) use(tok string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.token = tok
	j.fulcio.Store(0)
}

// TestKeylessSigningChecksTheFleetIdentity: attest and rescan check the
// job's OIDC token against the identity of the fleet file, attest against
// its publish workflow and rescan against its rescan workflow, and refuse
// another ref, workflow or a private repository without
// --private-repository before any certificate is requested.
func TestKeylessSigningChecksTheFleetIdentity(t *testing.T) {
	const fleetFile = "../../clearcutt.yaml"
	f, err := fleet.Load(fleetFile)
	if err != nil {
		t.Fatal(err)
	}
	id := f.Identity
	job := func(workflow string, edit func(*sigtest.GitHubIdentity)) string {
		g := sigtest.GitHubIdentity{Repository: id.Repository, WorkflowRepository: id.WorkflowRepository,
			Workflow: workflow, WorkflowRef: id.WorkflowRef, Ref: id.Ref}
		if edit != nil {
			edit(&g)
		}
		return g.IDToken()
	}
	publish := job(id.Workflow, nil)
	rescan := job(id.RescanWorkflow, nil)
	otherRef := func(w string) string {
		return job(w, func(g *sigtest.GitHubIdentity) { g.Ref = "refs/heads/feature" })
	}
	private := func(w string) string {
		return job(w, func(g *sigtest.GitHubIdentity) { g.Visibility = "private" })
	}
	publishRef := id.WorkflowRepository + "/" + id.Workflow + "@" + id.WorkflowRef
	rescanRef := id.WorkflowRepository + "/" + id.RescanWorkflow + "@" + id.WorkflowRef

	kj := newKeylessJob(t)
	type want struct {
		code    int
		says    []string
		fulcio  bool // a certificate was requested
		refused bool
	}
	check := func(t *testing.T, w want, code int, out, errs string) {
		t.Helper()
		if code != w.code {
			t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, w.code, out, errs)
		}
		for _, s := range w.says {
			if !strings.Contains(errs, s) {
				t.Errorf("stderr does not say %q: %s", s, errs)
			}
		}
		if got := kj.fulcio.Load() > 0; got != w.fulcio {
			t.Errorf("certificate requested: %v, want %v", got, w.fulcio)
		}
		if got := strings.Contains(errs, "refusing to sign"); got != w.refused {
			t.Errorf("refused: %v, want %v: %s", got, w.refused, errs)
		}
	}

	t.Run("attest", func(t *testing.T) {
		dir, idx, ev := attestFixture(t)
		d, _ := idx.Digest()
		ref := "oci:" + dir + "@" + d.String()
		for name, c := range map[string]struct {
			token string
			extra []string
			want  want
		}{
			// Accepted: signing goes on to Fulcio, which refuses here.
			"publish workflow": {publish, nil, want{code: ExitRuntime, says: []string{"Fulcio returned 401"}, fulcio: true}},
			"rescan workflow": {rescan, nil, want{code: ExitUsage, refused: true,
				says: []string{`its job_workflow_ref is "` + rescanRef + `"`, `identity.workflowRepository/identity.workflow@identity.workflowRef is "` + publishRef + `"`}}},
			"another branch": {otherRef(id.Workflow), nil, want{code: ExitUsage, refused: true,
				says: []string{`its ref is "refs/heads/feature"`, `clearcutt.yaml identity.ref is "` + id.Ref + `"`, "docs/forking.md"}}},
			"private":           {private(id.Workflow), nil, want{code: ExitUsage, refused: true, says: []string{"--private-repository", "public Rekor log"}}},
			"private, accepted": {private(id.Workflow), []string{"--private-repository"}, want{code: ExitRuntime, says: []string{"Fulcio returned 401"}, fulcio: true}},
		} {
			t.Run(name, func(t *testing.T) {
				kj.use(c.token)
				args := append([]string{"-f", fleetFile, "attest", ref, "--evidence", ev, "--keyless", "--fulcio-url", kj.fulcioURL, "--rekor-url", kj.fulcioURL}, c.extra...)
				code, out, errs := run(t, args...)
				check(t, c.want, code, out, errs)
			})
		}
		t.Run("no fleet file", func(t *testing.T) {
			kj.use(publish)
			code, out, errs := run(t, "-f", filepath.Join(t.TempDir(), "clearcutt.yaml"), "attest", ref, "--evidence", ev, "--keyless", "--fulcio-url", kj.fulcioURL)
			check(t, want{code: ExitUsage, says: []string{"identity in the fleet file"}}, code, out, errs)
		})
	})

	t.Run("rescan", func(t *testing.T) {
		dir := t.TempDir()
		dg := "sha256:" + strings.Repeat("a", 64)
		cat := catalog.Catalog{APIVersion: catalog.APIVersion, Fleet: catalog.Fleet{RequiredChannels: []string{}}, Images: []catalog.Image{{
			Name: "python:distroless", Runtime: "python", Tier: "distroless", Reference: "oci:" + filepath.Join(dir, "nowhere") + "@" + dg, IndexDigest: dg,
			Platforms: []catalog.Platform{{Platform: "linux/amd64", Digest: dg}}}}}
		js, err := json.Marshal(cat)
		if err != nil {
			t.Fatal(err)
		}
		catDir := filepath.Join(dir, "catalog")
		if err := os.MkdirAll(catDir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(catDir, catalog.FileName), string(js))
		db := buildTestDB(t, time.Now().UTC().Add(-time.Hour).Format(time.RFC3339))
		for name, c := range map[string]struct {
			token string
			extra []string
			want  want
		}{
			// Accepted: the rescan goes on, and fails on the unreadable
			// image before anything is signed.
			"rescan workflow": {rescan, nil, want{code: ExitFailed, says: []string{"nowhere"}}},
			"publish workflow": {publish, nil, want{code: ExitUsage, refused: true,
				says: []string{`its job_workflow_ref is "` + publishRef + `"`, `identity.workflowRepository/identity.rescanWorkflow@identity.workflowRef is "` + rescanRef + `"`}}},
			"another branch":    {otherRef(id.RescanWorkflow), nil, want{code: ExitUsage, refused: true, says: []string{`its ref is "refs/heads/feature"`, "docs/forking.md"}}},
			"private":           {private(id.RescanWorkflow), nil, want{code: ExitUsage, refused: true, says: []string{"--private-repository"}}},
			"private, accepted": {private(id.RescanWorkflow), []string{"--private-repository"}, want{code: ExitFailed, says: []string{"nowhere"}}},
		} {
			t.Run(name, func(t *testing.T) {
				kj.use(c.token)
				args := append([]string{"-f", fleetFile, "rescan", "--catalog", catDir, "--db", db, "--keyless", "--fulcio-url", kj.fulcioURL, "--rekor-url", kj.fulcioURL}, c.extra...)
				code, out, errs := run(t, args...)
				check(t, c.want, code, out, errs)
			})
		}
	})

	t.Run("flag", func(t *testing.T) {
		for _, cmd := range [][]string{{"attest"}, {"rescan"}, {"pipeline"}, {"app", "rebase"}} {
			code, out, errs := run(t, append(cmd, "--help")...)
			if code != ExitOK || !strings.Contains(out, "--private-repository") {
				t.Errorf("%s --help: exit %d, no --private-repository\n%s%s", strings.Join(cmd, " "), code, out, errs)
			}
		}
	})
}
