package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/stage"
)

type buildFlags struct {
	runtime, tier, arch string
	out                 string
	nixpkgs             string
	verbose             bool
	asJSON              bool
}

func (fl buildFlags) options(g *globals) stage.BuildOptions {
	o := stage.BuildOptions{Runtime: fl.runtime, Tier: fl.tier, Arch: fl.arch, Out: fl.out, Nixpkgs: fl.nixpkgs, Env: os.Environ()}
	if fl.verbose {
		o.Log = g.stderr
	}
	return o
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
printing, image codecs, ...) are reported as pruning candidates, never removed.

Exit status: 0 built and written, 2 bad flags or fleet file, 3 could not run
(nix build failed, I/O).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			m, path, err := stage.Build(cmd.Context(), f, fl.options(g))
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

func renderBuild(g *globals, m *closure.Manifest, path string) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s-%s-%s\t%s\n", m.Runtime, m.Tier, m.Arch, path)
	fmt.Fprintf(tw, "root\t%s\n", m.Root)
	fmt.Fprintf(tw, "runtime\t%s\n", m.RuntimePath)
	fmt.Fprintf(tw, "closure\t%d store paths, %s\n", len(m.Paths), humanize.IBytes(uint64(m.ClosureSize)))
	for _, c := range m.PruningCandidates {
		fmt.Fprintf(tw, "pruning candidate\t%s (%s, %s)\n", c.Pname, c.Feature, humanize.IBytes(uint64(c.NarSize)))
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
