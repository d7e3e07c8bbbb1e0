package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Cosign's legacy signature image sha256-<hex>.sig: one layer per
// signature, the layer being the simple-signing payload.
const (
	LegacySimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// CosignSignatureType is the payload's critical.type.
	CosignSignatureType = "cosign container image signature"
	annotationSignature = "dev.cosignproject.cosign/signature"
	annotationRFC3161   = "dev.sigstore.cosign/rfc3161timestamp"
)

// Signatures returns the simple-signing layers of sha256-<hex>.sig.
func (r *LegacyReader) Signatures(ctx context.Context, subject v1.Hash) ([]LegacyLayer, error) {
	return r.layers(ctx, subject.Algorithm+"-"+subject.Hex+".sig")
}

// simpleSigning is the payload cosign signs for an image.
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// legacySignature is a cosign `.sig` layer seen as a sigstore-go signed
// entity: a message signature over the payload, the Fulcio certificate (or
// nothing in key mode), the hashedrekord entry with its inclusion promise
// and any RFC 3161 timestamp over the signature.
type legacySignature struct {
	sgverify.BaseSignedEntity
	payload    []byte
	sig        []byte
	cert       *x509.Certificate
	entry      *tlog.Entry
	timestamps [][]byte
}

func (e *legacySignature) HasInclusionPromise() bool { return e.entry != nil }
func (e *legacySignature) HasInclusionProof() bool   { return false }
func (e *legacySignature) VerificationContent() (sgverify.VerificationContent, error) {
	if e.cert == nil {
		// The key is the one configured; cosign records no hint.
		return &bundle.PublicKey{}, nil
	}
	return bundle.NewCertificate(e.cert), nil
}
func (e *legacySignature) SignatureContent() (sgverify.SignatureContent, error) {
	sum := sha256.Sum256(e.payload)
	return bundle.NewMessageSignature(sum[:], "SHA2_256", e.sig), nil
}
func (e *legacySignature) Timestamps() ([][]byte, error) { return e.timestamps, nil }
func (e *legacySignature) TlogEntries() ([]*tlog.Entry, error) {
	if e.entry == nil {
		return nil, nil
	}
	return []*tlog.Entry{e.entry}, nil
}
func (e *legacySignature) Version() (string, error) { return "v0.1", nil }

// parseLegacySignature turns one `.sig` layer into a legacySignature.
// Only the layer's digest has been checked: nothing here is trusted yet.
func parseLegacySignature(l LegacyLayer) (*legacySignature, error) {
	if l.MediaType != LegacySimpleSigningMediaType {
		return nil, fmt.Errorf("%w: layer media type %q", ErrLegacyFormat, l.MediaType)
	}
	sig, err := base64.StdEncoding.DecodeString(l.Annotations[annotationSignature])
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("%w: %s annotation holds no base64 signature", ErrLegacyFormat, annotationSignature)
	}
	e := &legacySignature{payload: l.Data, sig: sig}
	if pem := l.Annotations[annotationCertificate]; pem != "" {
		certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(pem))
		if err != nil || len(certs) == 0 {
			return nil, fmt.Errorf("%w: %s annotation holds no certificate", ErrLegacyFormat, annotationCertificate)
		}
		e.cert = certs[0]
	}
	if js := l.Annotations[annotationBundle]; js != "" {
		var rb rekorBundle
		if err := json.Unmarshal([]byte(js), &rb); err != nil {
			return nil, fmt.Errorf("%w: %s annotation: %v", ErrLegacyFormat, annotationBundle, err)
		}
		body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: rekor entry body: %v", ErrLegacyFormat, err)
		}
		logID, err := hex.DecodeString(rb.Payload.LogID)
		if err != nil {
			return nil, fmt.Errorf("%w: rekor log id: %v", ErrLegacyFormat, err)
		}
		e.entry, err = tlog.NewEntry(body, rb.Payload.IntegratedTime, rb.Payload.LogIndex, logID, rb.SignedEntryTimestamp, nil) //nolint:staticcheck // Rekor v1 entries are what cosign's legacy tags carry
		if err != nil {
			return nil, fmt.Errorf("%w: rekor entry: %v", ErrLegacyFormat, err)
		}
	}
	if js := l.Annotations[annotationRFC3161]; js != "" {
		var ts struct {
			SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
		}
		if err := json.Unmarshal([]byte(js), &ts); err != nil || len(ts.SignedRFC3161Timestamp) == 0 {
			return nil, fmt.Errorf("%w: %s annotation holds no timestamp", ErrLegacyFormat, annotationRFC3161)
		}
		e.timestamps = [][]byte{ts.SignedRFC3161Timestamp}
	}
	return e, nil
}

