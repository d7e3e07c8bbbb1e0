package sigtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/rekor/pkg/pki"
	rekortypes "github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/rekor/pkg/types/intoto"
	_ "github.com/sigstore/rekor/pkg/types/intoto/v0.0.2" // registers intoto v0.0.2
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Cosign's legacy (pre-bundle) attestation layout, as written by cosign v2
// `attest` and therefore by slsa-github-generator's container workflow.
const (
	DSSELayerMediaType    = "application/vnd.dsse.envelope.v1+json"
	AnnotationCertificate = "dev.sigstore.cosign/certificate"
	AnnotationChain       = "dev.sigstore.cosign/chain"
	AnnotationBundle      = "dev.sigstore.cosign/bundle"
	AnnotationPredicate   = "predicateType"
)

// rekorBundle is cosign's `dev.sigstore.cosign/bundle` annotation.
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

// LegacyAttestation is one layer of a cosign `.att` image.
type LegacyAttestation struct {
	Envelope    []byte
	Annotations map[string]string
}

// SignLegacyAttestation signs statement as id the way cosign v2 `attest`
// does: a DSSE envelope, a fresh Fulcio certificate, and an intoto v0.0.2
// Rekor entry whose signed entry timestamp is the only log evidence.
func (s *Sigstore) SignLegacyAttestation(ctx context.Context, id GitHubIdentity, statement []byte) (LegacyAttestation, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return LegacyAttestation{}, err
	}
	cert, err := s.issue(id, key.Public())
	if err != nil {
		return LegacyAttestation{}, err
	}
	sum := sha256.Sum256(dsse.PAE(InTotoPayloadType, statement))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		return LegacyAttestation{}, err
	}
	env, err := json.Marshal(dsse.Envelope{
		PayloadType: InTotoPayloadType,
		Payload:     base64.StdEncoding.EncodeToString(statement),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		return LegacyAttestation{}, err
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		return LegacyAttestation{}, err
	}
	chainPEM, err := cryptoutils.MarshalCertificatesToPEM([]*x509.Certificate{s.fulcioCert, s.rootCert})
	if err != nil {
		return LegacyAttestation{}, err
	}

	rbJSON, err := s.rekorBundleFor(ctx, intoto.KIND, "0.0.2", rekortypes.ArtifactProperties{
		ArtifactBytes:  env,
		PublicKeyBytes: [][]byte{certPEM},
		PKIFormat:      string(pki.X509),
	}, 7)
	if err != nil {
		return LegacyAttestation{}, err
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	_ = json.Unmarshal(statement, &st)
	return LegacyAttestation{Envelope: env, Annotations: map[string]string{
		AnnotationCertificate: string(certPEM),
		AnnotationChain:       string(chainPEM),
		AnnotationBundle:      string(rbJSON),
		AnnotationPredicate:   st.PredicateType,
	}}, nil
}

// LegacyAttestationImage is the cosign `.att` image holding the layers, as
// stored under the tag sha256-<hex>.att.
func LegacyAttestationImage(atts ...LegacyAttestation) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, a := range atts {
		layer := static.NewLayer(a.Envelope, DSSELayerMediaType)
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, Annotations: a.Annotations})
		if err != nil {
			return nil, err
		}
	}
	return img, nil
}

// rekorBundleFor canonicalises a proposed Rekor entry, signs its entry
// timestamp with the virtual log and returns cosign's
// dev.sigstore.cosign/bundle annotation (JSON).
func (s *Sigstore) rekorBundleFor(ctx context.Context, kind, version string, props rekortypes.ArtifactProperties, logIndex int64) ([]byte, error) {
	proposed, err := rekortypes.NewProposedEntry(ctx, kind, version, props)
	if err != nil {
		return nil, fmt.Errorf("sigtest: %s entry: %w", kind, err)
	}
	impl, err := rekortypes.CreateVersionedEntry(proposed)
	if err != nil {
		return nil, fmt.Errorf("sigtest: %s entry: %w", kind, err)
	}
	body, err := rekortypes.CanonicalizeEntry(ctx, impl)
	if err != nil {
		return nil, fmt.Errorf("sigtest: canonical %s entry: %w", kind, err)
	}
	now := s.now().Unix()
	set, err := s.signEntryTimestamp(body, now, logIndex)
	if err != nil {
		return nil, err
	}
	logID, err := s.vs.RekorLogID()
	if err != nil {
		return nil, err
	}
	var rb rekorBundle
	rb.SignedEntryTimestamp = set
	rb.Payload.Body = base64.StdEncoding.EncodeToString(body)
	rb.Payload.IntegratedTime = now
	rb.Payload.LogIndex = logIndex
	rb.Payload.LogID = logID
	return json.Marshal(rb)
}
