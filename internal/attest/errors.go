// Package attest signs image digests and evidence statements with
// sigstore-go and stores the resulting Sigstore bundles (v0.3) next to the
// image as OCI referrers, the layout cosign v3 writes: one artifact manifest
// per bundle whose subject is the image or index it is about. Registries
// without the referrers API get the "sha256-<hex>" tag fallback index, and
// OCI layouts record the same index in index.json under that name, so one
// reader (List) serves every kind of store.
package attest

import "errors"

// Sentinel errors; every error of one of these classes wraps it.
var (
	// ErrKeyPermissions: a private key file is readable by group or other.
	ErrKeyPermissions = errors.New("private key file is accessible by group or other")
	// ErrNoKey: the key file does not exist and creating it was not asked for.
	ErrNoKey = errors.New("signing key not found")
	// ErrBadKey: the key file is not a PEM PKCS#8 ECDSA P-256 private key.
	ErrBadKey = errors.New("invalid signing key")
	// ErrBadStatement: a statement is not an in-toto Statement v1 with one
	// subject, or has an unexpected predicate type.
	ErrBadStatement = errors.New("invalid in-toto statement")
	// ErrDigestMismatch: the index supplied to Run is not the one its
	// reference names by digest.
	ErrDigestMismatch = errors.New("the supplied index is not the one the reference names")
	// ErrSubjectMismatch: an evidence statement is about another digest.
	ErrSubjectMismatch = errors.New("statement subject is not the image digest")
	// ErrMissingEvidence: a required evidence file is absent.
	ErrMissingEvidence = errors.New("missing evidence")
	// ErrBadEvidence: an evidence file cannot be read or is not the
	// document it must be.
	ErrBadEvidence = errors.New("invalid evidence")
	// ErrBadArtifact: a stored referrer claims to be a bundle but is not
	// well formed (wrong subject, digest mismatch, several layers).
	ErrBadArtifact = errors.New("invalid bundle artifact")
	// ErrIDToken: no OIDC identity token could be obtained for keyless
	// signing.
	ErrIDToken = errors.New("no OIDC identity token")
	// ErrCertificateValidity: the certificate authority returned a
	// certificate that is not valid yet or expires too soon to sign with.
	ErrCertificateValidity = errors.New("the signing certificate is outside its validity period")
	// ErrTokenIdentity: the OIDC token does not name the identity
	// verification pins (KeylessOptions.Expect); no certificate was
	// requested with it.
	ErrTokenIdentity = errors.New("refusing to sign: the OIDC token does not name the identity verification pins")
	// ErrPrivateRepository: the OIDC token is of a repository that is not
	// public, and KeylessOptions.PrivateRepository does not accept that;
	// no certificate was requested with it.
	ErrPrivateRepository = errors.New("refusing to sign keyless for a repository that is not public")
)
