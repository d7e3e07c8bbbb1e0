package closure

import (
	"errors"

	"github.com/clearcutt/clearcutt/internal/nixcmd"
)

// Sentinel errors. Every error returned by this package that matches one of
// them wraps it with %w, so callers test with errors.Is.
var (
	// ErrNixNotFound: the nix binary is not on PATH.
	ErrNixNotFound = nixcmd.ErrNotFound
	// ErrNixBuild: nix ran and failed, or its output was unusable.
	ErrNixBuild = errors.New("nix build failed")
	// ErrGraph: the closure graph (closure.json) is malformed or has an
	// unknown schema.
	ErrGraph = errors.New("invalid closure graph")
	// ErrManifest: a closure manifest is inconsistent (a reference outside
	// the closure, a permission escaping the root, ...).
	ErrManifest = errors.New("invalid closure manifest")
	// ErrFleet: the Nix fleet specification is invalid.
	ErrFleet = errors.New("invalid nix fleet")
	// ErrNarHash: a hash is not in the "sha256:<nix32>" or SRI form.
	ErrNarHash = errors.New("invalid nar hash")
)
