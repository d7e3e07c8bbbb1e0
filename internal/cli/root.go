// Package cli is the clearcutt command tree: it turns flags into stage
// options, runs the stage packages and renders their results. It is the only
// place that reads the process environment and prints.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailed  = 1 // a gate or a check failed
	ExitUsage   = 2 // bad flags or input
	ExitRuntime = 3 // the command could not run (tool missing, I/O, network)
)

// ErrGateFailed marks a completed run whose result is a failure.
var ErrGateFailed = outcome.ErrGateFailed

// usageErr marks an error caused by the invocation or the input files
// (exit status 2).
func usageErr(err error) error { return outcome.UsageError{Err: err} }

type globals struct {
	fleetPath string
	stdout    io.Writer
	stderr    io.Writer
	// getenv describes the GitHub Actions job, if any (nil: none).
	getenv func(string) string
	// reported is what the running command produced: its step outputs
	// and summary in GitHub Actions (see report).
	reported stager
}

// Main runs the CLI and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	root := newRoot(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(g.stderr, "clearcutt:", err)
	return exitCode(err)
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "clearcutt",
		Short:         "Build, gate, publish and verify a hardened base-image fleet",
		Long:          "clearcutt builds the images declared in clearcutt.yaml as Nix closures, assembles reproducible multi-arch OCI images, checks the tier invariants and publishes them by digest.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       runningVersion().String(),
	}
	root.SetVersionTemplate("clearcutt {{.Version}}\n")
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.PersistentFlags().StringVarP(&g.fleetPath, "fleet", "f", "clearcutt.yaml", "the fleet file")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	// The commands, in pipeline order (help lists them sorted).
	for _, c := range []func(*globals) *cobra.Command{
		newFleetCmd, newBuildCmd, newAssembleCmd, newTestCmd, newSBOMCmd, newScanCmd, newPublishCmd, newIndexCmd,
		newAttestCmd, newVerifyCmd, newPipelineCmd, newCatalogCmd, newSiteCmd, newRescanCmd, newRemediateCmd,
		newVEXCmd, newVulndbCmd, newAdmissionCmd, newAppCmd, newVersionCmd,
	} {
		root.AddCommand(c(g))
	}
	withActions(g, root)
	return root
}
