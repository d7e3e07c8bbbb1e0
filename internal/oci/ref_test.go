package oci

import (
	"errors"
	"strings"
	"testing"
)

const hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestParseRefRoundTrip(t *testing.T) {
	for _, s := range []string{
		"oci:/tmp/layout",
		"oci:rel/dir@sha256:" + hexA,
		"127.0.0.1:5000/python",
		"127.0.0.1:5000/python:distroless",
		"registry.example.com/fleet/python@sha256:" + hexA,
		"registry.example.com/fleet/python:3.12@sha256:" + hexA,
	} {
		r, err := ParseRef(s)
		if err != nil {
			t.Fatalf("ParseRef(%q): %v", s, err)
		}
		if r.String() != s {
			t.Errorf("ParseRef(%q).String() = %q", s, r.String())
		}
		r2, err := ParseRef(r.String())
		if err != nil || r2 != r {
			t.Errorf("round trip of %q: %+v, %v", s, r2, err)
		}
	}
}

func TestParseRefRejectsGarbage(t *testing.T) {
	for _, s := range []string{"", "oci:", "oci:dir@sha256:zz", "UPPER/Case", "repo@sha256:short"} {
		if _, err := ParseRef(s); !errors.Is(err, ErrBadRef) {
			t.Errorf("ParseRef(%q) = %v, want ErrBadRef", s, err)
		}
	}
}

func TestRequireDigest(t *testing.T) {
	for _, s := range []string{"127.0.0.1:5000/python:distroless", "127.0.0.1:5000/python", "oci:/tmp/layout"} {
		_, err := RequireDigest(s)
		if !errors.Is(err, ErrNotByDigest) {
			t.Errorf("RequireDigest(%q) = %v, want ErrNotByDigest", s, err)
		}
		if err != nil && !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
	if _, err := RequireDigest("oci:/tmp/l@sha256:" + hexA); err != nil {
		t.Fatal(err)
	}
	r, err := RequireDigest("127.0.0.1:5000/python@sha256:" + hexA)
	if err != nil {
		t.Fatal(err)
	}
	if r.Repo.RegistryStr() != "127.0.0.1:5000" || r.Repo.RepositoryStr() != "python" {
		t.Errorf("parsed %+v", r)
	}
}
