package cli

import (
	"fmt"
	"os/exec"
	"strings"

	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/spf13/cobra"
)

type testFlags struct {
	evidence     string
	runc         string
	noSmoke      bool
	requireSmoke bool
	asJSON       bool
}

func (fl testFlags) options(g *globals) stage.TestOptions {
	return stage.TestOptions{Evidence: fl.evidence, Runc: runcPath(fl.runc, fl.noSmoke), RequireSmoke: fl.requireSmoke, Progress: g}
}

// runcPath is the runc binary smoke runs use: flag, else runc on PATH;
// none with noSmoke or when there is no runc.
func runcPath(flag string, noSmoke bool) string {
	if noSmoke {
		return ""
	}
	if flag == "" {
		flag, _ = exec.LookPath("runc")
	}
	return flag
}

func newTestCmd(g *globals) *cobra.Command {
	var fl testFlags
	cmd := &cobra.Command{
		Use:   "test IMAGE@sha256:DIGEST",
		Short: "Check the tier invariants of every platform image and run the smoke command under runc",
		Long: `test reads the image index by digest (oci:DIR@sha256:… or a registry
reference), finds the runtime and tier from the image labels, checks the tier's
invariants on each platform image's filesystem, and runs the runtime's smoke
command under runc (read-only root, non-root user, no network) where the host
can execute the architecture. A smoke run that cannot run here is skipped
(the result is WARNED); with --require-smoke it fails instead, as a release
on native runners wants. For each platform it writes an in-toto
test-result/v0.1 statement to EVIDENCE/<digest>/test-result.json.

Exit status: 0 every check passed, 1 a check failed, 2 bad flags, reference or
image labels, 3 could not run (runc, registry, I/O).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := stage.Test(cmd.Context(), f, args[0], fl.options(g))
			g.report(testStep(rep))
			if err != nil {
				return err
			}
			return g.emit(fl.asJSON, rep, func() error { return renderTest(g, rep) }, rep.Passed, rep.Image)
		},
	}
	cmd.Flags().StringVar(&fl.evidence, "evidence", "out/evidence", "directory the test-result statements are written to")
	cmd.Flags().StringVar(&fl.runc, "runc", "", "runc binary (default: runc on PATH; smoke runs are skipped, never passed, without it)")
	cmd.Flags().BoolVar(&fl.noSmoke, "no-smoke", false, "do not execute the image (the smoke check is reported as skipped)")
	cmd.Flags().BoolVar(&fl.requireSmoke, "require-smoke", false, "fail, not skip, a declared smoke run that cannot run here (no runc, another architecture)")
	cmd.MarkFlagsMutuallyExclusive("no-smoke", "require-smoke")
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the results as JSON")
	return cmd
}

func renderTest(g *globals, r stage.TestReport) error {
	for _, p := range r.Platforms {
		fmt.Fprintf(g.stdout, "%s %s  %s  %s\n", r.Image, p.Platform, p.Subject.Digest, p.Outcome())
		t := table{}
		for _, c := range p.Checks {
			t.add("  "+strings.ToUpper(string(c.Status)), c.ID, c.Detail)
		}
		if err := t.write(g.stdout, tableWidth); err != nil {
			return err
		}
	}
	return nil
}
