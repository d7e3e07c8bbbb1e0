package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anchore/syft/syft/format"
	"github.com/anchore/syft/syft/pkg"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/stage"
)

// TestSBOMOnPipelineImage builds python:distroless with the real pipeline,
// writes its SBOMs and reads them back with Syft's decoder (what grype
// uses): the runtime's store paths are pkg:nix packages with upstream
// CPEs, every closure path is a package, and a second run gives the same
// bytes.
func TestSBOMOnPipelineImage(t *testing.T) {
	repo := needPipelineTools(t)
	fleetFile := filepath.Join(repo, "clearcutt.yaml")
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	rep := pipelineJSON(t, ExitOK, "-f", fleetFile, "pipeline", "--nixpkgs", filepath.Join(repo, "nix/fixtures"), "--db", testDB(t, repo),
		"--no-attest-unsafe", "--work", work, "--cache", filepath.Join(dir, "cache"), "--to", "oci:"+filepath.Join(dir, "published"),
		"--only", "python:distroless", "--no-smoke")
	if len(rep.Images) != 1 {
		t.Fatalf("pipeline built %d images", len(rep.Images))
	}
	ref := rep.Images[0].Reference
	closures := filepath.Join(work, "closures")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")

	sbomJSON := func(evidence string) stage.SBOMReport {
		t.Helper()
		code, out, errs := run(t, "-f", fleetFile, "sbom", ref, "--closures", closures, "--evidence", evidence, "--json")
		if code != ExitOK {
			t.Fatalf("sbom exit %d: %s", code, tail(errs, 3000))
		}
		var r stage.SBOMReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("sbom --json: %v\n%s", err, tail(out, 2000))
		}
		return r
	}
	ev1, ev2 := filepath.Join(dir, "ev1"), filepath.Join(dir, "ev2")
	first, second := sbomJSON(ev1), sbomJSON(ev2)
	if len(first.Platforms) != 2 {
		t.Fatalf("%d platforms, want amd64 and arm64", len(first.Platforms))
	}
	for i, p := range first.Platforms {
		want := filepath.Join(ev1, "sha256-"+strings.TrimPrefix(p.Digest, "sha256:"), stage.SBOMFile)
		if p.File != want {
			t.Errorf("%s: file %s, want %s", p.Platform, p.File, want)
		}
		doc, err := os.ReadFile(p.File)
		if err != nil {
			t.Fatal(err)
		}
		again, err := os.ReadFile(second.Platforms[i].File)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(doc, again) {
			t.Errorf("%s: two runs gave different SBOMs", p.Platform)
		}
		if !strings.HasPrefix(p.Closure, filepath.Join(closures, "python-distroless-")) {
			t.Errorf("%s: closure manifest %q", p.Platform, p.Closure)
		}
		m, err := closure.ReadManifest(p.Closure)
		if err != nil {
			t.Fatal(err)
		}
		if p.NixPackages != len(m.Paths) {
			t.Errorf("%s: %d nix packages, the closure has %d paths", p.Platform, p.NixPackages, len(m.Paths))
		}

		s, _, _, err := format.Decode(bytes.NewReader(doc))
		if err != nil {
			t.Fatalf("%s: syft cannot decode the SBOM: %v", p.Platform, err)
		}
		if s.Source.Name != "ghcr.io/clearcutt/fleet/python" || s.Source.Version != p.Digest {
			t.Errorf("%s: source %q version %q, want the image and its digest", p.Platform, s.Source.Name, s.Source.Version)
		}
		nix := map[string]pkg.Package{}
		for q := range s.Artifacts.Packages.Enumerate() {
			// Syft's binary classifier finds python in python3's store
			// path: the same package, merged, not listed twice.
			if strings.HasPrefix(q.PURL, "pkg:generic/python@") {
				t.Errorf("%s: %s listed besides the nix python3 package", p.Platform, q.PURL)
			}
			if q.Type == pkg.NixPkg {
				if _, dup := nix[q.Name]; dup {
					t.Errorf("%s: nix package %s twice", p.Platform, q.Name)
				}
				nix[q.Name] = q
			}
		}
		for name, vendor := range map[string]string{"python3": "python:python", "glibc": "gnu:glibc", "openssl": "openssl:openssl"} {
			q, ok := nix[name]
			if !ok {
				t.Errorf("%s: no nix package %s", p.Platform, name)
				continue
			}
			if !strings.HasPrefix(q.PURL, "pkg:nix/"+name+"@"+q.Version+"?") {
				t.Errorf("%s: %s purl %q", p.Platform, name, q.PURL)
			}
			if len(q.CPEs) == 0 || q.CPEs[0].Attributes.Vendor+":"+q.CPEs[0].Attributes.Product != vendor {
				t.Errorf("%s: %s CPEs %v, want %s", p.Platform, name, q.CPEs, vendor)
			}
		}
	}

	// A missing closure manifest is an error naming the file; nothing is written.
	empty, ev3 := t.TempDir(), filepath.Join(dir, "ev3")
	code, _, errs := run(t, "-f", fleetFile, "sbom", ref, "--closures", empty, "--evidence", ev3)
	if code != ExitUsage || !strings.Contains(errs, filepath.Join(empty, "python-distroless-")) {
		t.Errorf("missing manifest: exit %d, stderr %s", code, tail(errs, 500))
	}
	if _, err := os.Stat(ev3); !os.IsNotExist(err) {
		t.Errorf("evidence written despite the error: %v", err)
	}

	// --no-closure: Syft alone, and the table names each file.
	code, out, errs := run(t, "-f", fleetFile, "sbom", ref, "--no-closure", "--evidence", ev3)
	if code != ExitOK {
		t.Fatalf("--no-closure: exit %d: %s", code, tail(errs, 2000))
	}
	for _, p := range first.Platforms {
		if !strings.Contains(out, p.Platform) || !strings.Contains(out, filepath.Join(ev3, "sha256-"+strings.TrimPrefix(p.Digest, "sha256:"), stage.SBOMFile)) {
			t.Errorf("table lacks %s:\n%s", p.Platform, out)
		}
	}
}
