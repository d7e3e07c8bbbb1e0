package stage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/outcome"
)

// BuildOptions selects one matrix cell of the fleet and where its closure
// manifest goes.
type BuildOptions struct {
	Runtime, Tier, Arch string
	// Out is the directory of closure manifests:
	// OUT/<runtime>-<tier>-<arch>.json, with a garbage-collector root
	// next to it.
	Out string
	// Nixpkgs replaces the locked nixpkgs input with this flake directory
	// ("": the lock's).
	Nixpkgs string
	// Env is the environment nix runs in.
	Env []string
	// Log receives nix's build log (nil: discarded).
	Log io.Writer
}

// Build builds one cell with Nix and writes its closure manifest. It
// returns the manifest and the file written.
func Build(ctx context.Context, f *fleet.File, o BuildOptions) (*closure.Manifest, string, error) {
	if _, err := f.Image(o.Runtime, o.Tier); err != nil {
		return nil, "", outcome.UsageError{Err: err}
	}
	if !slices.Contains(f.Build.Architectures, o.Arch) {
		return nil, "", outcome.UsageError{Err: fmt.Errorf("architecture %q is not in build.architectures of %s", o.Arch, f.Path)}
	}
	sys, err := fleet.NixSystem(o.Arch)
	if err != nil {
		return nil, "", outcome.UsageError{Err: err}
	}
	override, err := NixOverride(o.Nixpkgs)
	if err != nil {
		return nil, "", err
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, "", err
	}
	cell := fmt.Sprintf("%s-%s-%s", o.Runtime, o.Tier, o.Arch)
	gcroot, err := filepath.Abs(filepath.Join(o.Out, cell+".gcroot"))
	if err != nil {
		return nil, "", err
	}
	m, err := closure.Build(ctx, closure.BuildOptions{
		GCRoot:          gcroot,
		FlakeDir:        FlakeDir(f),
		Fleet:           NixFleet(f),
		Runtime:         o.Runtime,
		Tier:            o.Tier,
		System:          sys,
		OverrideNixpkgs: override,
		Env:             o.Env,
		Progress:        logw,
	})
	if err != nil {
		if errors.Is(err, closure.ErrNixNotFound) {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("build %s: %w", cell, err)
	}
	path := filepath.Join(o.Out, cell+".json")
	if err := m.Write(path); err != nil {
		return nil, "", err
	}
	return m, path, nil
}

// NixFleet renders the part of the fleet that Nix reads (fleet.json).
func NixFleet(f *fleet.File) *closure.NixFleet {
	nf := &closure.NixFleet{
		Schema:   closure.FleetSchema,
		User:     closure.NixUser{Name: f.Build.User.Name, UID: f.Build.User.UID, GID: f.Build.User.GID},
		Tiers:    map[string]closure.NixTier{},
		Runtimes: map[string]closure.NixRuntime{},
	}
	for _, t := range fleet.AllTiers {
		tr := f.Tier(t)
		nf.Tiers[t] = closure.NixTier{Packages: nonNil(tr.Packages), CredentialHelper: tr.CredentialHelper}
	}
	for _, r := range f.Runtimes {
		nf.Runtimes[r.ID] = closure.NixRuntime{Attribute: r.Nix.Attribute, Tiers: r.Tiers, DevPackages: nonNil(r.Nix.DevPackages)}
	}
	return nf
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// FlakeDir is nix.flake of the fleet, relative to the fleet file unless
// absolute.
func FlakeDir(f *fleet.File) string {
	if filepath.IsAbs(f.Nix.Flake) {
		return f.Nix.Flake
	}
	return filepath.Join(f.Dir, f.Nix.Flake)
}

// NixOverride turns a flake directory replacing nixpkgs into a flake
// reference ("" stays "").
func NixOverride(dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(abs, "flake.nix")); err != nil {
		return "", outcome.UsageError{Err: fmt.Errorf("--nixpkgs %s: not a flake directory: %w", dir, err)}
	}
	return "path:" + abs, nil
}
