package cli

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

// TestCatalogFailedUsage: a failed-releases file is refused, naming the
// file and the key, before anything is read from a registry.
func TestCatalogFailedUsage(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "images.json")
	writeFile(t, images, `{"python:distroless": "ghcr.io/clearcutt/fleet/python@sha256:`+strings.Repeat("a", 64)+`"}`)
	failed := filepath.Join(dir, "failed.json")
	for _, tc := range []struct {
		name    string
		content string // written to failed.json ("": the file is not written)
		args    []string
		want    []string
	}{
		{"without --images", `{}`, []string{"--failed", failed, "--from", "oci:" + dir}, []string{"--failed needs --images"}},
		{"alone", `{}`, []string{"--failed", failed}, []string{"--failed needs --images"}},
		{"no file", "", []string{"--images", images, "--failed", filepath.Join(dir, "none.json")}, []string{"--failed", "none.json"}},
		{"not an object", `["python:slim"]`, []string{"--images", images, "--failed", failed}, []string{"--failed " + failed, "want a JSON object"}},
		{"null", `null`, []string{"--images", images, "--failed", failed}, []string{"--failed " + failed, "want a JSON object"}},
		{"not a reason", `{"python:slim": 1}`, []string{"--images", images, "--failed", failed}, []string{"--failed " + failed}},
		{"trailing data", `{} {}`, []string{"--images", images, "--failed", failed}, []string{"--failed " + failed, "data after the JSON object"}},
		{"bad name", `{"python": "gate"}`, []string{"--images", images, "--failed", failed}, []string{"--failed " + failed, `key "python" is not <runtime>:<tier>`}},
		{"not in the fleet", `{"ruby:distroless": "gate"}`, []string{"--images", images, "--failed", failed}, []string{"--failed " + failed, "key ruby:distroless is not an image of the fleet"}},
		{"also released", `{"python:distroless": "gate", "python:slim": "gate"}`, []string{"--images", images, "--failed", failed},
			[]string{"--failed " + failed, "key python:distroless is also in --images " + images}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(failed)
			if tc.content != "" {
				writeFile(t, failed, tc.content)
			}
			out := t.TempDir()
			code, _, errs := run(t, append([]string{"-f", "../../clearcutt.yaml", "catalog", "--out", out}, tc.args...)...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d: %s", code, ExitUsage, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q: %s", w, errs)
				}
			}
			if _, err := os.Stat(filepath.Join(out, catalog.FileName)); !os.IsNotExist(err) {
				t.Errorf("a refused run wrote a catalog: %v", err)
			}
		})
	}
}

