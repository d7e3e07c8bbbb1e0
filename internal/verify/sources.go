package verify

import (
	"context"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// StoredBundle is one Sigstore bundle attached to a digest (an OCI
// referrer, or an entry of the tag-fallback index).
type StoredBundle struct {
	// Digest is the artifact manifest that holds the bundle.
	Digest v1.Hash
	// PredicateType is what the artifact's annotation claims; verification
	// relies on the signed statement, never on this.
	PredicateType string
	Bundle        []byte
	Created       time.Time
	// Err says why the referrer could not be read (a manifest that is
	// gone, a corrupted blob); Bundle is then empty and PredicateType is
	// what the referrers index claims, if anything.
	Err error
}

// BundleSource lists the Sigstore bundles attached to a digest. A digest
// with none returns an empty list, not an error; a referrer that cannot be
// read is listed with its Err, so one bad referrer costs its own channel
// only.
type BundleSource interface {
	List(ctx context.Context, subject v1.Hash) ([]StoredBundle, error)
}

// LegacyLayer is one layer of a cosign legacy `.att` or `.sig` image.
type LegacyLayer struct {
	MediaType   string
	Data        []byte
	Annotations map[string]string
}

// LegacySource reads cosign's legacy tags sha256-<hex>.att and .sig of
// the repository or layout that holds the image. Absent tags give an
// empty list.
type LegacySource interface {
	Attestations(ctx context.Context, subject v1.Hash) ([]LegacyLayer, error)
	Signatures(ctx context.Context, subject v1.Hash) ([]LegacyLayer, error)
}

// Sources is where the evidence of one image is found.
type Sources struct {
	Bundles BundleSource
	// Legacy is optional; provenance written by slsa-github-generator
	// lives there (.att), and so do signatures made by cosign before
	// bundles (.sig).
	Legacy LegacySource
}
