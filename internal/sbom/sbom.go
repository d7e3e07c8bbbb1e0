// Package sbom produces the SPDX 2.3 JSON document of one platform image:
// Syft catalogs the image, and the closure manifest of the image's Nix
// closure turns every store path into a package with a pkg:nix purl, its
// narHash, the upstream CPE where the Nix name differs from it, and the
// dependency edges of the closure graph. The same image and manifest always
// give the same bytes.
package sbom

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/oci"
)

// PredicateType is the in-toto predicate type of an SPDX document.
const PredicateType = "https://spdx.dev/Document"

// MediaType is the media type of the document Generate returns.
const MediaType = "application/spdx+json"

var (
	// ErrInvalidOptions: a required option is missing or malformed.
	ErrInvalidOptions = errors.New("invalid sbom options")
	// ErrDigestMismatch: the image is not the one Options.Digest names.
	ErrDigestMismatch = errors.New("image digest mismatch")
	// ErrClosureMismatch: the closure manifest does not describe the image
	// (other architecture or other closure root).
	ErrClosureMismatch = errors.New("closure manifest does not match the image")
	// ErrInvalidManifest: the closure manifest cannot be turned into
	// packages (bad narHash, dangling reference, ...).
	ErrInvalidManifest = errors.New("invalid closure manifest")
)

// Options selects the image and the closure that describes it.
type Options struct {
	// Image is one platform image (not an index).
	Image v1.Image
	// Digest is Image's manifest digest; the document is tied to it.
	Digest v1.Hash
	// Name names the image, with or without registry and tag:
	// "ghcr.io/acme/fleet/python:distroless" or "python:distroless".
	Name string
	// Platform is the image's platform ("linux/amd64"); when empty it is
	// read from the image config.
	Platform string
	// Manifest is the closure manifest of the image; nil for an image
	// that holds no ClearCutt closure (then the document is Syft's alone).
	Manifest *closure.Manifest
	// Created is the document creation time (SOURCE_DATE_EPOCH).
	Created time.Time
	// TempDir receives the temporary OCI layout Syft reads ("" = the
	// system default).
	TempDir string
	// Progress, if set, receives one line per step.
	Progress func(string)
}

// Result is the document and what it holds.
type Result struct {
	// Document is the SPDX 2.3 JSON document.
	Document []byte `json:"-"`
	// Name is the document name, Options.Name@digest.
	Name string `json:"name"`
	// Namespace is the document namespace.
	Namespace string `json:"namespace"`
	Digest    string `json:"digest"`
	Platform  string `json:"platform"`
	// Packages counts the packages the image contains (every package but
	// the image's own).
	Packages int `json:"packages"`
	// NixPackages counts the packages made from closure store paths.
	NixPackages int `json:"nixPackages"`
	// Merged counts Syft's Nix packages that were the same store path as
	// a closure package and were merged into it.
	Merged int `json:"merged"`
}

// Generate catalogs opts.Image with Syft, enriches the document from the
// closure manifest and returns it in its deterministic form.
func Generate(ctx context.Context, opts Options) (Result, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	id, err := checkOptions(&opts)
	if err != nil {
		return Result{}, err
	}
	var cp *closurePackages
	if opts.Manifest != nil {
		if cp, err = newClosurePackages(opts.Manifest); err != nil {
			return Result{}, err
		}
	}
	progress("cataloging " + opts.Platform)
	doc, err := catalog(ctx, opts.Image, opts.Name, opts.TempDir)
	if err != nil {
		return Result{}, fmt.Errorf("sbom %s (%s): %w", id.docName(), opts.Platform, err)
	}
	root := id.rootPackage()
	replaceRoot(doc, root)
	res := Result{Name: id.docName(), Digest: opts.Digest.String(), Platform: opts.Platform}
	if cp != nil {
		progress("adding the closure of " + opts.Manifest.Root)
		res.Merged = cp.apply(doc, root.PackageSPDXIdentifier)
		res.NixPackages = len(cp.list)
	}
	progress("encoding")
	res.Document, res.Namespace, err = finish(doc, id, opts.Created)
	if err != nil {
		return Result{}, err
	}
	res.Packages = len(doc.Packages) - 1
	return res, nil
}

// checkOptions validates opts, fills Platform from the image config and
// returns the image identity.
func checkOptions(opts *Options) (identity, error) {
	if opts.Image == nil {
		return identity{}, fmt.Errorf("%w: no image", ErrInvalidOptions)
	}
	if opts.Digest.Algorithm != "sha256" || len(opts.Digest.Hex) != 64 {
		return identity{}, fmt.Errorf("%w: digest %q is not a sha256 digest", ErrInvalidOptions, opts.Digest)
	}
	if opts.Created.IsZero() {
		return identity{}, fmt.Errorf("%w: no creation time (pass SOURCE_DATE_EPOCH)", ErrInvalidOptions)
	}
	id, err := newIdentity(opts.Name, opts.Digest)
	if err != nil {
		return identity{}, err
	}
	got, err := opts.Image.Digest()
	if err != nil {
		return identity{}, fmt.Errorf("%s: %w", id.docName(), err)
	}
	if got != opts.Digest {
		return identity{}, fmt.Errorf("%w: %s is %s", ErrDigestMismatch, id.docName(), got)
	}
	cf, err := opts.Image.ConfigFile()
	if err != nil {
		return identity{}, fmt.Errorf("%s: config: %w", id.docName(), err)
	}
	p := cf.Platform()
	if p == nil || p.Architecture == "" {
		return identity{}, fmt.Errorf("%w: %s: image config names no architecture", ErrInvalidOptions, id.docName())
	}
	if opts.Platform == "" {
		opts.Platform = p.String()
	}
	id.arch = p.Architecture
	if m := opts.Manifest; m != nil {
		if m.Arch != p.Architecture {
			return identity{}, fmt.Errorf("%w: manifest %s-%s is for %q, the image %s is %s", ErrClosureMismatch, m.Runtime, m.Tier, m.Arch, id.docName(), p.Architecture)
		}
		if label := cf.Config.Labels[oci.LabelClosureRoot]; label != m.Root {
			return identity{}, fmt.Errorf("%w: manifest %s-%s-%s has root %s, the image's label %s is %q", ErrClosureMismatch, m.Runtime, m.Tier, m.Arch, m.Root, oci.LabelClosureRoot, label)
		}
	}
	return id, nil
}
