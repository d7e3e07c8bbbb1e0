// Package appimage builds application images on the fleet's base images and
// keeps them on a current base.
//
// Build adds an application's files as layers of their own on top of every
// platform image of a verified fleet base, reproducibly (fixed timestamps,
// sorted entries, files owned by the base's non-root user), and records
// where the base ends: the number of base layers and the diff_id of the
// last one, next to the OCI base.digest and base.name labels. DiffBase
// compares the base an application image was built on with a candidate of
// the same runtime line, from the two bases' verified SBOMs and
// vulnerability attestations. Rebase swaps the base layers of a signed
// application image for those of a new verified base, keeps the
// application layers byte for byte, and describes the swap in a rebase
// attestation (PredicateRebase) signed with internal/attest.
//
// The package verifies through a Verifier the caller composes (the CLI
// passes internal/verify with the fleet identity, or the application
// repository's identity for the application's own signature); it never
// reads the process environment and never prints.
package appimage

import "errors"

// Sentinel errors. Every refusal wraps one of them; test with errors.Is.
var (
	// ErrBaseRejected: a base image did not pass verification (a channel
	// failed, is missing or pending).
	ErrBaseRejected = errors.New("base image not verified")
	// ErrBuildOnlyBase: the base is of a build-time tier (dev), which is
	// never deployed.
	ErrBuildOnlyBase = errors.New("base image is of a build-time tier")
	// ErrNotFleetBase: the base carries no runtime and tier labels, runs as
	// root, or its platforms disagree: it is not a fleet base image.
	ErrNotFleetBase = errors.New("not a fleet base image")
	// ErrIncompatible: a base is not of the application's runtime line
	// (runtime and tier), lacks one of its architectures, or runs as
	// another user.
	ErrIncompatible = errors.New("incompatible base image")
	// ErrNoBoundary: an image carries no valid app boundary labels, so
	// where its base ends is unknown.
	ErrNoBoundary = errors.New("image has no app boundary")
	// ErrAppSignature: the application image's own signature does not
	// verify against the application identity.
	ErrAppSignature = errors.New("application image signature not verified")
	// ErrBadArtifact: an artifact cannot be read or holds a file type an
	// image layer cannot carry.
	ErrBadArtifact = errors.New("invalid artifact")
	// ErrBadOptions: the options are incomplete or contradictory.
	ErrBadOptions = errors.New("invalid options")
)
