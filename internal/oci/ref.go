package oci

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// LayoutPrefix marks an OCI image layout reference: "oci:DIR" or
// "oci:DIR@sha256:<hex>".
const LayoutPrefix = "oci:"

// Ref is where images live: an OCI layout directory (optionally narrowed to
// one digest) or a registry repository (optionally with a tag and/or digest).
type Ref struct {
	// Layout is the layout directory; empty for registry references.
	Layout string
	// Repo is the registry repository; zero for layout references.
	Repo name.Repository
	// Tag is the explicit tag of a registry reference, if any.
	Tag string
	// Digest is "sha256:<hex>" when the reference is by digest.
	Digest string
}

// ParseRef parses "oci:DIR", "oci:DIR@sha256:<hex>", or a registry reference
// ("host/repo", "host/repo:tag", "host/repo@sha256:<hex>",
// "host/repo:tag@sha256:<hex>").
func ParseRef(s string) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("%w: empty reference", ErrBadRef)
	}
	if rest, ok := strings.CutPrefix(s, LayoutPrefix); ok {
		dir, dig, hasDig := strings.Cut(rest, "@")
		if dir == "" {
			return Ref{}, fmt.Errorf("%w: %q: layout directory is empty", ErrBadRef, s)
		}
		r := Ref{Layout: dir}
		if hasDig {
			if _, err := v1.NewHash(dig); err != nil {
				return Ref{}, fmt.Errorf("%w: %q: %v", ErrBadRef, s, err)
			}
			r.Digest = dig
		}
		return r, nil
	}
	base, _, hasDig := strings.Cut(s, "@")
	r := Ref{}
	if hasDig {
		d, err := name.NewDigest(s, name.StrictValidation)
		if err != nil {
			return Ref{}, fmt.Errorf("%w: %q: %v", ErrBadRef, s, err)
		}
		r.Digest = d.DigestStr()
	}
	// A tag is present when the last path element holds a colon.
	if i := strings.LastIndex(base, ":"); i > strings.LastIndex(base, "/") {
		t, err := name.NewTag(base, name.StrictValidation)
		if err != nil {
			return Ref{}, fmt.Errorf("%w: %q: %v", ErrBadRef, s, err)
		}
		r.Repo, r.Tag = t.Context(), t.TagStr()
		return r, nil
	}
	repo, err := name.NewRepository(base, name.StrictValidation)
	if err != nil {
		return Ref{}, fmt.Errorf("%w: %q: %v", ErrBadRef, s, err)
	}
	r.Repo = repo
	return r, nil
}

// IsLayout reports whether r names an OCI layout.
func (r Ref) IsLayout() bool { return r.Layout != "" }

// String returns the canonical form; ParseRef(r.String()) == r.
func (r Ref) String() string {
	if r.IsLayout() {
		if r.Digest != "" {
			return LayoutPrefix + r.Layout + "@" + r.Digest
		}
		return LayoutPrefix + r.Layout
	}
	s := r.Repo.String()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Hash returns the digest of a by-digest reference.
func (r Ref) Hash() (v1.Hash, error) {
	if r.Digest == "" {
		return v1.Hash{}, fmt.Errorf("%w: %s", ErrNotByDigest, r)
	}
	return v1.NewHash(r.Digest)
}

// DigestRef returns the registry reference of digest d in r's repository.
func (r Ref) DigestRef(d v1.Hash) name.Digest {
	return r.Repo.Digest(d.String())
}

// RequireDigest parses s and refuses a reference that is not by digest (a
// tag-only registry reference or a layout without "@sha256:").
func RequireDigest(s string) (Ref, error) {
	r, err := ParseRef(s)
	if err != nil {
		return Ref{}, err
	}
	if r.Digest == "" {
		return Ref{}, fmt.Errorf("%w: %q (append @sha256:<hex>)", ErrNotByDigest, s)
	}
	return r, nil
}
