package verify

import (
	"crypto"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// verified is a statement whose signature, signer and subject checked out.
type verified struct {
	Statement     *intoto.Statement
	PredicateType string
	Signer        string
	Issuer        string
	SignedAt      time.Time
	Source        string
}

// signedVerifier checks signed entities (bundles and legacy attestations)
// with sigstore-go against trusted material and an identity.
type signedVerifier struct {
	sv      *sgverify.Verifier
	keyMode bool
}

func newSignedVerifier(trusted root.TrustedMaterial, p Policy, withoutSCT bool) (*signedVerifier, error) {
	if len(p.PublicKey) > 0 {
		pub, err := cryptoutils.UnmarshalPEMToPublicKey(p.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("%w: public key: %v", ErrInvalidOptions, err)
		}
		sv, err := signature.LoadVerifier(pub, crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("%w: public key: %v", ErrInvalidOptions, err)
		}
		key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
		// The hint in a bundle is only a hint: every bundle is checked
		// against the one configured key.
		material := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
		v, err := sgverify.NewVerifier(material, sgverify.WithNoObserverTimestamps())
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
		}
		return &signedVerifier{sv: v, keyMode: true}, nil
	}
	if trusted == nil {
		return nil, fmt.Errorf("%w: no trusted root", ErrInvalidOptions)
	}
	opts := []sgverify.VerifierOption{sgverify.WithTransparencyLog(1), sgverify.WithObserverTimestamps(1)}
	if !withoutSCT {
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	v, err := sgverify.NewVerifier(trusted, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	return &signedVerifier{sv: v}, nil
}

// verify accepts entity only through sigstore-go's full policy (identity
// and artifact digest). When that fails it re-verifies without them, only
// to name the cause: a bad signature, which identity field, or the digest.
func (v *signedVerifier) verify(entity sgverify.SignedEntity, wants []Identity, digest v1.Hash) (verified, error) {
	raw, err := hex.DecodeString(digest.Hex)
	if err != nil || digest.Algorithm != "sha256" {
		return verified{}, fmt.Errorf("%w: digest %s is not sha256", ErrInvalidOptions, digest)
	}
	var policyOpts []sgverify.PolicyOption
	if v.keyMode {
		policyOpts = append(policyOpts, sgverify.WithKey())
	} else {
		// Any one of the identities may have signed.
		for _, want := range wants {
			id, err := certificateIdentity(want)
			if err != nil {
				return verified{}, err
			}
			policyOpts = append(policyOpts, sgverify.WithCertificateIdentity(id))
		}
	}
	res, err := v.sv.Verify(entity, sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", raw), policyOpts...))
	if err != nil {
		return verified{}, v.diagnose(entity, wants, digest, err)
	}
	if res.Statement == nil {
		return verified{}, fmt.Errorf("%w: not an in-toto statement", ErrSignature)
	}
	if err := singleSubject(res.Statement, digest); err != nil {
		return verified{}, err
	}
	out := verified{Statement: res.Statement, PredicateType: res.Statement.GetPredicateType()}
	if c := res.Signature.Certificate; c != nil {
		out.Signer, out.Issuer = c.SubjectAlternativeName, c.Issuer
	} else if res.Signature.PublicKeyID != nil {
		out.Signer = "key " + string(*res.Signature.PublicKeyID)
	}
	for _, ts := range res.VerifiedTimestamps {
		if out.SignedAt.IsZero() || ts.Timestamp.Before(out.SignedAt) {
			out.SignedAt = ts.Timestamp
		}
	}
	return out, nil
}

func (v *signedVerifier) diagnose(entity sgverify.SignedEntity, wants []Identity, digest v1.Hash, cause error) error {
	// Diagnosis only: nothing is accepted on this path.
	if err := v.mismatchedMode(entity); err != nil {
		return err
	}
	res, err := v.sv.Verify(entity, sgverify.NewPolicy(sgverify.WithoutArtifactUnsafe(), sgverify.WithoutIdentitiesUnsafe()))
	if err != nil {
		if v.keyMode {
			return fmt.Errorf("%w: the signature does not verify with the given key: signed by another key, or altered after signing", ErrSignature)
		}
		return fmt.Errorf("%w: %s", ErrSignature, explainKeyless(err))
	}
	if c := res.Signature.Certificate; c != nil && !v.keyMode {
		// Name the mismatch against the identity with the same SAN, if
		// any; else against the first.
		want := wants[0]
		for _, w := range wants {
			if w.SAN == c.SubjectAlternativeName {
				want = w
			}
		}
		if err := compareIdentity(want, *c); err != nil {
			return err
		}
	}
	if res.Statement != nil {
		if err := singleSubject(res.Statement, digest); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: %v", ErrSignature, cause)
}

// mismatchedMode names evidence signed the other way: a keyless bundle
// checked against a public key, or a key-signed bundle checked against a
// keyless identity.
func (v *signedVerifier) mismatchedMode(entity sgverify.SignedEntity) error {
	vc, err := entity.VerificationContent()
	if err != nil {
		return nil
	}
	cert := vc.Certificate()
	switch {
	case v.keyMode && cert != nil:
		signer := ""
		if s, err := certificate.SummarizeCertificate(cert); err == nil {
			signer = " (certificate for " + s.SubjectAlternativeName + ")"
		}
		return fmt.Errorf("%w: this bundle is keyless%s; verify it with the fleet identity, not --key", ErrSignature, signer)
	case !v.keyMode && cert == nil:
		return fmt.Errorf("%w: this bundle is signed with a key, not a Fulcio certificate; verify it with --key", ErrSignature)
	}
	return nil
}

// explainKeyless turns sigstore-go's keyless failures into what they mean
// for the evidence.
func explainKeyless(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "log entries") || strings.Contains(msg, "transparency log"):
		return "the bundle has no valid transparency log entry (" + msg + ")"
	case strings.Contains(msg, "timestamp"):
		return "the bundle has no verified signing time from the transparency log or a timestamp authority (" + msg + ")"
	case strings.Contains(msg, "certificate") || strings.Contains(msg, "x509"):
		return "the signing certificate does not chain to the trusted root (" + msg + ")"
	case strings.Contains(msg, "signature") || strings.Contains(msg, "verification"):
		return "the signature does not verify: the payload was altered after signing, or another key signed it (" + msg + ")"
	}
	return msg
}

func certificateIdentity(want Identity) (sgverify.CertificateIdentity, error) {
	san, err := sgverify.NewSANMatcher(want.SAN, "")
	if err != nil {
		return sgverify.CertificateIdentity{}, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	iss, err := sgverify.NewIssuerMatcher(want.Issuer, "")
	if err != nil {
		return sgverify.CertificateIdentity{}, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	id, err := sgverify.NewCertificateIdentity(san, iss, certificate.Extensions{
		BuildSignerURI:      want.SAN,
		BuildSignerDigest:   want.BuildSignerDigest,
		SourceRepositoryURI: want.SourceRepositoryURI,
		SourceRepositoryRef: want.SourceRepositoryRef,
	})
	if err != nil {
		return sgverify.CertificateIdentity{}, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	return id, nil
}

// compareIdentity names the first field of got that differs from want.
func compareIdentity(want Identity, got certificate.Summary) error {
	for _, f := range []struct{ field, want, got string }{
		{FieldIssuer, want.Issuer, got.Issuer},
		{FieldSAN, want.SAN, got.SubjectAlternativeName},
		{FieldSAN, want.SAN, got.BuildSignerURI},
		{FieldSourceRepositoryURI, want.SourceRepositoryURI, got.SourceRepositoryURI},
		{FieldSourceRepositoryRef, want.SourceRepositoryRef, got.SourceRepositoryRef},
		{FieldBuildSignerDigest, want.BuildSignerDigest, got.BuildSignerDigest},
	} {
		if f.want != "" && f.want != f.got {
			return &IdentityError{Field: f.field, Want: f.want, Got: f.got}
		}
	}
	return nil
}

// singleSubject requires the statement to be about exactly digest.
func singleSubject(st *intoto.Statement, digest v1.Hash) error {
	subs := st.GetSubject()
	if len(subs) != 1 {
		return fmt.Errorf("%w: statement has %d subjects, want exactly %s", ErrDigestMismatch, len(subs), digest)
	}
	if got := subs[0].GetDigest()[digest.Algorithm]; got != digest.Hex {
		return fmt.Errorf("%w: statement is about %s:%s, not %s", ErrDigestMismatch, digest.Algorithm, got, digest)
	}
	return nil
}
