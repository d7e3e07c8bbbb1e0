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
	// ErrSignerMismatch: what a signer would sign does not verify under
	// the policy (Policy.CheckSigner): a key signature under a keyless
	// policy, a keyless one under a public key, or another key.
	ErrSignerMismatch = errors.New("the signer's evidence would not verify under the policy")
)

// Errors of NewPolicy; each is also an ErrInvalidOptions.
var (
	// ErrConflictingOptions: two options that cannot both hold (a public
	// key and a keyless value, a rescan identity and
	// WithoutRescanIdentity), or an option the evidence does not take.
	ErrConflictingOptions error = policyError("conflicting policy options")
	// ErrRepeatedOption: an option given twice with different values.
	ErrRepeatedOption error = policyError("a policy option given twice with different values")
	// ErrIncompleteIdentity: a keyless signer identity without a value it
	// needs, or a value (an issuer, a source repository or ref) with no
	// identity to apply to.
	ErrIncompleteIdentity error = policyError("incomplete signer identity")
)

// policyError is a sentinel of NewPolicy: errors.Is also matches it with
// ErrInvalidOptions.
type policyError string

func (e policyError) Error() string { return string(e) }

// Is makes errors.Is(err, ErrInvalidOptions) hold.
func (e policyError) Is(target error) bool { return target == ErrInvalidOptions }

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
