package cli

import (
	"fmt"
	"os"
	"strings"

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
	t := table{}
	t.add(fmt.Sprintf("%s-%s-%s", m.Runtime, m.Tier, m.Arch), path)
	t.add("root", m.Root)
	t.add("runtime", m.RuntimePath)
	t.add("closure", fmt.Sprintf("%d store paths, %s", len(m.Paths), humanize.IBytes(uint64(m.ClosureSize))))
	for _, c := range m.PruningCandidates {
		t.add("pruning candidate", fmt.Sprintf("%s (%s, %s)", c.Pname, c.Feature, humanize.IBytes(uint64(c.NarSize))))
	}
	// The files scrubbed are a table of their own: a path is as wide as it
	// is, and the reason after it wraps.
	var files table
	if s := m.Scrub; s != nil {
		removed := "nothing"
		if len(s.RemovedFromClosure) > 0 {
			removed = strings.Join(s.RemovedFromClosure, ", ")
		}
		t.add("removed from the closure", removed)
		for _, f := range s.Files {
			files.add("", f.Action, f.Path, f.Reason)
		}
	}
	if err := t.write(g.stdout, tableWidth); err != nil {
		return err
	}
	return files.write(g.stdout, tableWidth)
}
