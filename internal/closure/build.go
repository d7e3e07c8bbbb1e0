package closure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/clearcutt/clearcutt/internal/nixcmd"
)

// BuildOptions selects one cell (runtime × tier × system) to build.
type BuildOptions struct {
	// FlakeDir is the repository's nix/ directory (flake.nix, flake.lock,
	// lib/). It is copied to a temporary directory with fleet.json beside
	// flake.nix; its fixtures/ sub-directory and any fleet.json are not
	// copied.
	FlakeDir string
	// Fleet is written as the staged fleet.json.
	Fleet *NixFleet
	// Runtime and Tier name the cell, as in Fleet.
	Runtime string
	Tier    string
	// System is the Nix system: x86_64-linux or aarch64-linux.
	System string
	// OverrideNixpkgs replaces the locked nixpkgs input, e.g.
	// "path:/abs/nix/fixtures" for the offline package set. Empty keeps
	// nix/flake.lock.
	OverrideNixpkgs string
	// Env is the complete environment of the nix process (NIX_CONFIG, PATH,
	// HOME, ...). The process environment is never consulted; "nix" is
	// looked up in Env's PATH.
	Env []string
	// NixOptions are passed as `--option NAME VALUE`, e.g.
	// {"extra-platforms": "aarch64-linux"} to build the fixtures' aarch64
	// cells on an x86_64 host, or {"substituters": ""} to stay offline.
	NixOptions map[string]string
	// Nix is the nix binary; empty means "nix" on Env's PATH.
	Nix string
	// TempDir holds the staged flake; empty means the system default.
	TempDir string
	// GCRoot, when set, is the path of a symlink to the built graph that
	// Nix registers as an indirect garbage-collector root, so the closure
	// survives until assembly. Empty builds without a root.
	GCRoot string
	// Progress receives nix's stderr as it runs (may be nil).
	Progress io.Writer
}

// attribute returns the flake output attribute of the cell.
func (o BuildOptions) attribute() string {
	return fmt.Sprintf("legacyPackages.%s.clearcutt.%s.%s", o.System, o.Runtime, o.Tier)
}

// Build stages the flake, runs `nix build` for the cell's graph derivation,
// reads <out>/closure.json and returns the validated manifest (with
// pruning candidates). The store paths are not registered as GC roots.
func Build(ctx context.Context, o BuildOptions) (*Manifest, error) {
	if o.FlakeDir == "" || o.Runtime == "" || o.Tier == "" || o.System == "" {
		return nil, fmt.Errorf("closure.Build: FlakeDir, Runtime, Tier and System are required")
	}
	if _, err := archOf(o.System); err != nil {
		return nil, fmt.Errorf("closure.Build: %w", err)
	}
	if o.Fleet == nil {
		return nil, fmt.Errorf("closure.Build: Fleet is required")
	}
	if _, ok := o.Fleet.Runtimes[o.Runtime]; !ok {
		return nil, fmt.Errorf("%w: runtime %q is not in the fleet (have %s)", ErrFleet, o.Runtime, strings.Join(o.Fleet.RuntimeIDs(), ", "))
	}
	nix := nixcmd.Nix{Bin: o.Nix, Env: o.Env, Options: o.NixOptions}
	if _, err := nix.Path(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(o.FlakeDir, "flake.nix")); err != nil {
		return nil, fmt.Errorf("closure.Build: %w", err)
	}
	staged, err := os.MkdirTemp(o.TempDir, "clearcutt-nix-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staged)
	if err := StageFlake(o.FlakeDir, staged); err != nil {
		return nil, fmt.Errorf("staging %s: %w", o.FlakeDir, err)
	}
	if err := WriteFleetJSON(filepath.Join(staged, "fleet.json"), o.Fleet); err != nil {
		return nil, err
	}

	installable := "path:" + staged + "#" + o.attribute() + ".graph"
	args := []string{"build", installable, "--json", "--no-write-lock-file"}
	if o.GCRoot != "" {
		// An indirect garbage-collector root: the graph references the
		// root tree, so the whole closure stays in the store until the
		// link is removed.
		args = append(args, "--out-link", o.GCRoot)
	} else {
		args = append(args, "--no-link")
	}
	if o.OverrideNixpkgs != "" {
		args = append(args, "--override-input", "nixpkgs", o.OverrideNixpkgs)
	}
	if o.Progress != nil {
		if host, err := nix.HostOptions(ctx); err == nil {
			for _, a := range host {
				fmt.Fprintf(o.Progress, "clearcutt: %s (--option %s %q)\n", a.Reason, a.Name, a.Value)
			}
		}
	}
	out, err := nix.Run(ctx, "", o.Progress, args...)
	if err != nil {
		if errors.Is(err, nixcmd.ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: building %s: %w", ErrNixBuild, o.attribute(), err)
	}
	var results []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(out, &results); err != nil || len(results) != 1 || results[0].Outputs["out"] == "" {
		return nil, fmt.Errorf("%w: %s: unexpected `nix build --json` output %q", ErrNixBuild, o.attribute(), out)
	}
	graphFile := filepath.Join(results[0].Outputs["out"], "closure.json")
	data, err := os.ReadFile(graphFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGraph, err)
	}
	g, err := ParseGraph(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", graphFile, err)
	}
	if g.System != o.System || g.Tier != o.Tier {
		return nil, fmt.Errorf("%s: %w: built %s/%s, asked for %s/%s", graphFile, ErrGraph, g.System, g.Tier, o.System, o.Tier)
	}
	src, err := filepath.Abs(o.FlakeDir)
	if err != nil {
		return nil, err
	}
	m, err := g.Manifest(o.Runtime, "path:"+src+"#"+o.attribute())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", graphFile, err)
	}
	if m.Scrub, err = readScrub(m.Root); err != nil {
		return nil, err
	}
	return m, nil
}

// StageFlake copies the flake directory src into the existing directory
// dst, leaving out fixtures/, fleet.json and result symlinks: regular files
// become 0644, directories 0755, symlinks are copied as links, and any other
// file type is an error.
func StageFlake(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		top := strings.Split(rel, string(filepath.Separator))[0]
		if top == "fixtures" || top == "fleet.json" || strings.HasPrefix(top, "result") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		}
		return fmt.Errorf("%s: unsupported file type", p)
	})
}
