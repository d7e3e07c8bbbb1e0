package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fleet"
)

func init() { extraCommands = append(extraCommands, newBuildCmd) }

type buildFlags struct {
	runtime, tier, arch string
	out                 string
	nixpkgs             string
	verbose             bool
	asJSON              bool
}

func newBuildCmd(g *globals) *cobra.Command {
	var fl buildFlags
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build one matrix cell with Nix and write its closure manifest",
		Long: `build runs 'nix build' for one runtime, tier and architecture of the fleet,
reads the closure graph that nix/lib emits (every store path with its NAR hash,
size and references) and writes the closure manifest that 'clearcutt assemble'
consumes to OUT/<runtime>-<tier>-<arch>.json. Optional-feature packages (fonts,
printing, image codecs, ...) are reported as pruning candidates, never removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			m, path, err := runBuild(cmd.Context(), g, f, fl)
			g.report(buildOutcome{m, path})
			if err != nil {
				return err
			}
			if fl.asJSON {
				return writeJSON(g.stdout, m)
			}
			return renderBuild(g, m, path)
		},
	}
	cmd.Flags().StringVar(&fl.runtime, "runtime", "", "runtime id (required)")
	cmd.Flags().StringVar(&fl.tier, "tier", "", "tier: distroless, slim or dev (required)")
	cmd.Flags().StringVar(&fl.arch, "arch", "", "architecture: amd64 or arm64 (required)")
	cmd.Flags().StringVar(&fl.out, "out", "out/closures", "directory the closure manifest is written to")
	cmd.Flags().StringVar(&fl.nixpkgs, "nixpkgs", "", "replace the locked nixpkgs input with this flake (e.g. nix/fixtures, the offline package set)")
	cmd.Flags().BoolVarP(&fl.verbose, "verbose", "v", false, "stream nix's build log")
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the manifest as JSON")
	for _, n := range []string{"runtime", "tier", "arch"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// nixFleetOf renders the part of the fleet that Nix reads (fleet.json).
func nixFleetOf(f *fleet.File) *closure.NixFleet {
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

// flakeDir is nix.flake, relative to the fleet file unless absolute.
func flakeDir(f *fleet.File) string {
	if filepath.IsAbs(f.Nix.Flake) {
		return f.Nix.Flake
	}
	return filepath.Join(f.Dir, f.Nix.Flake)
}

// nixOverride turns --nixpkgs into a flake reference.
func nixOverride(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(abs, "flake.nix")); err != nil {
		return "", usageError{fmt.Errorf("--nixpkgs %s: not a flake directory: %w", p, err)}
	}
	return "path:" + abs, nil
}

func runBuild(ctx context.Context, g *globals, f *fleet.File, fl buildFlags) (*closure.Manifest, string, error) {
	if _, err := f.Image(fl.runtime, fl.tier); err != nil {
		return nil, "", usageError{err}
	}
	if !containsString(f.Build.Architectures, fl.arch) {
		return nil, "", usageError{fmt.Errorf("architecture %q is not in build.architectures of %s", fl.arch, f.Path)}
	}
	sys, err := fleet.NixSystem(fl.arch)
	if err != nil {
		return nil, "", usageError{err}
	}
	override, err := nixOverride(fl.nixpkgs)
	if err != nil {
		return nil, "", err
	}
	var logw io.Writer = io.Discard
	if fl.verbose {
		logw = g.stderr
	}
	if err := os.MkdirAll(fl.out, 0o755); err != nil {
		return nil, "", err
	}
	cell := fmt.Sprintf("%s-%s-%s", fl.runtime, fl.tier, fl.arch)
	gcroot, err := filepath.Abs(filepath.Join(fl.out, cell+".gcroot"))
	if err != nil {
		return nil, "", err
	}
	m, err := closure.Build(ctx, closure.BuildOptions{
		GCRoot:          gcroot,
		FlakeDir:        flakeDir(f),
		Fleet:           nixFleetOf(f),
		Runtime:         fl.runtime,
		Tier:            fl.tier,
		System:          sys,
		OverrideNixpkgs: override,
		Env:             os.Environ(),
		Progress:        logw,
	})
	if err != nil {
		if errors.Is(err, closure.ErrNixNotFound) {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("build %s-%s-%s: %w", fl.runtime, fl.tier, fl.arch, err)
	}
	path := filepath.Join(fl.out, cell+".json")
	if err := m.Write(path); err != nil {
		return nil, "", err
	}
	return m, path, nil
}

func renderBuild(g *globals, m *closure.Manifest, path string) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s-%s-%s\t%s\n", m.Runtime, m.Tier, m.Arch, path)
	fmt.Fprintf(tw, "root\t%s\n", m.Root)
	fmt.Fprintf(tw, "runtime\t%s\n", m.RuntimePath)
	fmt.Fprintf(tw, "closure\t%d store paths, %s\n", len(m.Paths), humanBytes(m.ClosureSize))
	for _, c := range m.PruningCandidates {
		fmt.Fprintf(tw, "pruning candidate\t%s (%s, %s)\n", c.Pname, c.Feature, humanBytes(c.NarSize))
	}
	if s := m.Scrub; s != nil {
		removed := "nothing"
		if len(s.RemovedFromClosure) > 0 {
			removed = strings.Join(s.RemovedFromClosure, ", ")
		}
		fmt.Fprintf(tw, "removed from the closure\t%s\n", removed)
		for _, f := range s.Files {
			fmt.Fprintf(tw, "  %s %s\t%s\n", f.Action, f.Path, f.Reason)
		}
	}
	return tw.Flush()
}
