package stage

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// Verifier verifies the evidence stored next to published image indexes
// under one policy. It implements pipeline.Verifier.
type Verifier struct {
	Policy verify.Policy
	// Trusted is the Sigstore trusted material of keyless signatures (nil
	// when the policy names a key).
	Trusted          root.TrustedMaterial
	WithoutSCTUnsafe bool
	// Keychain authenticates to registries (nil: authn.DefaultKeychain).
	Keychain authn.Keychain
	Progress Progress
}

// Verify verifies every evidence channel of the index refStr names by
// digest.
func (v Verifier) Verify(ctx context.Context, refStr string) (verify.Report, error) {
	ref, idx, err := OpenIndex(ctx, refStr, "")
	if err != nil {
		return verify.Report{}, err
	}
	return v.VerifyIndex(ctx, ref, idx)
}

// VerifyIndex verifies every evidence channel of idx, read from ref.
func (v Verifier) VerifyIndex(ctx context.Context, ref oci.Ref, idx v1.ImageIndex) (verify.Report, error) {
	d, _ := ref.Hash()
	kc := v.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	store, err := attest.Open(ref, attest.StoreOptions{Keychain: kc})
	if err != nil {
		return verify.Report{}, err
	}
	sources := verify.Sources{Bundles: bundleSource{store}}
	if ref.IsLayout() {
		sources.Legacy = verify.NewLayoutLegacyReader(ref.Layout)
	} else {
		sources.Legacy = verify.NewRegistryLegacyReader(ref.Repo, remote.WithAuthFromKeychain(kc))
	}
	update, done := ProgressOf(v.Progress).Status("verify " + ref.String())
	rep, err := verify.Run(ctx, verify.Options{
		Image: ref.String(), Index: idx, IndexDigest: d, Sources: sources, Trusted: v.Trusted,
		Policy: v.Policy, WithoutSCTUnsafe: v.WithoutSCTUnsafe, Progress: update,
	})
	done()
	if err != nil {
		return rep, fmt.Errorf("verify %s: %w", ref, err)
	}
	return rep, nil
}

// bundleSource adapts attest's store to what verify reads.
type bundleSource struct{ s attest.Store }

func (b bundleSource) List(ctx context.Context, d v1.Hash) ([]verify.StoredBundle, error) {
	stored, err := b.s.List(ctx, d)
	if err != nil {
		return nil, err
	}
	out := make([]verify.StoredBundle, 0, len(stored))
	for _, s := range stored {
		out = append(out, verify.StoredBundle{Digest: s.Digest, PredicateType: s.PredicateType, Bundle: s.Bundle, Created: s.Created, Err: s.Err})
	}
	return out, nil
}
