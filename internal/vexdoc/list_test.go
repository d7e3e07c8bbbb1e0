package vexdoc

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clearcutt/clearcutt/internal/outcome"
)

func TestList(t *testing.T) {
	f := testFleet(t)
	vexDir := filepath.Join(f.Dir, "vex")
	a, b := filepath.Join(vexDir, "a.json"), filepath.Join(vexDir, "b.json")
	writeDoc(t, a, docWith("a",
		`{"vulnerability": {"name": "CVE-2023-4911"}, "products": [{"@id": "pkg:nix/glibc"}], "status": "not_affected", "justification": "inline_mitigations_already_exist"}`))
	writeDoc(t, b, docWith("b",
		`{"vulnerability": {"name": "CVE-2023-40217", "aliases": ["GHSA-j8r2-6x86-q33q"]}, "products": [`+
			`{"@id": "pkg:oci/python?tag=dev", "subcomponents": [{"@id": "pkg:nix/python3"}]}, `+
			`{"@id": "pkg:oci/python?tag=slim", "subcomponents": [{"@id": "pkg:nix/python3"}, {"@id": "pkg:nix/openssl"}]}], `+
			`"status": "affected", "action_statement": "upgrade", "timestamp": "2026-11-27T08:00:00Z"}`,
		`{"vulnerability": {"name": "CVE-2023-1111"}, "products": [{"@id": "pkg:oci/nodejs"}], "status": "fixed"}`))
	issued := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	stated := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	var (
		nodejs = ListedStatement{Vulnerability: "CVE-2023-1111", Status: "fixed", Products: []string{"pkg:oci/nodejs"},
			File: b, Statement: 1, Timestamp: &issued}
		python = ListedStatement{Vulnerability: "CVE-2023-40217", Aliases: []string{"GHSA-j8r2-6x86-q33q"}, Status: "affected",
			ActionStatement: "upgrade", Products: []string{"pkg:oci/python?tag=dev", "pkg:oci/python?tag=slim"},
			Subcomponents: []string{"pkg:nix/python3", "pkg:nix/openssl"}, File: b, Statement: 0, Timestamp: &stated}
		glibc = ListedStatement{Vulnerability: "CVE-2023-4911", Status: "not_affected", Justification: "inline_mitigations_already_exist",
			Products: []string{"pkg:nix/glibc"}, File: a, Statement: 0, Timestamp: &issued}
	)
	for _, tc := range []struct {
		name        string
		image, vuln string
		want        []ListedStatement
	}{
		{name: "every statement, by vulnerability", want: []ListedStatement{nodejs, python, glibc}},
		{name: "an image: its statements and the packages'", image: "python:slim", want: []ListedStatement{python, glibc}},
		{name: "an image no image statement names", image: "python:distroless", want: []ListedStatement{glibc}},
		{name: "every tier of a runtime", image: "nodejs:dev", want: []ListedStatement{nodejs, glibc}},
		{name: "a vulnerability by name, in any case", vuln: "cve-2023-4911", want: []ListedStatement{glibc}},
		{name: "a vulnerability by alias", vuln: "GHSA-j8r2-6x86-q33q", want: []ListedStatement{python}},
		{name: "image and vulnerability", image: "java:slim", vuln: "CVE-2023-40217", want: []ListedStatement{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := List(ListOptions{Fleet: f, Files: []string{a, b}, Image: tc.image, Vuln: tc.vuln})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ListReport{Statements: tc.want}, rep); diff != "" {
				t.Errorf("statements (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListRefuses(t *testing.T) {
	f := testFleet(t)
	vexDir := filepath.Join(f.Dir, "vex")
	good, bad := filepath.Join(vexDir, "good.json"), filepath.Join(vexDir, "bad.json")
	writeDoc(t, good, docWith("good", `{"vulnerability": {"name": "CVE-2023-45853"}, "products": [{"@id": "pkg:nix/zlib"}], "status": "fixed"}`))
	writeDoc(t, bad, "{\n  \"@context\": \"https://openvex.dev/ns/v0.2.0\",\n  \"version\": 1,,\n}\n")
	for _, tc := range []struct {
		name string
		opts ListOptions
		want error
		msg  string
	}{
		{"an image not in the fleet", ListOptions{Files: []string{good}, Image: "ruby:slim"}, ErrNotInFleet, `--image: "ruby:slim" is not an image of ` + f.Path},
		{"a tier the runtime lacks", ListOptions{Files: []string{good}, Image: "static:dev"}, ErrNotInFleet, `--image: "static:dev" is not an image of`},
		{"a document that is not JSON", ListOptions{Files: []string{good, bad}}, ErrInvalid, bad + ":3: not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Fleet = f
			_, err := List(tc.opts)
			if !errors.Is(err, tc.want) || !outcome.IsUsage(err) {
				t.Fatalf("error %v: want a usage error matching %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}
