package sigtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/rekor/pkg/pki"
	rekortypes "github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/rekor/pkg/types/hashedrekord"
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1" // registers hashedrekord v0.0.1
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Cosign's legacy (pre-bundle) signature layout, as written by cosign v2
// `sign` under the tag sha256-<hex>.sig.
const (
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	AnnotationSignature    = "dev.cosignproject.cosign/signature"
	CosignSignatureType    = "cosign container image signature"
)

// SimpleSigningPayload is the payload cosign signs for an image: the
// reference it was signed under and the manifest digest.
func SimpleSigningPayload(dockerReference string, digest v1.Hash) []byte {
	p, err := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": dockerReference},
			"image":    map[string]string{"docker-manifest-digest": digest.String()},
			"type":     CosignSignatureType,
		},
		"optional": nil,
	})
	if err != nil {
		panic(err)
	}
	return p
}

// LegacySignature is one layer of a cosign `.sig` image: the payload
// (layer content) and its annotations.
type LegacySignature struct {
	Payload     []byte
	Annotations map[string]string
}

// SignLegacySignature signs payload (see SimpleSigningPayload) as id the way
// cosign v2 `sign` does: an ECDSA signature over the payload, a fresh
// Fulcio certificate, and a hashedrekord v0.0.1 Rekor entry whose signed
// entry timestamp is the only log evidence.
func (s *Sigstore) SignLegacySignature(ctx context.Context, id GitHubIdentity, payload []byte) (LegacySignature, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return LegacySignature{}, err
	}
	cert, err := s.issue(id, key.Public())
	if err != nil {
		return LegacySignature{}, err
	}
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		return LegacySignature{}, err
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		return LegacySignature{}, err
	}
	chainPEM, err := cryptoutils.MarshalCertificatesToPEM([]*x509.Certificate{s.fulcioCert, s.rootCert})
	if err != nil {
		return LegacySignature{}, err
	}
	rbJSON, err := s.rekorBundleFor(ctx, hashedrekord.KIND, "0.0.1", rekortypes.ArtifactProperties{
		ArtifactHash:   "sha256:" + hex.EncodeToString(sum[:]),
		SignatureBytes: sig,
		PublicKeyBytes: [][]byte{certPEM},
		PKIFormat:      string(pki.X509),
	}, 11)
	if err != nil {
		return LegacySignature{}, err
	}
	return LegacySignature{Payload: payload, Annotations: map[string]string{
		AnnotationSignature:   base64.StdEncoding.EncodeToString(sig),
		AnnotationCertificate: string(certPEM),
		AnnotationChain:       string(chainPEM),
		AnnotationBundle:      string(rbJSON),
	}}, nil
}

// SignLegacySignature signs payload with the key, as `cosign sign --key
// --tlog-upload=false` does: the signature annotation only.
func (k *KeySigner) SignLegacySignature(payload []byte) (LegacySignature, error) {
	sig, _, err := k.kp.SignData(context.Background(), payload)
	if err != nil {
		return LegacySignature{}, fmt.Errorf("sigtest: key sign: %w", err)
	}
	return LegacySignature{Payload: payload, Annotations: map[string]string{
		AnnotationSignature: base64.StdEncoding.EncodeToString(sig),
	}}, nil
}

// LegacySignatureImage is the cosign `.sig` image holding the layers, as
// stored under the tag sha256-<hex>.sig.
func LegacySignatureImage(sigs ...LegacySignature) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, s := range sigs {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(s.Payload, SimpleSigningMediaType), Annotations: s.Annotations})
		if err != nil {
			return nil, err
		}
	}
	return img, nil
}
