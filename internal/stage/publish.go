package stage

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/outcome"
)

// PublishOptions say where an image goes.
type PublishOptions struct {
	// To is the destination: oci:DIR, or a registry repository prefix
	// (the image goes to PREFIX/<runtime>).
	To string
	// Evidence holds the test results every platform must have.
	Evidence string
	// DigestOnly stores the index by digest and nothing else: no tag moves
	// and no layout name is written.
	DigestOnly bool
	// Keychain authenticates to registries (nil: authn.DefaultKeychain).
	Keychain authn.Keychain
	Progress Progress
}

// PublishReport is a published image index.
type PublishReport struct {
	Image         string            `json:"image"`
	Destination   string            `json:"destination"`
	Digest        string            `json:"digest"`
	Platforms     map[string]string `json:"platforms"`
	Refs          []string          `json:"refs"`
	BlobsUploaded int               `json:"blobsUploaded"`
	BlobsSkipped  int               `json:"blobsSkipped"`
	BytesUploaded int64             `json:"bytesUploaded"`
}

// Publish copies the index src names by digest from the staging layout,
// with every platform image and blob, to the destination. The image's
// name and tags come from its own labels, so the destination cannot
// disagree with what was built. Every platform must have a passing test
// result (outcome.ErrGateFailed otherwise); tags move only after the whole index is
// stored.
func Publish(ctx context.Context, f *fleet.File, src string, o PublishOptions) (PublishReport, error) {
	ref, idx, err := OpenIndex(ctx, src, "")
	if err != nil {
		return PublishReport{}, err
	}
	if !ref.IsLayout() {
		return PublishReport{}, outcome.UsageError{Err: fmt.Errorf("%s: publish copies from a staging layout (oci:DIR@sha256:…)", src)}
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) == 0 {
		return PublishReport{}, fmt.Errorf("%s: empty or unreadable index: %v", src, err)
	}
	first, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return PublishReport{}, fmt.Errorf("%s: %w", src, err)
	}
	cf, err := first.ConfigFile()
	if err != nil {
		return PublishReport{}, fmt.Errorf("%s: %w", src, err)
	}
	img, err := f.Image(cf.Config.Labels[oci.LabelRuntime], cf.Config.Labels[oci.LabelTier])
	if err != nil {
		return PublishReport{}, outcome.UsageError{Err: fmt.Errorf("%s: %w", src, err)}
	}
	if err := RequireTestEvidence(idx, o.Evidence); err != nil {
		return PublishReport{}, fmt.Errorf("%w: %w", outcome.ErrGateFailed, err)
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	update, done := ProgressOf(o.Progress).Status("publish " + img.RefName)
	defer done()
	opts, err := publishOptions(img, o.To, o.DigestOnly, kc, update)
	if err != nil {
		return PublishReport{}, err
	}
	opts.Source = ref
	res, err := oci.Publish(ctx, opts)
	if err != nil {
		return PublishReport{}, fmt.Errorf("publish %s to %s: %w", img.RefName, opts.Dest, err)
	}
	return publishReport(img, opts, res), nil
}

// publishOptions are the oci options that publish img to dest: an OCI
// layout (named by the image), or PREFIX/<runtime> in a registry with the
// image's tags; digestOnly moves no tag and writes no name.
func publishOptions(img fleet.Image, dest string, digestOnly bool, kc authn.Keychain, update func(string)) (oci.PublishOptions, error) {
	opts := oci.PublishOptions{RefName: img.RefName, Keychain: kc, Progress: Events(update)}
	var err error
	if strings.HasPrefix(dest, oci.LayoutPrefix) {
		opts.Dest, err = oci.ParseRef(dest)
	} else {
		opts.Dest, err = oci.ParseRef(strings.TrimSuffix(dest, "/") + "/" + img.Runtime)
		opts.Tags = img.Tags
	}
	if err != nil {
		return opts, outcome.UsageError{Err: fmt.Errorf("--to: %w", err)}
	}
	if digestOnly {
		opts.Tags, opts.RefName = nil, ""
	}
	return opts, nil
}

// publishReport is the report of img published with opts.
func publishReport(img fleet.Image, opts oci.PublishOptions, res oci.PublishResult) PublishReport {
	rep := PublishReport{
		Image: img.RefName, Destination: opts.Dest.String(), Digest: res.Digest.String(),
		Platforms: map[string]string{}, Refs: res.Refs,
		BlobsUploaded: res.BlobsUploaded, BlobsSkipped: res.BlobsSkipped, BytesUploaded: res.BytesUploaded,
	}
	for p, d := range res.Platforms {
		rep.Platforms[p] = d.String()
	}
	return rep
}

// PublishedRef is the by-digest reference of an image refName ("runtime:tier")
// published to dest.
func PublishedRef(dest, refName, digest string) string {
	if strings.HasPrefix(dest, oci.LayoutPrefix) {
		return dest + "@" + digest
	}
	runtime, _, _ := strings.Cut(refName, ":")
	return strings.TrimSuffix(dest, "/") + "/" + runtime + "@" + digest
}
