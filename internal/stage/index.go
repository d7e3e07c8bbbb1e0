package stage

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/outcome"
)

// IndexOptions name the platform images an index combines and where it
// goes.
type IndexOptions struct {
	Runtime, Tier string
	// Platforms are the platform images by digest, one per architecture
	// (each published by a job of its own, by digest only).
	Platforms []string
	// AllowPartialUnsafe publishes without the architectures of
	// build.architectures that have no platform image.
	AllowPartialUnsafe bool
	// ExpectDigest, when set, is the digest the combined index must have.
	ExpectDigest string
	// To, Evidence and DigestOnly are as for Publish.
	To         string
	Evidence   string
	DigestOnly bool
	// Keychain authenticates to registries (nil: authn.DefaultKeychain).
	Keychain authn.Keychain
	Progress Progress
}

// IndexReport is a published index combined from platform images, and
// the architectures of build.architectures it lacks (only with
// AllowPartialUnsafe).
type IndexReport struct {
	PublishReport
	Missing []string `json:"missingArchitectures,omitempty"`
}

// Index combines the platform images of one image, each labelled with its
// runtime and tier and each with a passing test result, into the image's
// index and publishes it as Publish does.
func Index(ctx context.Context, f *fleet.File, o IndexOptions) (IndexReport, error) {
	img, err := f.Image(o.Runtime, o.Tier)
	if err != nil {
		return IndexReport{}, outcome.UsageError{Err: err}
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	var ims []oci.PlatformImage
	from := map[string]string{} // architecture -> platform reference
	for _, s := range o.Platforms {
		ref, err := oci.RequireDigest(s)
		if err != nil {
			return IndexReport{}, outcome.UsageError{Err: fmt.Errorf("--platform: %w", err)}
		}
		pi, err := oci.OpenPlatformImage(ctx, ref, remote.WithAuthFromKeychain(kc))
		if err != nil {
			return IndexReport{}, fmt.Errorf("--platform: %w", err)
		}
		cf, err := pi.Image.ConfigFile()
		if err != nil {
			return IndexReport{}, fmt.Errorf("--platform %s: config: %w", s, err)
		}
		for _, l := range [][2]string{{oci.LabelRuntime, o.Runtime}, {oci.LabelTier, o.Tier}} {
			if got := cf.Config.Labels[l[0]]; got != l[1] {
				return IndexReport{}, outcome.UsageError{Err: fmt.Errorf("--platform %s: image label %s=%q, want %q", s, l[0], got, l[1])}
			}
		}
		arch := pi.Platform.Architecture
		if prev, ok := from[arch]; ok {
			return IndexReport{}, outcome.UsageError{Err: fmt.Errorf("--platform %s and %s are both %s", prev, s, arch)}
		}
		if !slices.Contains(img.Architectures, arch) {
			return IndexReport{}, outcome.UsageError{Err: fmt.Errorf("--platform %s is %s, not in build.architectures %v", s, arch, img.Architectures)}
		}
		from[arch] = s
		ims = append(ims, pi)
	}
	var missing []string
	for _, a := range img.Architectures {
		if _, ok := from[a]; !ok {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 && !o.AllowPartialUnsafe {
		return IndexReport{}, outcome.UsageError{Err: fmt.Errorf("%s: no --platform for architecture %s of build.architectures (--allow-partial-unsafe publishes without it)", img.RefName, strings.Join(missing, ", "))}
	}
	idx, err := oci.NewIndex(ims)
	if err != nil {
		return IndexReport{}, outcome.UsageError{Err: fmt.Errorf("%s: %w", img.RefName, err)}
	}
	if err := RequireTestEvidence(idx, o.Evidence); err != nil {
		return IndexReport{}, fmt.Errorf("%w: %w", outcome.ErrGateFailed, err)
	}
	if o.ExpectDigest != "" {
		want, err := v1.NewHash(o.ExpectDigest)
		if err != nil {
			return IndexReport{}, outcome.UsageError{Err: fmt.Errorf("--expect-digest: %w", err)}
		}
		got, err := idx.Digest()
		if err != nil {
			return IndexReport{}, err
		}
		if got != want {
			return IndexReport{}, fmt.Errorf("%w: %s: the platforms combine into %s, not the expected %s", outcome.ErrGateFailed, img.RefName, got, want)
		}
	}
	update, done := ProgressOf(o.Progress).Status("index " + img.RefName)
	defer done()
	opts, err := publishOptions(img, o.To, o.DigestOnly, kc, update)
	if err != nil {
		return IndexReport{}, err
	}
	res, err := oci.PublishIndex(ctx, idx, opts)
	if err != nil {
		return IndexReport{}, fmt.Errorf("index %s to %s: %w", img.RefName, opts.Dest, err)
	}
	sort.Strings(missing)
	return IndexReport{PublishReport: publishReport(img, opts, res), Missing: missing}, nil
}
