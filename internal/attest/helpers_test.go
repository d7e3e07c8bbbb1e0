package attest

import (
	"encoding/hex"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// testIndex is an OCI index of two random platform images.
func testIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return idx
}

func descOf(t *testing.T, idx v1.ImageIndex) v1.Descriptor {
	t.Helper()
	d, err := idx.Digest()
	must(t, err)
	n, err := idx.Size()
	must(t, err)
	return v1.Descriptor{MediaType: types.OCIImageIndex, Digest: d, Size: n}
}

func platforms(t *testing.T, idx v1.ImageIndex) []v1.Descriptor {
	t.Helper()
	im, err := idx.IndexManifest()
	must(t, err)
	return im.Manifests
}

func testKey(t *testing.T) *KeySigner {
	t.Helper()
	s, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "keys", "signing.key"), true)
	must(t, err)
	return s
}

// verifyKeyBundle verifies a key-signed bundle with sigstore-go against
// the signer's public key and the digest d, and returns the statement's
// predicate type.
func verifyKeyBundle(t *testing.T, s *KeySigner, b []byte, d v1.Hash) (string, error) {
	t.Helper()
	var bun bundle.Bundle
	if err := bun.UnmarshalJSON(b); err != nil {
		return "", err
	}
	trm, err := TrustedKeyMaterial(s.PublicKey())
	must(t, err)
	v, err := verify.NewVerifier(trm, verify.WithNoObserverTimestamps())
	must(t, err)
	raw, err := hex.DecodeString(d.Hex)
	must(t, err)
	r, err := v.Verify(&bun, verify.NewPolicy(verify.WithArtifactDigest("sha256", raw), verify.WithKey()))
	if err != nil {
		return "", err
	}
	return r.Statement.GetPredicateType(), nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
