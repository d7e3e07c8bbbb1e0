// Package stage runs one stage of a release over one image of the fleet:
// build, assemble, test, sbom, scan and publish. It resolves what the fleet
// file says (runtime, tier, architectures, layer budget, gate policy, VEX
// documents, exceptions) into the options of the packages that do the work
// (closure, oci, structure, sbom, scan), takes and returns images by
// digest, and writes each platform's evidence under
// EVIDENCE/sha256-<hex>/. Every stage returns a report with JSON field
// names; package pipeline chains the stages and the command line renders
// their reports.
//
// Errors caused by the invocation or the input files are
// outcome.UsageError; a completed run whose result is a failure wraps
// outcome.ErrGateFailed.
package stage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/fsutil"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/outcome"
)

// Progress shows the progress of a long step. Status starts a status line
// named prefix; update redraws it, done ends it.
type Progress interface {
	Status(prefix string) (update func(string), done func())
}

// Quiet is a Progress that shows nothing.
type Quiet struct{}

// Status implements Progress.
func (Quiet) Status(string) (func(string), func()) { return func(string) {}, func() {} }

// ProgressOf is p, or Quiet when p is nil.
func ProgressOf(p Progress) Progress {
	if p == nil {
		return Quiet{}
	}
	return p
}

// Events adapts a status line to the progress events of the oci package.
func Events(update func(string)) func(oci.Event) {
	return func(e oci.Event) {
		msg := e.Step
		if e.Arch != "" {
			msg += " " + e.Arch
		}
		if e.Total > 0 {
			msg += fmt.Sprintf(" %d/%d", e.N, e.Total)
		}
		if e.Detail != "" {
			msg += " " + e.Detail
		}
		update(msg)
	}
}

// OpenIndex resolves a by-digest reference (oci:DIR@sha256:… or a registry
// reference) to the image index it names. Relative layout directories are
// resolved against base (the fleet file's directory for references written
// in clearcutt.yaml, "" for command-line arguments).
func OpenIndex(ctx context.Context, s, base string) (oci.Ref, v1.ImageIndex, error) {
	ref, err := oci.RequireDigest(s)
	if err != nil {
		return oci.Ref{}, nil, outcome.UsageError{Err: err}
	}
	h, _ := ref.Hash()
	if ref.IsLayout() {
		dir := ref.Layout
		if base != "" && !filepath.IsAbs(dir) {
			dir = filepath.Join(base, dir)
		}
		idx, err := oci.ReadLayoutIndex(dir, h)
		if errors.Is(err, oci.ErrNotIndex) {
			return ref, nil, outcome.UsageError{Err: err}
		}
		if err != nil {
			return ref, nil, err
		}
		return ref, idx, nil
	}
	// Fetch the manifest whatever its type, so that a platform image is
	// named as such rather than failing content negotiation.
	desc, err := remote.Get(ref.DigestRef(h), remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return ref, nil, fmt.Errorf("%s: %w", ref, err)
	}
	if !desc.MediaType.IsIndex() {
		return ref, nil, outcome.UsageError{Err: fmt.Errorf("%s: not an image index but a %s; give the digest of the multi-platform index", ref, desc.MediaType)}
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return ref, nil, fmt.Errorf("%s: %w", ref, err)
	}
	return ref, idx, nil
}

// HostArch is the OCI architecture of this machine.
func HostArch() string { return runtime.GOARCH }

// PlatformImage is one platform of an index, with its config.
type PlatformImage struct {
	Desc   v1.Descriptor
	Image  v1.Image
	Config *v1.ConfigFile
}

// PlatformImages reads every platform image of idx (named ref in errors);
// an entry without a platform is an error.
func PlatformImages(ref oci.Ref, idx v1.ImageIndex) ([]PlatformImage, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	out := make([]PlatformImage, 0, len(im.Manifests))
	for _, d := range im.Manifests {
		if d.Platform == nil {
			return nil, fmt.Errorf("%s: index entry %s has no platform", ref, d.Digest)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("%s: platform %s: %w", ref, d.Platform, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("%s: platform %s: config: %w", ref, d.Platform, err)
		}
		out = append(out, PlatformImage{Desc: d, Image: img, Config: cf})
	}
	return out, nil
}

// EvidenceDir is the directory of a platform digest's evidence in dir.
func EvidenceDir(dir string, d v1.Hash) string {
	return filepath.Join(dir, d.Algorithm+"-"+d.Hex)
}

// WriteEvidence stores a statement for a platform digest atomically and
// returns its path. Evidence is published next to the image: it is
// readable by everyone.
func WriteEvidence(dir string, d v1.Hash, name string, data []byte) (string, error) {
	sub := EvidenceDir(dir, d)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(sub, name)
	return p, fsutil.WriteFileAtomic(p, data, 0o644)
}
