package oci

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrInconsistentImages: platform images cannot form one index (two images
// for one architecture, a platform that disagrees with the image's config,
// or images of different runtimes, tiers, revisions or timestamps).
var ErrInconsistentImages = errors.New("platform images do not form one index")

// NewIndex builds the image index over one image per architecture. It is
// the only way indexes are made, whether by Assemble or from platform
// images published separately, so the same platform images always give the
// same index digest: the entries are ordered by architecture, each
// descriptor holds exactly mediaType, digest, size, artifactType and
// platform, and the index annotations are IndexAnnotations of the images
// (which must agree).
func NewIndex(images []PlatformImage) (v1.ImageIndex, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("%w: no platform images", ErrInconsistentImages)
	}
	ims := append([]PlatformImage(nil), images...)
	sort.SliceStable(ims, func(i, j int) bool {
		return ims[i].Platform.Architecture < ims[j].Platform.Architecture
	})
	var ann map[string]string
	var runtime, tier string
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i, pi := range ims {
		if pi.Image == nil {
			return nil, fmt.Errorf("%w: no image for %s", ErrInconsistentImages, pi.Platform.String())
		}
		if i > 0 && pi.Platform.Architecture == ims[i-1].Platform.Architecture {
			return nil, fmt.Errorf("%w: two images for architecture %s", ErrInconsistentImages, pi.Platform.Architecture)
		}
		cf, err := pi.Image.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("image for %s: config: %w", pi.Platform.String(), err)
		}
		if cf.OS != pi.Platform.OS || cf.Architecture != pi.Platform.Architecture || cf.Variant != pi.Platform.Variant {
			return nil, fmt.Errorf("%w: image for %s has config platform %s/%s/%s", ErrInconsistentImages, pi.Platform.String(), cf.OS, cf.Architecture, cf.Variant)
		}
		a := IndexAnnotations(cf)
		l := cf.Config.Labels
		if i == 0 {
			ann, runtime, tier = a, l[LabelRuntime], l[LabelTier]
		} else {
			if l[LabelRuntime] != runtime || l[LabelTier] != tier {
				return nil, fmt.Errorf("%w: %s is %s/%s, %s is %s/%s", ErrInconsistentImages,
					ims[0].Platform.Architecture, runtime, tier, pi.Platform.Architecture, l[LabelRuntime], l[LabelTier])
			}
			if k, ok := firstDifference(ann, a); ok {
				return nil, fmt.Errorf("%w: label %s is %q on %s, %q on %s", ErrInconsistentImages,
					k, ann[k], ims[0].Platform.Architecture, a[k], pi.Platform.Architecture)
			}
		}
		p := pi.Platform
		// bareImage hides a Descriptor method (remote and layout images
		// carry the descriptor they were found by), so the entry is
		// computed from the manifest alone wherever the image came from.
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: bareImage{pi.Image}, Descriptor: v1.Descriptor{Platform: &p}})
	}
	if len(ann) > 0 {
		idx = mutate.Annotations(idx, ann).(v1.ImageIndex)
	}
	return idx, nil
}

type bareImage struct{ v1.Image }

// IndexAnnotations are the annotations of an index over images with config
// cf: the org.opencontainers.image.* labels of the image, except the base
// digest, which differs per platform.
func IndexAnnotations(cf *v1.ConfigFile) map[string]string {
	ann := map[string]string{}
	for k, v := range cf.Config.Labels {
		if strings.HasPrefix(k, "org.opencontainers.image.") && k != LabelBaseDigest {
			ann[k] = v
		}
	}
	return ann
}

// firstDifference returns the smallest key whose value differs in a and b.
func firstDifference(a, b map[string]string) (string, bool) {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var diff []string
	for k := range keys {
		av, aok := a[k]
		bv, bok := b[k]
		if av != bv || aok != bok {
			diff = append(diff, k)
		}
	}
	if len(diff) == 0 {
		return "", false
	}
	sort.Strings(diff)
	return diff[0], true
}

