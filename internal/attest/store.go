package attest

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/oci"
)

// DefaultMaxBundleSize bounds the size of one stored bundle read back.
const DefaultMaxBundleSize = 64 << 20

// Store keeps bundles as OCI referrers of the digests they are about.
type Store interface {
	// Attach stores bundleJSON as a referrer of subject and returns the
	// digest of its artifact manifest. Attaching a bundle that is already
	// stored for subject stores nothing and returns the existing digest.
	Attach(ctx context.Context, subject v1.Descriptor, bundleJSON []byte, predicateType string) (v1.Hash, error)
	// List returns the Sigstore bundles stored for subject (other
	// referrers are ignored), in the order of the referrers index. A
	// referrer that cannot be read is listed with its Err; an error
	// means the referrers index itself cannot be read.
	List(ctx context.Context, subject v1.Hash) ([]Stored, error)
	// String names the store (oci:DIR or the repository).
	String() string
}

// Stored is one bundle found by List. PredicateType and Created come from
// the unsigned manifest annotations: they help select, never prove.
type Stored struct {
	// Digest is the artifact manifest's digest.
	Digest        v1.Hash
	PredicateType string
	// MediaType is the bundle layer's media type.
	MediaType string
	Bundle    []byte
	Created   time.Time
	// Err says why the referrer could not be read (its manifest is gone,
	// a blob is corrupted or over the size limit). Bundle is then empty
	// and PredicateType is what the referrers index entry claims.
	Err error
}

// StoreOptions configure Open.
type StoreOptions struct {
	// Transport, Keychain and Backoff are used for registries (remote
	// defaults and anonymous access when nil).
	Transport http.RoundTripper
	Keychain  authn.Keychain
	Backoff   *remote.Backoff
	// Created is the creation time recorded for bundles that carry no
	// transparency-log time (key-signed bundles); Unix 0 when zero.
	Created time.Time
	// MaxBundleSize bounds a bundle read by List (DefaultMaxBundleSize
	// when zero).
	MaxBundleSize int64
}

// Open returns the store next to ref: the OCI layout directory of an
// oci:DIR reference, or the repository of a registry reference. A digest
// or tag in ref is ignored.
func Open(ref oci.Ref, o StoreOptions) (Store, error) {
	if o.MaxBundleSize == 0 {
		o.MaxBundleSize = DefaultMaxBundleSize
	}
	if ref.IsLayout() {
		return &layoutStore{dir: ref.Layout, o: o}, nil
	}
	if ref.Repo.RepositoryStr() == "" {
		return nil, fmt.Errorf("%w: %q names no layout or repository", oci.ErrBadRef, ref)
	}
	return newRegistryStore(ref, o), nil
}
