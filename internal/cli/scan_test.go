package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/stage"
)

// scanFixture writes a two-platform overlay index labelled python:distroless
// and, for each platform, the hand-written SBOM of internal/scan/testdata.
func scanFixture(t *testing.T) (ref string, digests []v1.Hash, evidence string) {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.Config(img, v1.Config{Labels: map[string]string{
			oci.LabelRuntime: "python", oci.LabelTier: "distroless",
			oci.LabelBaseDigest: "sha256:" + strings.Repeat("0", 64),
		}})
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: mutate.MediaType(img, types.OCIManifestSchema1),
			Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	dir := t.TempDir()
	if _, err := oci.WriteLayout(context.Background(), dir, idx, "python-debian:distroless"); err != nil {
		t.Fatal(err)
	}
	h, _ := idx.Digest()
	sbom, err := os.ReadFile("../scan/testdata/python-overlay.spdx.json")
	if err != nil {
		t.Fatal(err)
	}
	evidence = t.TempDir()
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		digests = append(digests, m.Digest)
		if _, err := stage.WriteEvidence(evidence, m.Digest, "sbom.spdx.json", sbom); err != nil {
			t.Fatal(err)
		}
	}
	return "oci:" + dir + "@" + h.String(), digests, evidence
}

func buildTestDB(t *testing.T, builtAt string) string {
	t.Helper()
	db := t.TempDir()
	code, out, errs := run(t, "vulndb", "build", "--advisories", "../../testdata/vulndb/advisories.yaml", "--out", db, "--built-at", builtAt)
	if code != 0 || !strings.Contains(out, "7 advisories") {
		t.Fatalf("vulndb build: %d %s %s", code, out, errs)
	}
	return db
}

func TestScanCommand(t *testing.T) {
	ref, digests, evidence := scanFixture(t)
	db := buildTestDB(t, time.Now().UTC().Add(-time.Hour).Format(time.RFC3339))

	code, out, errs := run(t, "-f", "../../clearcutt.yaml", "scan", ref, "--db", db, "--evidence", evidence)
	if code != 0 {
		t.Fatalf("scan: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		"suppressed (inline_mitigations_already_exist)",
		"excepted (platform-security@clearcutt.dev, expires 2027-06-30)",
		"libexpat1  2.5.0-1  (not-fixed)  base",
		"gate PASS (fail on high or above)",
	} {
		// A status wider than its column is wrapped: look for it with the
		// lines joined as well.
		if !strings.Contains(out, want) && !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, d := range digests {
		dir := filepath.Join(evidence, "sha256-"+d.Hex)
		for file, pt := range map[string]string{"vulns.json": "https://in-toto.io/attestation/vulns/v0.2", "vex.json": "https://openvex.dev/ns/v0.2.0"} {
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			var st struct {
				PredicateType string `json:"predicateType"`
				Subject       []struct {
					Digest map[string]string `json:"digest"`
				} `json:"subject"`
			}
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			if st.PredicateType != pt || len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != d.Hex {
				t.Fatalf("%s: %s", file, b)
			}
		}
	}

	// A stricter policy fails the gate: exit 1, with the reasons printed.
	code, out, _ = run(t, "-f", "../../clearcutt.yaml", "scan", ref, "--db", db, "--evidence", evidence, "--fail-on", "medium", "--only-fixable")
	if code != ExitFailed || !strings.Contains(out, "CVE-2023-40217 in python3 3.11.2: severity medium >= medium (fix available)") {
		t.Fatalf("fail-on medium: exit %d\n%s", code, out)
	}

	// JSON output carries the findings and the decision.
	code, out, errs = run(t, "-f", "../../clearcutt.yaml", "scan", ref, "--db", db, "--evidence", evidence, "--json")
	if code != 0 {
		t.Fatalf("--json: exit %d %s", code, errs)
	}
	var rep stage.ScanReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || len(rep.Platforms) != 2 || len(rep.VEX) != 1 || !strings.HasSuffix(rep.Exceptions, "exceptions.yaml") ||
		rep.Platforms[0].Decision.Counts.Suppressed != 1 || rep.Platforms[0].Decision.Counts.Excepted != 1 {
		t.Fatalf("report = %s", out)
	}
}

func TestScanCommandFailures(t *testing.T) {
	ref, _, evidence := scanFixture(t)
	fresh := buildTestDB(t, time.Now().UTC().Add(-time.Hour).Format(time.RFC3339))

	// No SBOM for the image: a usage error pointing at clearcutt sbom.
	code, _, errs := run(t, "-f", "../../clearcutt.yaml", "scan", ref, "--db", fresh, "--evidence", t.TempDir())
	if code != ExitUsage || !strings.Contains(errs, "run 'clearcutt sbom' first") {
		t.Fatalf("missing SBOM: exit %d %s", code, errs)
	}
	// A stale database is refused unless accepted unsafely.
	stale := buildTestDB(t, time.Now().UTC().Add(-30*24*time.Hour).Format(time.RFC3339))
	code, _, errs = run(t, "-f", "../../clearcutt.yaml", "scan", ref, "--db", stale, "--evidence", evidence)
	if code == 0 || !strings.Contains(errs, "vulnerability database is stale") {
		t.Fatalf("stale DB: exit %d %s", code, errs)
	}
	code, out, errs := run(t, "-f", "../../clearcutt.yaml", "scan", ref, "--db", stale, "--evidence", evidence, "--allow-stale-db-unsafe")
	if code != 0 || !strings.Contains(out, "STALE, accepted unsafely") {
		t.Fatalf("stale DB accepted: exit %d %s %s", code, out, errs)
	}
	// An explicit VEX directory must exist; a bad severity is a usage error.
	code, _, _ = run(t, "-f", "../../clearcutt.yaml", "scan", ref, "--db", fresh, "--evidence", evidence, "--vex-dir", filepath.Join(t.TempDir(), "none"))
	if code != ExitUsage {
		t.Fatalf("missing --vex-dir: exit %d", code)
	}
	code, _, _ = run(t, "-f", "../../clearcutt.yaml", "scan", ref, "--db", fresh, "--evidence", evidence, "--fail-on", "severe")
	if code != ExitUsage {
		t.Fatalf("--fail-on severe: exit %d", code)
	}
	// An expired exception fails the gate.
	exc := filepath.Join(t.TempDir(), "exceptions.yaml")
	writeFile(t, exc, "apiVersion: clearcutt.dev/v1alpha1\nkind: VulnerabilityExceptions\nexceptions:\n  - {id: CVE-2023-45853, package: zlib, owner: sec, reason: r, expires: 2020-01-01}\n")
	code, out, _ = run(t, "-f", "../../clearcutt.yaml", "scan", ref, "--db", fresh, "--evidence", evidence, "--exceptions", exc)
	if code != ExitFailed || !strings.Contains(out, "EXPIRED EXCEPTION CVE-2023-45853") || !strings.Contains(out, "expired on 2020-01-01") {
		t.Fatalf("expired exception: exit %d\n%s", code, out)
	}
}
