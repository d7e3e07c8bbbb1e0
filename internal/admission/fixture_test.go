package admission_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/admission"
	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
)

// evidence says which evidence a fixture image gets, per subject.
type evidence struct {
	sbom  bool
	tests string // test-result result ("" for none)
	// failedArch: the platform image of this architecture gets a FAILED
	// test result instead.
	failedArch string
	// scan is the gate verdict of the vulnerability statement about every
	// subject ("" for none).
	scan  verdict
	onIdx bool // also attach SBOM, tests and the scan to the index digest
	// rescans are vulnerability statements attached afterwards, each in a
	// run of its own, as the nightly rescan attaches them.
	rescans []rescan
	signer  *attest.KeySigner
	// none: push the image without any bundle.
	none bool
}

// verdict is what a fixture vulnerability statement's gate object says.
type verdict string

const (
	gatePass  verdict = "pass"
	gateFail  verdict = "fail"
	gateStale verdict = "stale"   // passed, with a stale database accepted
	gateNone  verdict = "no-gate" // a statement without the gate object
	gateText  verdict = "text"    // gate.pass is the string "true"
)

// rescan is a later vulnerability statement, signed by signer.
type rescan struct {
	verdict verdict
	signer  *attest.KeySigner
}

// vulnsPredicate is a vulns/v0.2 predicate with no findings and the gate
// object v says.
func vulnsPredicate(v verdict) map[string]any {
	p := map[string]any{
		"scanner": map[string]any{"uri": "pkg:golang/github.com/anchore/grype", "version": "0.121.2", "result": []any{},
			"db": map[string]any{"lastUpdate": "2026-01-01T00:00:00Z"}},
		"metadata": map[string]any{"scanStartedOn": "2026-01-01T00:00:00Z", "scanFinishedOn": "2026-01-01T00:00:00Z"},
	}
	gate := map[string]any{"pass": true, "policy": "fail on high or above",
		"counts": map[string]any{"active": 0, "suppressed": 0, "excepted": 0, "blocking": 0, "expiredExceptions": 0, "bySeverity": map[string]any{}}}
	switch v {
	case gateFail:
		gate["pass"] = false
		gate["reasons"] = []string{"CVE-2026-0001 in openssl 3.0.0: high"}
	case gateStale:
		gate["staleDBAccepted"] = true
	case gateText:
		gate["pass"] = "true"
	}
	if v != gateNone {
		p["gate"] = gate
	}
	return p
}

// fixture is a registry holding images of a fleet rooted at repo.
type fixture struct {
	t    *testing.T
	repo string // host/fleet
	dir  string
}

// pushIndex pushes a two-platform index of runtime in tier, labelled the
// way ClearCutt's assemble labels images, under each tag and returns its
// digest reference.
func (fx fixture) pushIndex(runtime, tier string, tags ...string) (name.Digest, v1.ImageIndex) {
	t := fx.t
	t.Helper()
	idx := ocitest.Index(t, map[string]string{"dev.clearcutt.runtime": runtime, admission.LabelTier: tier}, "amd64", "arm64")
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(fx.repo + "/" + runtime)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		if err := remote.WriteIndex(repo.Tag(tag), idx); err != nil {
			t.Fatal(err)
		}
	}
	return repo.Digest(d.String()), idx
}

// sign attaches evidence to the index the way `clearcutt attest` does:
// attest.Run with a key signer and per-platform evidence files. attest.Run
// derives the index SBOM and test result from the platforms' evidence;
// with ev.onIdx, evidence written for the index digest itself takes their
// place.
func (fx fixture) sign(ref name.Digest, idx v1.ImageIndex, ev evidence) {
	t := fx.t
	t.Helper()
	if ev.none {
		return
	}
	dir := filepath.Join(fx.dir, "evidence", ref.DigestStr())
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := v1.NewHash(ref.DigestStr())
	subjects := []v1.Hash{}
	failed := map[v1.Hash]bool{}
	for _, m := range im.Manifests {
		subjects = append(subjects, m.Digest)
		failed[m.Digest] = ev.failedArch != "" && m.Platform != nil && m.Platform.Architecture == ev.failedArch
	}
	if ev.onIdx {
		subjects = append(subjects, d)
	}
	for _, s := range subjects {
		if ev.sbom {
			writeJSON(t, attest.EvidencePath(dir, s, attest.FileSBOM), map[string]any{
				"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": ref.String(),
				"dataLicense": "CC0-1.0", "documentNamespace": "https://clearcutt.dev/spdx/image/" + s.Hex,
				"creationInfo": map[string]any{"created": "2026-01-01T00:00:00Z", "creators": []string{"Tool: clearcutt"}},
				"packages":     []any{},
			})
		}
		if ev.tests != "" {
			pred := map[string]any{
				"result": ev.tests, "configuration": []any{map[string]any{"name": "tier invariants"}},
				"passedTests": []string{"nonroot", "no-shell"},
			}
			if ev.tests == "WARNED" {
				pred["warnedTests"] = []string{"smoke"}
			}
			if failed[s] {
				pred = map[string]any{
					"result": "FAILED", "configuration": []any{map[string]any{"name": "tier invariants"}},
					"passedTests": []string{"nonroot"}, "failedTests": []string{"no-shell"},
				}
			}
			writeStatement(t, attest.EvidencePath(dir, s, attest.FileTestResult), s, admission.PredicateTestResult, pred)
		}
		if ev.scan != "" {
			writeStatement(t, attest.EvidencePath(dir, s, attest.FileVulns), s, admission.PredicateVulns, vulnsPredicate(ev.scan))
		}
		for i, r := range ev.rescans {
			rdir := filepath.Join(dir, fmt.Sprintf("rescan-%d", i))
			writeStatement(t, attest.EvidencePath(rdir, s, attest.FileVulns), s, admission.PredicateVulns, vulnsPredicate(r.verdict))
		}
	}
	r, err := oci.ParseRef(ref.String())
	if err != nil {
		t.Fatal(err)
	}
	store, err := attest.Open(r, attest.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	run := func(dir string, signer *attest.KeySigner) {
		_, err = attest.Run(context.Background(), attest.Options{
			Target:                     attest.Target{Ref: r, Index: idx, Name: ref.Context().String()},
			Store:                      store,
			Signer:                     signer,
			EvidenceDir:                dir,
			AllowMissingEvidenceUnsafe: true,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	run(dir, ev.signer)
	for i, rs := range ev.rescans {
		run(filepath.Join(dir, fmt.Sprintf("rescan-%d", i)), rs.signer)
	}
}

func writeStatement(t *testing.T, path string, d v1.Hash, predicateType string, predicate any) {
	t.Helper()
	p, err := json.Marshal(predicate)
	if err != nil {
		t.Fatal(err)
	}
	st, err := attest.WrapPredicate("", d, predicateType, p)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, st)
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, data)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// loadFleet reads the repository's clearcutt.yaml with its registry moved
// to repo.
func loadFleet(t *testing.T, repo string) *fleet.File {
	t.Helper()
	f, err := fleet.Load(filepath.Join("..", "..", "clearcutt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if repo != "" {
		f.Registry.Repository = repo
	}
	return f
}

// newKey creates a ClearCutt signing key pair in dir.
func newKey(t *testing.T, dir, name string) *attest.KeySigner {
	t.Helper()
	k, err := attest.LoadOrCreateKey(filepath.Join(dir, name+".key"), true)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(fmt.Errorf("read %s: %w", path, err))
	}
	return data
}
