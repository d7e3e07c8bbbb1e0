package verify

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every failure of a piece of evidence wraps one of them;
// test with errors.Is.
var (
	// ErrIdentityMismatch: the signer is not the identity the policy pins.
	// The concrete error is an *IdentityError naming the field.
	ErrIdentityMismatch = errors.New("signer identity does not match the policy")
	// ErrDigestMismatch: a valid signature over a statement about another digest.
	ErrDigestMismatch = errors.New("statement subject is another digest")
	// ErrSignature: the signature, certificate chain, transparency log entry
	// or timestamp does not verify (a tampered payload lands here).
	ErrSignature = errors.New("signature verification failed")
	// ErrMissing: no evidence of a channel for a digest.
	ErrMissing = errors.New("evidence missing")
	// ErrStale: the evidence is older than the policy allows (a scan).
	ErrStale = errors.New("evidence is stale")
	// ErrContent: the evidence verifies but says the image fails (FAILED
	// tests, a failing vulnerability gate) or is not the expected document.
	ErrContent = errors.New("evidence content rejected")
	// ErrLegacyFormat: a cosign .att/.sig artifact that cannot be read.
	ErrLegacyFormat = errors.New("malformed legacy cosign artifact")
	// ErrInvalidOptions: the verification cannot run as configured.
	ErrInvalidOptions = errors.New("invalid verification options")
)

// Identity fields named by IdentityError.Field.
const (
	FieldSAN                 = "subject alternative name (build signer URI)"
	FieldIssuer              = "issuer"
	FieldSourceRepositoryURI = "source repository URI"
	FieldSourceRepositoryRef = "source repository ref"
	FieldBuildSignerDigest   = "build signer digest"
	FieldBuilderID           = "provenance builder id"
	FieldKey                 = "public key"
)

// IdentityError says which identity field did not match.
type IdentityError struct {
	Field string
	Want  string
	Got   string
}

func (e *IdentityError) Error() string {
	return fmt.Sprintf("%v: %s is %q, policy requires %q", ErrIdentityMismatch, e.Field, e.Got, e.Want)
}

// Is makes errors.Is(err, ErrIdentityMismatch) hold.
func (e *IdentityError) Is(target error) bool { return target == ErrIdentityMismatch }
