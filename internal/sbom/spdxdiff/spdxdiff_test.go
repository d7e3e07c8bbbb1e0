package spdxdiff

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type pkg struct{ name, version, purpose string }

// doc builds an SPDX 2.3 JSON document; each package gets the purls given
// after its version (none for an SPDX name only).
func doc(t *testing.T, pkgs map[pkg][]string) []byte {
	t.Helper()
	type ref struct {
		Category string `json:"referenceCategory"`
		Type     string `json:"referenceType"`
		Locator  string `json:"referenceLocator"`
	}
	type p struct {
		Name    string `json:"name"`
		Version string `json:"versionInfo"`
		Purpose string `json:"primaryPackagePurpose,omitempty"`
		Refs    []ref  `json:"externalRefs,omitempty"`
	}
	var ps []p
	for k, purls := range pkgs {
		e := p{Name: k.name, Version: k.version, Purpose: k.purpose}
		for _, u := range purls {
			e.Refs = append(e.Refs, ref{"PACKAGE-MANAGER", "purl", u})
		}
		ps = append(ps, e)
	}
	b, err := json.Marshal(map[string]any{"spdxVersion": "SPDX-2.3", "packages": ps})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDiff(t *testing.T) {
	before := doc(t, map[pkg][]string{
		{"registry.test/app", "sha256:aaa", "CONTAINER"}: {"pkg:oci/app@sha256%3Aaaa"},
		{"libwebp", "1.3.0", ""}:                         {"pkg:nix/libwebp@1.3.0?outputhash=k50a"},
		{"glibc", "2.36", ""}:                            {"pkg:nix/glibc@2.36"},
		{"libc6", "2.36-9", ""}:                          {"pkg:deb/debian/libc6@2.36-9?arch=amd64"},
		{"requests", "2.25.0", ""}:                       {"pkg:PyPI/requests@2.25.0"},
		{"core", "17.0.0", ""}:                           {"pkg:npm/%40angular/core@17.0.0"},
		{"loose", "1", ""}:                               nil,
	})
	after := doc(t, map[pkg][]string{
		{"registry.test/app", "sha256:bbb", "CONTAINER"}: {"pkg:oci/app@sha256%3Abbb"},
		{"libwebp", "1.3.2", ""}:                         {"pkg:nix/libwebp@1.3.2?outputhash=0c2d"},
		{"glibc", "2.36", ""}:                            {"pkg:nix/glibc@2.36"},
		{"glibc", "2.40", ""}:                            {"pkg:nix/glibc@2.40"},
		{"libc6", "2.36-9", ""}:                          {"pkg:deb/debian/libc6@2.36-9?arch=arm64"},
		{"requests", "2.25.0", ""}:                       {"not a purl", "pkg:nix/requests@2.25.0", "pkg:pypi/requests@2.25.0"},
		{"core", "17.0.0", ""}:                           {"pkg:npm/%40angular/core@17.0.0"},
		{"loose", "2", ""}:                               nil,
	})
	d, err := Diff(before, after, "before", "after")
	if err != nil {
		t.Fatal(err)
	}
	want := Delta{
		// The first package URL keys a package: requests moved from pypi to nix.
		Added:   []Change{{Name: "requests", Type: "nix", After: []string{"2.25.0"}}},
		Removed: []Change{{Name: "requests", Type: "pypi", Before: []string{"2.25.0"}}},
		Changed: []Change{
			{Name: "loose", Before: []string{"1"}, After: []string{"2"}},
			{Name: "glibc", Type: "nix", Before: []string{"2.36"}, After: []string{"2.36", "2.40"}},
			{Name: "libwebp", Type: "nix", Before: []string{"1.3.0"}, After: []string{"1.3.2"}},
		},
		// The image itself is left out; libc6 (namespace kept, qualifiers
		// dropped) and the unescaped @angular/core did not change.
		Unchanged: 2,
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Fatalf("delta (-want +got):\n%s", diff)
	}
	if d.Empty() {
		t.Error("a diff with changes is Empty")
	}
	same, err := Diff(before, before, "before", "after")
	if err != nil {
		t.Fatal(err)
	}
	if !same.Empty() || same.Unchanged != 6 || same.Added == nil || same.Removed == nil || same.Changed == nil {
		t.Errorf("a document against itself: %+v", same)
	}
}

func TestDiffRefusesOtherDocuments(t *testing.T) {
	good := doc(t, nil)
	for _, c := range []struct {
		before, after []byte
		want          string
	}{
		{[]byte(`{"spdxVersion": "SPDX-3.0", "packages": []}`), good, `the old one: spdxVersion "SPDX-3.0"`},
		{good, []byte(`{"bomFormat": "CycloneDX"}`), `the new one: spdxVersion ""`},
		{good, []byte(`[`), "the new one: "},
	} {
		// The message names the document at fault (and its version).
		if _, err := Diff(c.before, c.after, "the old one", "the new one"); !errors.Is(err, ErrInvalidSPDX) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("error %v, want ErrInvalidSPDX naming %q", err, c.want)
		}
	}
}

func TestPURLParts(t *testing.T) {
	for in, want := range map[string][2]string{
		"pkg:nix/libwebp@1.3.0?outputhash=x": {"nix", "libwebp"},
		"pkg:deb/debian/libc6@2.36-9#sub":    {"deb", "debian/libc6"},
		"pkg:npm/%40angular/core@17":         {"npm", "@angular/core"},
		"pkg:PyPI/requests":                  {"pypi", "requests"},
	} {
		typ, name, ok := purlParts(in)
		if !ok || typ != want[0] || name != want[1] {
			t.Errorf("purlParts(%q) = %q, %q, %v; want %q, %q", in, typ, name, ok, want[0], want[1])
		}
	}
	for _, in := range []string{"", "nix/libwebp@1", "pkg:nix", "pkg:/libwebp", "pkg:nix/", "pkg:npm/%zz/core"} {
		if _, _, ok := purlParts(in); ok {
			t.Errorf("purlParts(%q) accepted", in)
		}
	}
}
