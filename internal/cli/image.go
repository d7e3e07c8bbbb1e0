package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/oci"
)

// openIndex resolves a by-digest reference (oci:DIR@sha256:… or a registry
// reference) to the image index it names. Relative layout directories are
// resolved against base (the fleet file's directory for references written
// in clearcutt.yaml, "" for command-line arguments).
func openIndex(ctx context.Context, s, base string) (oci.Ref, v1.ImageIndex, error) {
	ref, err := oci.RequireDigest(s)
	if err != nil {
		return oci.Ref{}, nil, usageError{err}
	}
	h, _ := ref.Hash()
	if ref.IsLayout() {
		dir := ref.Layout
		if base != "" && !filepath.IsAbs(dir) {
			dir = filepath.Join(base, dir)
		}
		idx, err := oci.ReadLayoutIndex(dir, h)
		if errors.Is(err, oci.ErrNotIndex) {
			return ref, nil, usageError{err}
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
		return ref, nil, usageError{fmt.Errorf("%s: not an image index but a %s; give the digest of the multi-platform index", ref, desc.MediaType)}
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return ref, nil, fmt.Errorf("%s: %w", ref, err)
	}
	return ref, idx, nil
}

// hostArch is the OCI architecture of this machine.
func hostArch() string { return runtime.GOARCH }

// platformImage is one platform of an index, with its config.
type platformImage struct {
	desc v1.Descriptor
	img  v1.Image
	cfg  *v1.ConfigFile
}

// platformImages reads every platform image of idx (named ref in errors);
// an entry without a platform is an error.
func platformImages(ref oci.Ref, idx v1.ImageIndex) ([]platformImage, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	out := make([]platformImage, 0, len(im.Manifests))
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
		out = append(out, platformImage{desc: d, img: img, cfg: cf})
	}
	return out, nil
}
