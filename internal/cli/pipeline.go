package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
)

func init() { extraCommands = append(extraCommands, newPipelineCmd) }

type pipelineFlags struct {
	work    string
	to      string
	nixpkgs string
	only    []string
	cache   string
	noSmoke bool
	asJSON  bool
}

func newPipelineCmd(g *globals) *cobra.Command {
	var fl pipelineFlags
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Build, assemble, gate and publish every image of the fleet",
		Long: `pipeline runs build, assemble and test for every image of the fleet (or the
images named by --only), and publishes them only when every gate of every image
passed: a failed gate publishes nothing. Work files go under --work
(closures/, stage/, evidence/); the result goes to --to.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := runPipeline(cmd.Context(), g, f, fl)
			if fl.asJSON {
				if werr := writeJSON(g.stdout, rep); werr != nil && err == nil {
					err = werr
				}
			} else {
				if rerr := renderPipeline(g, rep); rerr != nil && err == nil {
					err = rerr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&fl.work, "work", "out", "work directory for closure manifests, the staging layout and evidence")
	cmd.Flags().StringVar(&fl.to, "to", "oci:out/oci", "destination: oci:DIR, or a registry repository prefix")
	cmd.Flags().StringVar(&fl.nixpkgs, "nixpkgs", "", "replace the locked nixpkgs input (e.g. nix/fixtures, the offline package set)")
	cmd.Flags().StringSliceVar(&fl.only, "only", nil, "build only these images: runtime or runtime:tier (repeatable)")
	cmd.Flags().StringVar(&fl.cache, "cache", "", "compressed-layer cache (default: the user cache directory)")
	cmd.Flags().BoolVar(&fl.noSmoke, "no-smoke", false, "do not execute images (smoke checks are reported as skipped)")
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the report as JSON")
	return cmd
}

// pipelineImage is one image's outcome.
type pipelineImage struct {
	Image     string          `json:"image"`
	Reference string          `json:"reference,omitempty"`
	Digest    string          `json:"digest,omitempty"`
	Assemble  *assembleReport `json:"assemble,omitempty"`
	Test      *testReport     `json:"test,omitempty"`
	Publish   *publishReport  `json:"publish,omitempty"`
	Error     string          `json:"error,omitempty"`
}

type pipelineReport struct {
	Fleet       string          `json:"fleet"`
	Destination string          `json:"destination"`
	Images      []pipelineImage `json:"images"`
	Passed      bool            `json:"passed"`
	Published   bool            `json:"published"`
	Seconds     float64         `json:"seconds"`
}

func selected(only []string, img fleet.Image) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if o == img.Runtime || o == img.RefName {
			return true
		}
	}
	return false
}

func runPipeline(ctx context.Context, g *globals, f *fleet.File, fl pipelineFlags) (pipelineReport, error) {
	start := time.Now()
	rep := pipelineReport{Fleet: f.Path, Destination: fl.to, Passed: true}
	var images []fleet.Image
	for _, img := range f.Images() {
		if selected(fl.only, img) {
			images = append(images, img)
		}
	}
	if len(images) == 0 {
		return rep, usageError{fmt.Errorf("--only %s matches no image of %s", strings.Join(fl.only, ","), f.Path)}
	}
	closures := filepath.Join(fl.work, "closures")
	stage := filepath.Join(fl.work, "stage")
	evidence := filepath.Join(fl.work, "evidence")
	total := 0
	for _, img := range images {
		total += len(img.Architectures) + 2
	}
	step := 0
	say := func(format string, args ...any) {
		step++
		fmt.Fprintf(g.stderr, "[%d/%d] %s\n", step, total, fmt.Sprintf(format, args...))
	}
	for _, img := range images {
		pi := pipelineImage{Image: img.RefName}
		err := func() error {
			for _, arch := range img.Architectures {
				say("build %s %s", img.RefName, arch)
				if _, _, err := runBuild(ctx, g, f, buildFlags{runtime: img.Runtime, tier: img.Tier, arch: arch, out: closures, nixpkgs: fl.nixpkgs}); err != nil {
					return err
				}
			}
			say("assemble %s", img.RefName)
			ar, err := runAssemble(ctx, g, f, assembleFlags{runtime: img.Runtime, tier: img.Tier, closures: closures, stage: stage, cache: fl.cache, sourceDateEpoch: -1})
			if err != nil {
				return err
			}
			pi.Assemble, pi.Reference, pi.Digest = &ar, ar.Reference, ar.Digest
			say("test %s", img.RefName)
			tr, err := runTest(ctx, g, f, ar.Reference, testFlags{evidence: evidence, noSmoke: fl.noSmoke})
			if err != nil {
				return err
			}
			pi.Test = &tr
			if !tr.Passed {
				return fmt.Errorf("%w: %s", ErrGateFailed, failedChecks(tr))
			}
			return nil
		}()
		if err != nil {
			pi.Error = err.Error()
			rep.Passed = false
			rep.Images = append(rep.Images, pi)
			if ctx.Err() != nil || !errors.Is(err, ErrGateFailed) && !isBuildProblem(err) {
				rep.Seconds = time.Since(start).Seconds()
				return rep, err
			}
			continue
		}
		rep.Images = append(rep.Images, pi)
	}
	if !rep.Passed {
		rep.Seconds = time.Since(start).Seconds()
		return rep, fmt.Errorf("%w: nothing was published", ErrGateFailed)
	}
	for i := range rep.Images {
		pi := &rep.Images[i]
		fmt.Fprintf(g.stderr, "publish %s -> %s\n", pi.Image, fl.to)
		pr, err := runPublish(ctx, g, f, pi.Reference, publishFlags{to: fl.to, evidence: evidence})
		if err != nil {
			pi.Error = err.Error()
			rep.Seconds = time.Since(start).Seconds()
			return rep, err
		}
		pi.Publish = &pr
	}
	rep.Published = true
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// isBuildProblem reports errors specific to one image (its build or
// assembly failed) after which the other images are still worth gating.
func isBuildProblem(err error) bool {
	var ue usageError
	return !errors.As(err, &ue) && !errors.Is(err, context.Canceled)
}

func failedChecks(tr testReport) string {
	var out []string
	for _, p := range tr.Platforms {
		for _, c := range p.Checks {
			if c.Status == "failed" {
				out = append(out, fmt.Sprintf("%s %s: %s", p.Platform, c.ID, c.Detail))
			}
		}
	}
	return strings.Join(out, "; ")
}

func renderPipeline(g *globals, r pipelineReport) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tINDEX DIGEST\tARCH\tLAYERS\tSIZE\tGATES\tPUBLISHED")
	for _, pi := range r.Images {
		gates := "-"
		if pi.Test != nil {
			gates = "passed"
			if !pi.Test.Passed {
				gates = "FAILED"
			}
		}
		if pi.Error != "" && pi.Test == nil {
			gates = "ERROR"
		}
		pub := "no"
		if pi.Publish != nil {
			pub = "yes"
		}
		digest := pi.Digest
		if len(digest) > 19 {
			digest = digest[:19] + "…"
		}
		if pi.Assemble == nil {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t%s\t%s\n", pi.Image, "-", gates, pub)
			continue
		}
		for i, p := range pi.Assemble.Platforms {
			name, d := pi.Image, digest
			if i > 0 {
				name, d = "", ""
			}
			outcome := gates
			if pi.Test != nil && i < len(pi.Test.Platforms) {
				outcome = strings.ToLower(pi.Test.Platforms[i].Outcome())
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", name, d, p.Arch, p.Layers, humanBytes(p.Size), outcome, pub)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, pi := range r.Images {
		if pi.Error != "" {
			fmt.Fprintf(g.stdout, "\n%s: %s\n", pi.Image, pi.Error)
		}
	}
	status := "published to " + r.Destination
	if !r.Published {
		status = "NOT published: a gate failed"
	}
	_, err := fmt.Fprintf(g.stdout, "\n%d images, %s, %.1fs\n", len(r.Images), status, r.Seconds)
	return err
}
