// Package remediate turns the catalog's vulnerability findings into
// remediation work. A plan groups the active findings that have a known fix
// by package, finds the package-set attribute each package comes from and
// whether the locked package set (nixpkgs as nix/flake.lock pins it, with
// nix/overlays/pins.nix) or only a newer package set carries a fixed
// version, and ranks the actions by exploitation (CISA's Known Exploited
// Vulnerabilities catalog), severity and how cheap the fix is.
//
// A draft makes one action's change to the fleet repository's working tree
// — a flake.lock update of the nixpkgs input, or a pin in
// nix/overlays/pins.nix — and describes it for review: the package diff of
// each rebuilt image's SBOM, the vulnerability delta and the VEX statements
// that stop applying. DraftChange is that workflow; it reaches Nix through
// Flakes and rebuilds the images through a Rebuilder (package pipeline's
// runs the release's own stages and gates), so it is tested without
// either. A person reviews and merges. Nothing here pushes, merges or
// deploys.
//
// The package runs nix and git with the environment it is given and never
// reads the process environment.
package remediate