// pushIndex pushes a two-platform index labelled runtime:tier to repo, by
// digest, and tags it with tags.
func pushIndex(t *testing.T, repo name.Repository, runtime, tier string, tags ...string) v1.Hash {
	t.Helper()
	idx := ocitest.Index(t, map[string]string{oci.LabelRuntime: runtime, oci.LabelTier: tier}, "amd64", "arm64")
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(repo.Digest(d.String()), idx); err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		if err := remote.WriteIndex(repo.Tag(tag), idx); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// TestCatalogRecordsFailedReleases: python:distroless is released (the
// images file); the release of static:distroless failed. First no tag of
// static exists: it is recorded with no release served. Then its tag names
// an earlier release: that one is catalogued, with the failure beside it.
// Both runs write the catalog and exit 1; the text, the summary and the
// site say which release failed and why, and a rescan keeps the record.
func TestCatalogRecordsFailedReleases(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	fleetFile := fleetFileFor(t, testenv.RepoRoot(t), dir, host+"/fleet")
	signer, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "k.pub")
	writeFile(t, pub, string(signer.PublicKeyPEM()))
	pyRepo, err := name.NewRepository(host + "/fleet/python")
	if err != nil {
		t.Fatal(err)
	}
	staticRepo, err := name.NewRepository(host + "/fleet/static")
	if err != nil {
		t.Fatal(err)
	}
	py := pushIndex(t, pyRepo, "python", "distroless")
	images, failed := filepath.Join(dir, "images.json"), filepath.Join(dir, "failed.json")
	writeFile(t, images, `{"python:distroless": "`+pyRepo.Digest(py.String()).String()+`"}`)
	const reason = "gate: 1 critical finding on linux/arm64 (CVE-2024-5535)"
	js, _ := json.Marshal(map[string]string{"static:distroless": reason})
	writeFile(t, failed, string(js))
	out, siteDir := filepath.Join(dir, "catalog"), filepath.Join(dir, "site")
	args := []string{"-f", fleetFile, "--images", images, "--failed", failed, "--key", pub}

	// Never released.
	c := catalogRun(t, ExitFailed, out, args...)
	if len(c.Images) != 2 {
		t.Fatalf("images %+v", c.Images)
	}
	if im := imageNamed(t, c, "python:distroless"); im.Release != nil || im.IndexDigest != py.String() {
		t.Errorf("python:distroless, released: %+v", im)
	}
	st := imageNamed(t, c, "static:distroless")
	if !st.ReleaseFailed() || st.Release.Reason != reason || st.Release.RecordedAt.IsZero() {
		t.Errorf("static release %+v", st.Release)
	}
	if st.Served() || st.IndexDigest != "" || st.Status != catalog.StatusMissing || st.Runtime != "static" || st.Tier != "distroless" || st.Version != "1" ||
		len(st.Tags) != 0 || len(st.Channels) != 0 || len(st.Platforms) != 0 {
		t.Errorf("static, never released: %+v", st)
	}
	code, text, errs := run(t, append(args, "catalog", "--out", out, "--site", siteDir)...)
	if code != ExitFailed || !strings.Contains(errs, "the release of 1 failed") || !strings.Contains(errs, "no release of it is served") {
		t.Errorf("catalog (table): exit %d: %s", code, errs)
	}
	for _, w := range []string{"MISSING, RELEASE FAILED", "release failed: static:distroless: " + reason + " (no release of it is served)", "1 release(s) failed"} {
		// A line wider than the table is wrapped: read it with the lines joined.
		if !strings.Contains(strings.Join(strings.Fields(text), " "), strings.Join(strings.Fields(w), " ")) {
			t.Errorf("the table lacks %q:\n%s", w, text)
		}
	}
	page, err := os.ReadFile(filepath.Join(siteDir, "images", "static-distroless.html"))
	if err != nil || !strings.Contains(string(page), reason) || !strings.Contains(string(page), "release failed") {
		t.Errorf("the site's page of static:distroless does not show the failed release: %v", err)
	}

	// A rescan rewriting the catalog keeps the failed release and the
	// record of the image with no release served.
	f, err := fleet.Load(fleetFile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := newVerifier(context.Background(), f, verifyFlags{key: pub})
	if err != nil {
		t.Fatal(err)
	}
	before, err := catalog.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := pipeline.RefreshCatalog(context.Background(), pipeline.CatalogOptions{Fleet: f, Out: out, Verifier: v, KeyPath: pub}, before); err != nil {
		t.Fatal(err)
	}
	after, err := catalog.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	was := imageNamed(t, *before, "static:distroless")
	got := imageNamed(t, *after, "static:distroless")
	if diff := cmp.Diff(was, got); diff != "" {
		t.Errorf("a rescan changed static:distroless (-was +after):\n%s", diff)
	}
	if !got.ReleaseFailed() {
		t.Errorf("after a rescan static:distroless is not a failed release: %+v", got.Release)
	}

	// An earlier release still served under one of its tags.
	earlier := pushIndex(t, staticRepo, "static", "distroless", "distroless")
	c = catalogRun(t, ExitFailed, out, args...)
	st = imageNamed(t, c, "static:distroless")
	if !st.ReleaseFailed() || st.Release.Reason != reason || st.Reference != staticRepo.Digest(earlier.String()).String() ||
		strings.Join(st.Tags, ",") != "distroless" || len(st.Platforms) != 2 || len(st.Channels) != 6 {
		t.Errorf("static, served from an earlier release: %+v", st)
	}
	j := newGHAJob(t)
	if code, _, errs := runIn(t, j, append(args, "catalog", "--out", out)...); code != ExitFailed {
		t.Fatalf("catalog in a job: exit %d: %s", code, errs)
	}
	if outs := j.outputs(t); outs["passed"] != "false" || outs["images"] != "2" {
		t.Errorf("outputs %v", outs)
	}
	sum := j.summaryText(t)
	for _, w := range []string{"❌ release failed", "Failed releases: 1", "static:distroless: " + reason + " (its tags still name the earlier release " + earlier.String() + ")"} {
		if !strings.Contains(sum, w) {
			t.Errorf("summary lacks %q:\n%s", w, sum)
		}
	}
}
