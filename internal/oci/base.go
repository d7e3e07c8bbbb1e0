package oci

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

type resolvedBase struct {
	ref   Ref
	index v1.ImageIndex
	image v1.Image
}

// resolveBase checks that the base is given by digest and that the digest
// is the digest of the supplied index or image.
func resolveBase(b *Base) (*resolvedBase, error) {
	r, err := RequireDigest(b.Ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadBase, err)
	}
	want, err := r.Hash()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadBase, b.Ref, err)
	}
	var got v1.Hash
	switch {
	case b.Index != nil && b.Image != nil:
		return nil, fmt.Errorf("%w: %s: give an index or an image, not both", ErrBadBase, b.Ref)
	case b.Index != nil:
		got, err = b.Index.Digest()
	case b.Image != nil:
		got, err = b.Image.Digest()
	default:
		return nil, fmt.Errorf("%w: %s: no index or image supplied", ErrBadBase, b.Ref)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadBase, b.Ref, err)
	}
	if got != want {
		return nil, fmt.Errorf("%w: %s: supplied content has digest %s", ErrBadBase, b.Ref, got)
	}
	return &resolvedBase{ref: r, index: b.Index, image: b.Image}, nil
}

// forPlatform returns the base image for p and its digest.
func (b *resolvedBase) forPlatform(p v1.Platform) (v1.Image, v1.Hash, error) {
	if b.image != nil {
		cf, err := b.image.ConfigFile()
		if err != nil {
			return nil, v1.Hash{}, err
		}
		if cf.OS != p.OS || cf.Architecture != p.Architecture {
			return nil, v1.Hash{}, fmt.Errorf("%w: %s is %s/%s, not %s/%s", ErrBadBase, b.ref, cf.OS, cf.Architecture, p.OS, p.Architecture)
		}
		d, err := b.image.Digest()
		return b.image, d, err
	}
	im, err := b.index.IndexManifest()
	if err != nil {
		return nil, v1.Hash{}, err
	}
	for _, d := range im.Manifests {
		dp := d.Platform
		if dp == nil || dp.OS != p.OS || dp.Architecture != p.Architecture {
			continue
		}
		if dp.Variant != "" && p.Variant != "" && dp.Variant != p.Variant {
			continue
		}
		img, err := b.index.Image(d.Digest)
		if err != nil {
			return nil, v1.Hash{}, fmt.Errorf("%w: %s: platform %s/%s: %w", ErrBadBase, b.ref, p.OS, p.Architecture, err)
		}
		return img, d.Digest, nil
	}
	return nil, v1.Hash{}, fmt.Errorf("%w: %s has no %s/%s image", ErrBadBase, b.ref, p.OS, p.Architecture)
}
