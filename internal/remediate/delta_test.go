package remediate

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/sbom/spdxdiff"
)

type spdxPkg struct {
	name, version, purl, purpose string
}

func spdxJSON(t *testing.T, pkgs ...spdxPkg) []byte {
	t.Helper()
	var ps []map[string]any
	for _, p := range pkgs {
		m := map[string]any{"SPDXID": "SPDXRef-" + p.name, "name": p.name, "versionInfo": p.version}
		if p.purpose != "" {
			m["primaryPackagePurpose"] = p.purpose
		}
		if p.purl != "" {
			m["externalRefs"] = []map[string]string{{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": p.purl}}
		}
		ps = append(ps, m)
	}
	b, err := json.Marshal(map[string]any{"spdxVersion": "SPDX-2.3", "packages": ps})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDiffSBOMs(t *testing.T) {
	before := spdxJSON(t,
		spdxPkg{"registry.test/webp", "sha256:aaa", "pkg:oci/webp@sha256%3Aaaa", "CONTAINER"},
		spdxPkg{"libwebp", "1.3.0", "pkg:nix/libwebp@1.3.0?outputhash=k50ab48jlsa0n9qq9finpr8wbk32pgwq", ""},
		spdxPkg{"busybox", "1.35.0", "pkg:nix/busybox@1.35.0?outputhash=ab8z8pmqzzyhsymjjlgrdj16q4z20kzs", ""},
		spdxPkg{"glibc", "2.36", "pkg:nix/glibc@2.36?outputhash=1", ""},
		spdxPkg{"requests", "2.25.0", "pkg:pypi/requests@2.25.0", ""},
	)
	after := spdxJSON(t,
		spdxPkg{"registry.test/webp", "sha256:bbb", "pkg:oci/webp@sha256%3Abbb", "CONTAINER"},
		spdxPkg{"libwebp", "1.3.2", "pkg:nix/libwebp@1.3.2?outputhash=0c2dd4bv5g8ngv02bqnj1596xwzw3a31", ""},
		spdxPkg{"busybox", "1.35.0", "pkg:nix/busybox@1.35.0?outputhash=ab8z8pmqzzyhsymjjlgrdj16q4z20kzs", ""},
		spdxPkg{"glibc", "2.36", "pkg:nix/glibc@2.36?outputhash=1", ""},
		spdxPkg{"glibc", "2.40", "pkg:nix/glibc@2.40?outputhash=2", ""},
		spdxPkg{"requests", "2.25.0", "pkg:nix/requests@2.25.0", ""},
	)
	d, err := DiffSBOMs(before, after)
	if err != nil {
		t.Fatal(err)
	}
	want := SBOMDiff{
		Added:     []PackageChange{{Name: "requests", Type: "nix", After: []string{"2.25.0"}}},
		Removed:   []PackageChange{{Name: "requests", Type: "pypi", Before: []string{"2.25.0"}}},
		Changed:   []PackageChange{{Name: "glibc", Type: "nix", Before: []string{"2.36"}, After: []string{"2.36", "2.40"}}, {Name: "libwebp", Type: "nix", Before: []string{"1.3.0"}, After: []string{"1.3.2"}}},
		Unchanged: 1,
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Fatalf("SBOM diff (-want +got):\n%s", diff)
	}
	if _, err := DiffSBOMs([]byte(`{"spdxVersion": "SPDX-3.0", "packages": []}`), after); !errors.Is(err, spdxdiff.ErrInvalidSPDX) {
		t.Fatalf("SPDX 3: %v", err)
	}
}

func TestCompareFindings(t *testing.T) {
	f := func(id, pkg, version, status string) catalog.Finding {
		return catalog.Finding{ID: id, Package: pkg, Version: version, Status: status, Severity: "high",
			PURL: "pkg:nix/" + pkg + "@" + version + "?outputhash=x"}
	}
	vex := func(c catalog.Finding) catalog.Finding {
		c.VEXStatus, c.VEXJustification = "not_affected", "vulnerable_code_not_in_execute_path"
		return c
	}
	before := []catalog.Finding{
		f("CVE-2023-4863", "libwebp", "1.3.0", "active"),
		vex(f("CVE-2023-1999", "libwebp", "1.3.0", "suppressed")),
		vex(f("CVE-2023-4911", "glibc", "2.36", "suppressed")),
		f("CVE-2023-42363", "busybox", "1.35.0", "active"),
		// The same finding on a second platform counts once.
		f("CVE-2023-42363", "busybox", "1.35.0", "active"),
		f("CVE-2023-45853", "zlib", "1.2.13", "excepted"),
	}
	after := []catalog.Finding{
		f("CVE-2023-42363", "busybox", "1.35.0", "active"),
		f("CVE-2023-4911", "glibc", "2.38", "active"),
		f("CVE-2024-0001", "libwebp", "1.3.2", "active"),
		vex(f("CVE-2024-0002", "libwebp", "1.3.2", "suppressed")),
		f("CVE-2023-45853", "zlib", "1.2.13", "excepted"),
	}
	d := CompareFindings(before, after)
	ids := func(fs []DeltaFinding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.ID+" "+f.Package+" "+f.Before+">"+f.After)
		}
		return out
	}
	if diff := cmp.Diff([]string{"CVE-2023-4863 libwebp 1.3.0>"}, ids(d.Fixed)); diff != "" {
		t.Errorf("fixed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"CVE-2023-42363 busybox 1.35.0>1.35.0"}, ids(d.StillActive)); diff != "" {
		t.Errorf("still active (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"CVE-2023-4911 glibc 2.36>2.38", "CVE-2024-0001 libwebp >1.3.2"}, ids(d.New)); diff != "" {
		t.Errorf("new (-want +got):\n%s", diff)
	}
	var retired []string
	for _, v := range d.VEXRetired {
		retired = append(retired, v.ID+" "+v.Before+">"+v.After+": "+v.Now)
	}
	if diff := cmp.Diff([]string{"CVE-2023-1999 1.3.0>: vulnerability no longer present", "CVE-2023-4911 2.36>2.38: no longer covers the new version"}, retired); diff != "" {
		t.Errorf("VEX retired (-want +got):\n%s", diff)
	}
	if len(d.VEXAdded) != 1 || d.VEXAdded[0].ID != "CVE-2024-0002" || d.VEXAdded[0].Status != "not_affected" {
		t.Errorf("VEX added = %+v", d.VEXAdded)
	}
}

func TestPurlParts(t *testing.T) {
	for in, want := range map[string][2]string{
		"pkg:nix/libwebp@1.3.0?outputhash=abc":          {"nix", "libwebp"},
		"pkg:nix/python3.11-requests@2.25.0":            {"nix", "python3.11-requests"},
		"pkg:deb/debian/libexpat1@2.5.0-1?distro=deb12": {"deb", "libexpat1"},
		"pkg:npm/%40scope/name@1.0.0":                   {"npm", "name"},
		"pkg:generic/a%20b":                             {"generic", "a b"},
	} {
		typ, name, ok := purlParts(in)
		if !ok || typ != want[0] || name != want[1] {
			t.Errorf("purlParts(%q) = %q %q %v, want %v", in, typ, name, ok, want)
		}
	}
	for _, bad := range []string{"", "libwebp", "pkg:nix", "pkg:/x", "cpe:2.3:a:x"} {
		if _, _, ok := purlParts(bad); ok {
			t.Errorf("purlParts(%q) accepted", bad)
		}
	}
}