// verifyLegacySignature verifies a `.sig` layer as sigstore-go verifies a
// message-signature bundle — the payload is the artifact — under the
// same identity (or key) as bundles, then requires the signed payload to
// name digest.
func (v *signedVerifier) verifyLegacySignature(e *legacySignature, want Identity, digest v1.Hash) (verified, error) {
	if e.cert == nil && !v.keyMode {
		return verified{}, fmt.Errorf("%w: %s annotation is missing (keyless signatures carry their certificate)", ErrLegacyFormat, annotationCertificate)
	}
	var policyOpts []sgverify.PolicyOption
	if v.keyMode {
		policyOpts = append(policyOpts, sgverify.WithKey())
	} else {
		id, err := certificateIdentity(want)
		if err != nil {
			return verified{}, err
		}
		policyOpts = append(policyOpts, sgverify.WithCertificateIdentity(id))
	}
	res, err := v.sv.Verify(e, sgverify.NewPolicy(sgverify.WithArtifact(bytes.NewReader(e.payload)), policyOpts...))
	if err != nil {
		// Diagnosis only: re-verify without the identity to name the
		// field that differs; nothing is accepted on this path.
		if !v.keyMode {
			if r, derr := v.sv.Verify(e, sgverify.NewPolicy(sgverify.WithArtifact(bytes.NewReader(e.payload)), sgverify.WithoutIdentitiesUnsafe())); derr == nil && r.Signature.Certificate != nil {
				if ierr := compareIdentity(want, *r.Signature.Certificate); ierr != nil {
					return verified{}, ierr
				}
			}
		}
		return verified{}, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	var p simpleSigning
	if err := json.Unmarshal(e.payload, &p); err != nil {
		return verified{}, fmt.Errorf("%w: signed payload is not simple-signing JSON: %v", ErrLegacyFormat, err)
	}
	if p.Critical.Type != CosignSignatureType {
		return verified{}, fmt.Errorf("%w: signed payload type %q, want %q", ErrLegacyFormat, p.Critical.Type, CosignSignatureType)
	}
	if got := p.Critical.Image.DockerManifestDigest; got != digest.String() {
		return verified{}, fmt.Errorf("%w: signature payload names %s (%s), not %s", ErrDigestMismatch, got, p.Critical.Identity.DockerReference, digest)
	}
	out := verified{PredicateType: LegacySimpleSigningMediaType, Source: sourceLegacy}
	if c := res.Signature.Certificate; c != nil {
		out.Signer, out.Issuer = c.SubjectAlternativeName, c.Issuer
	} else {
		// Cosign records no key hint in a .sig layer.
		out.Signer = "configured public key"
	}
	for _, ts := range res.VerifiedTimestamps {
		if out.SignedAt.IsZero() || ts.Timestamp.Before(out.SignedAt) {
			out.SignedAt = ts.Timestamp
		}
	}
	return out, nil
}

// collectLegacySignatures adds every `.sig` layer of t to the signature
// channel: verified ones as evidence, the others as rejected.
func collectLegacySignatures(ctx context.Context, o Options, sv *signedVerifier, t target, f *found) error {
	layers, err := o.Sources.Legacy.Signatures(ctx, t.digest)
	if err != nil {
		return fmt.Errorf("legacy signatures of %s: %w", t.digest, err)
	}
	for i, l := range layers {
		e, err := parseLegacySignature(l)
		if err == nil {
			var v verified
			if v, err = sv.verifyLegacySignature(e, o.Policy.Signer, t.digest); err == nil {
				f.ok = append(f.ok, v)
				continue
			}
		}
		f.bad = append(f.bad, fmt.Errorf(".sig layer %d: %w", i, err))
	}
	return nil
}