// OpenPlatformImage returns the platform image named by r, a by-digest
// reference (oci:DIR@sha256:… or a registry reference) to either an image
// manifest or an index holding exactly one image (as 'assemble' of one
// architecture writes). The platform is taken from the image's config; an
// index entry whose platform disagrees with it is refused. opts are used
// for registry references.
func OpenPlatformImage(ctx context.Context, r Ref, opts ...remote.Option) (PlatformImage, error) {
	h, err := r.Hash()
	if err != nil {
		return PlatformImage{}, err
	}
	var img v1.Image
	var idx v1.ImageIndex
	if r.IsLayout() {
		img, idx, err = openLayoutManifest(r.Layout, h)
	} else {
		img, idx, err = openRemoteManifest(ctx, r, h, opts)
	}
	if err != nil {
		return PlatformImage{}, fmt.Errorf("%s: %w", r, err)
	}
	var entry *v1.Platform
	if idx != nil {
		im, err := idx.IndexManifest()
		if err != nil {
			return PlatformImage{}, fmt.Errorf("%s: %w", r, err)
		}
		if len(im.Manifests) != 1 {
			return PlatformImage{}, fmt.Errorf("%w: %s: index has %d entries; name one platform image or a one-platform index", ErrInconsistentImages, r, len(im.Manifests))
		}
		d := im.Manifests[0]
		if !d.MediaType.IsImage() {
			return PlatformImage{}, fmt.Errorf("%w: %s: index entry %s is %s, not an image", ErrInconsistentImages, r, d.Digest, d.MediaType)
		}
		entry = d.Platform
		if img, err = idx.Image(d.Digest); err != nil {
			return PlatformImage{}, fmt.Errorf("%s: %s: %w", r, d.Digest, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return PlatformImage{}, fmt.Errorf("%s: config: %w", r, err)
	}
	p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	if _, err := platformOf(p.Architecture); err != nil || p.OS != "linux" {
		return PlatformImage{}, fmt.Errorf("%w: %s: config platform %s is not linux/amd64 or linux/arm64", ErrInconsistentImages, r, p.String())
	}
	if entry != nil && !entry.Equals(p) {
		return PlatformImage{}, fmt.Errorf("%w: %s: index entry platform %s, config platform %s", ErrInconsistentImages, r, entry.String(), p.String())
	}
	d, err := img.Digest()
	if err != nil {
		return PlatformImage{}, fmt.Errorf("%s: %w", r, err)
	}
	return PlatformImage{Platform: p, Image: img, Digest: d}, nil
}

// openLayoutManifest finds digest h among the entries of the layout's
// index.json or of the indexes those entries name; exactly one of the
// results is non-nil.
func openLayoutManifest(dir string, h v1.Hash) (v1.Image, v1.ImageIndex, error) {
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("layout %s: %w", dir, err)
	}
	im, err := root.IndexManifest()
	if err != nil {
		return nil, nil, fmt.Errorf("layout %s: index.json: %w", dir, err)
	}
	var children []v1.Hash
	for _, d := range im.Manifests {
		switch {
		case d.Digest == h && d.MediaType.IsIndex():
			idx, err := root.ImageIndex(h)
			return nil, idx, err
		case d.Digest == h && d.MediaType.IsImage():
			img, err := root.Image(h)
			return img, nil, err
		case d.MediaType.IsIndex():
			children = append(children, d.Digest)
		}
	}
	for _, c := range children {
		sub, err := root.ImageIndex(c)
		if err != nil {
			return nil, nil, fmt.Errorf("layout %s: %s: %w", dir, c, err)
		}
		sm, err := sub.IndexManifest()
		if err != nil {
			return nil, nil, fmt.Errorf("layout %s: %s: %w", dir, c, err)
		}
		for _, d := range sm.Manifests {
			if d.Digest == h && d.MediaType.IsImage() {
				img, err := sub.Image(h)
				return img, nil, err
			}
		}
	}
	return nil, nil, fmt.Errorf("%w: layout %s holds no image or index %s", ErrNotFound, dir, h)
}

func openRemoteManifest(ctx context.Context, r Ref, h v1.Hash, opts []remote.Option) (v1.Image, v1.ImageIndex, error) {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	desc, err := remote.Get(r.DigestRef(h), opts...)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		return nil, idx, err
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		return img, nil, err
	}
	return nil, nil, fmt.Errorf("%w: %s is %s, not an image or an index", ErrInconsistentImages, h, desc.MediaType)
}
