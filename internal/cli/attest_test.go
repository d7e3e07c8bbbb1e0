package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/stage"
)

// attestFixture writes a two-platform index to a layout and its evidence.
func attestFixture(t *testing.T) (layoutDir string, idx v1.ImageIndex, evidence string) {
	t.Helper()
	idx = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(128, 1)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: mutate.MediaType(img, types.OCIManifestSchema1),
			Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	layoutDir = t.TempDir()
	if _, err := oci.WriteLayout(context.Background(), layoutDir, idx, "python:distroless"); err != nil {
		t.Fatal(err)
	}
	evidence = t.TempDir()
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		st := func(pt string) []byte {
			pred := `{"result":"PASSED"}`
			if pt == attest.PredicateVulns {
				pred = `{"scanner":{"uri":"pkg:golang/github.com/anchore/grype@v0.121.2","db":{"lastUpdate":"2026-01-01T00:00:00Z"},"result":[]},` +
					`"metadata":{"scanStartedOn":"2026-01-01T01:00:00Z","scanFinishedOn":"2026-01-01T01:00:00Z"},"gate":{"pass":true,"policy":"fail on high or above"}}`
			}
			return []byte(fmt.Sprintf(`{"_type":%q,"predicate":%s,"predicateType":%q,"subject":[{"digest":{"sha256":%q}}]}`, attest.StatementType, pred, pt, m.Digest.Hex))
		}
		for name, data := range map[string][]byte{
			attest.FileSBOM: []byte(fmt.Sprintf(`{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"python@%s",`+
				`"documentNamespace":"https://clearcutt.dev/spdx/image/python/%s","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: clearcutt"]}}`,
				m.Digest, m.Digest.Hex)),
			attest.FileTestResult: st(attest.PredicateTestResult),
			attest.FileVulns:      st(attest.PredicateVulns),
		} {
			if _, err := stage.WriteEvidence(evidence, m.Digest, name, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	return layoutDir, idx, evidence
}

func TestAttestLayoutWithDefaultKey(t *testing.T) {
	t.Setenv("GITHUB_ACTIONS", "")
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	dir, idx, ev := attestFixture(t)
	d, _ := idx.Digest()
	ref := "oci:" + dir + "@" + d.String()
	code, out, errs := run(t, "attest", ref, "--evidence", ev)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	keyPath := filepath.Join(cfg, "clearcutt", "signing.key")
	if !strings.Contains(errs, "created signing key "+keyPath) || !strings.Contains(errs, keyPath+".pub") {
		t.Errorf("no key notice: %q", errs)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key %v %v", fi, err)
	}
	// index (signature, derived SBOM, tests and vulns) + 2 × (signature,
	// SBOM, tests, vulns)
	if n := strings.Count(out, "none (key)"); n != 12 || !strings.Contains(out, "SUBJECT") || !strings.Contains(out, d.String()+" (index)") {
		t.Fatalf("table (%d key rows):\n%s", n, out)
	}
	for _, pt := range []string{attest.PredicateSPDX, attest.PredicateTestResult, attest.PredicateVulns} {
		if !regexp.MustCompile(regexp.QuoteMeta(d.String()+" (index, derived)\n") + `(?: .*\n)*? +` + regexp.QuoteMeta(pt) + ` `).MatchString(out) {
			t.Errorf("no derived index %s row:\n%s", pt, out)
		}
	}
	// Second run: the key is reused, no notice; JSON output.
	code, out, errs = run(t, "attest", ref, "--evidence", ev, "--json")
	if code != ExitOK || strings.Contains(errs, "created signing key") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res attest.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Attached) != 12 || res.Mode != attest.ModeKey || !res.Attached[1].Derived {
		t.Fatalf("json %v: %s", err, out)
	}
	store, err := attest.Open(oci.Ref{Layout: dir}, attest.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Two signatures (ECDSA is randomised); the derived statements are the
	// same bytes on both runs, and the second run's bundles are new
	// signatures of them.
	got, err := store.List(context.Background(), d)
	if err != nil || len(got) != 8 {
		t.Fatalf("index bundles after two runs: %d, %v", len(got), err)
	}
}

func TestAttestFailures(t *testing.T) {
	t.Setenv("GITHUB_ACTIONS", "")
	dir, idx, ev := attestFixture(t)
	d, _ := idx.Digest()
	ref := "oci:" + dir + "@" + d.String()
	key := filepath.Join(t.TempDir(), "k", "signing.key")
	if _, err := attest.LoadOrCreateKey(key, true); err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	sbom := attest.EvidencePath(ev, im.Manifests[1].Digest, attest.FileSBOM)
	if err := os.Remove(sbom); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "attest", ref, "--evidence", ev, "--key", key); code != ExitFailed || !strings.Contains(errs, sbom) {
		t.Errorf("missing SBOM: exit %d, %s", code, errs)
	}
	// index (signature, derived tests and vulns; no SBOM without the arm64
	// one) + 2 × (signature, tests, vulns) + the amd64 SBOM
	if code, out, errs := run(t, "attest", ref, "--evidence", ev, "--key", key, "--allow-missing-evidence-unsafe"); code != ExitOK || !strings.Contains(errs, "warning") || strings.Count(out, "none (key)") != 10 {
		t.Errorf("allowed missing SBOM: exit %d, %s\n%s", code, errs, out)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "attest", ref, "--evidence", ev, "--key", key); code != ExitUsage || !strings.Contains(errs, key) || !strings.Contains(errs, "0644") {
		t.Errorf("0644 key: exit %d, %s", code, errs)
	}
	if code, _, errs := run(t, "attest", ref, "--key", filepath.Join(t.TempDir(), "none")); code != ExitUsage || !strings.Contains(errs, "not found") {
		t.Errorf("absent --key: exit %d, %s", code, errs)
	}
	if code, _, _ := run(t, "attest", "oci:"+dir); code != ExitUsage {
		t.Errorf("tag-less reference: exit %d", code)
	}
	if code, _, errs := run(t, "attest", ref, "--keyless", "--key", key); code != ExitUsage {
		t.Errorf("--key with --keyless: exit %d %s", code, errs)
	}
}
