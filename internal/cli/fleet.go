package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/nixcmd"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/stage"
)

func (g *globals) loadFleet() (*fleet.File, error) {
	f, err := fleet.Load(g.fleetPath)
	if err != nil {
		return nil, usageErr(err)
	}
	return f, nil
}

func newFleetCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "fleet", Short: "Inspect and validate the fleet file"}
	var asJSON, asMatrix bool
	plan := &cobra.Command{
		Use:   "plan",
		Short: "Print the build matrix: every image, tier and architecture",
		Long: `plan prints the build matrix of the fleet file: every image (runtime and
tier) with its architectures, tags, and whether it is deployable or an
overlay, then the number of builds (one per image and architecture). --json
prints the images and the cells; --github-matrix prints the cells as a
GitHub Actions strategy.matrix on one line, for $GITHUB_OUTPUT.

Exit status: 0 printed, 2 bad flags (--json and --github-matrix together)
or an invalid fleet file, 3 the matrix could not be written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			g.report(planStep{f})
			switch {
			case asJSON && asMatrix:
				return usageErr(fmt.Errorf("--json and --github-matrix are exclusive"))
			case asMatrix:
				return writeJSONCompact(g.stdout, f.GitHubMatrix())
			case asJSON:
				return writeJSON(g.stdout, struct {
					Images []fleet.Image `json:"images"`
					Cells  []fleet.Cell  `json:"cells"`
				}{f.Images(), f.Cells()})
			}
			return renderPlan(g.stdout, f)
		},
	}
	plan.Flags().BoolVar(&asJSON, "json", false, "print the matrix as JSON")
	plan.Flags().BoolVar(&asMatrix, "github-matrix", false, "print the matrix as a GitHub Actions strategy.matrix (one line)")

	var validateJSON, validatePackages, validateStrict bool
	var validateNixpkgs string
	validate := &cobra.Command{
		Use:   "validate",
		Short: "Check the fleet file strictly and report every problem with file:line",
		Long: `validate decodes the fleet file strictly (unknown fields, wrong kinds,
zero values written out, characters that do not belong) and checks it, and
reports every problem with its file, line, column and field. With --json the
report goes to stdout as JSON: the file, whether it is valid, its image and
build counts, and the problems, each with file, line, column, field and
message (line and column are absent where the problem has no position).

The check is offline: a package-set attribute the fleet names (a runtime's
nix.attribute and devPackages, a tier's packages) must be an attribute
path, but whether the package set has it is known to Nix only. --packages
also evaluates, with nix, the fleet flake's package set (nixpkgs as
flake.lock locks it, or --nixpkgs, with the version pins) and reports, at
its field, every attribute the set lacks or cannot evaluate on a system of
the fleet.

A valid file can still carry the upstream project's risk decisions: a
fork inherits exceptions.yaml and vex/, and would sign them under its own
identity. validate warns (on stderr, and in the report's warnings) about
every exception whose owner and every VEX document whose author names the
upstream project, an address at clearcutt.dev or the GitHub organisation
clearcutt, when identity.repository is not clearcutt/clearcutt (the fleet
file names no email domain of its own, so the fork is known by what it
inherited). 'clearcutt fleet init' gives a fork a clean start. --strict
makes a warning fail the validation.

Exit status: 0 the file is valid (warnings or not), 1 it is valid but
--strict and there are warnings, 2 it is not valid (or cannot be read), 3
the report could not be written, or --packages could not evaluate the
package set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if validateNixpkgs != "" && !validatePackages {
				return usageErr(fmt.Errorf("--nixpkgs replaces the package set --packages evaluates: it needs --packages"))
			}
			f, err := fleet.Load(g.fleetPath)
			if err == nil && validatePackages {
				if err = checkPackageSet(cmd.Context(), f, validateNixpkgs); err != nil && !errors.Is(err, fleet.ErrInvalid) {
					return err
				}
				if err != nil {
					f = nil
				}
			}
			rep := validateReportOf(g.fleetPath, f, err)
			if f != nil {
				rep.Warnings = pipeline.UpstreamDecisions(f)
			}
			if rep.Warnings == nil {
				rep.Warnings = []pipeline.Warning{}
			}
			if validateJSON {
				if werr := writeJSON(g.stdout, rep); werr != nil {
					return werr
				}
			} else if err == nil {
				for _, w := range rep.Warnings {
					fmt.Fprintf(g.stderr, "warning: %s\n", w)
				}
				warned := ""
				if len(rep.Warnings) > 0 {
					warned = fmt.Sprintf(", %d warnings", len(rep.Warnings))
				}
				fmt.Fprintf(g.stdout, "%s: valid (%d images, %d builds%s)\n", rep.File, rep.Images, rep.Builds, warned)
			}
			if err != nil {
				return usageErr(err)
			}
			if validateStrict && len(rep.Warnings) > 0 {
				return fmt.Errorf("%w: %s: %d warnings (--strict)", ErrGateFailed, rep.File, len(rep.Warnings))
			}
			return nil
		},
	}
	validate.Flags().BoolVar(&validateJSON, "json", false, "print the report, with every problem, as JSON")
	validate.Flags().BoolVar(&validatePackages, "packages", false, "also evaluate with nix that the package set has every attribute the fleet names")
	validate.Flags().BoolVar(&validateStrict, "strict", false, "fail (exit 1) when there are warnings")
	validate.Flags().StringVar(&validateNixpkgs, "nixpkgs", "", "with --packages: replace the locked nixpkgs input (e.g. nix/fixtures, the offline package set)")
	schema := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of clearcutt.yaml",
		Long: `schema prints the JSON Schema of clearcutt.yaml, generated from the Go
types, for editors and other tools (schemas/fleet.v1alpha1.schema.json is
this output, committed). The output is JSON already, so schema takes no
--json.

Exit status: 0 printed, 2 bad flags, 3 the schema could not be written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := fleet.Schema()
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
	cmd.AddCommand(plan, validate, newFleetInitCmd(g), newFleetCheckEnvironmentCmd(g), schema)
	return cmd
}

func newFleetInitCmd(g *globals) *cobra.Command {
	var o pipeline.ForkOptions
	var dir string
	var asJSON bool
	c := &cobra.Command{
		Use:   "init --repository OWNER/NAME",
		Short: "Give a fork a clean start: its own identity and registry, no inherited exceptions or VEX",
		Long: `init makes the fleet file (-f, or clearcutt.yaml in --dir) the fork's own,
and drops the risk decisions it inherited from the upstream project, which
the fork would otherwise sign under its own identity.

It rewrites five fields of the fleet file in place, keeping every other
line and comment: metadata.name (--name, default the repository's name),
metadata.source (https://github.com/OWNER/NAME), registry.repository
(--registry, default ghcr.io/owner/name in lower case), identity.repository
(--repository) and identity.ref (--ref, default refs/heads/main);
identity.workflowRepository and workflowRef, for the fleet-repository
layout, are left as they are. It empties exceptions.yaml (keeping its
header comment) and lists every exception it removed. It deletes no VEX
document: it moves each document of vex/ to vex/upstream/, where scan does
not read it, so that what holds for the fork's own package set can be
authored again ('clearcutt vex create'). Then it prints the next steps and
the settings checklist (docs/forking.md, section 4). --json prints the
report of what changed.

Nothing is written unless every file can be: the fleet file must be valid
before and, with the new settings, after; a failed write is undone. Run
again with the same flags, init changes nothing.

Exit status: 0 the fork's files are written (or already were), 2 a bad flag
(--repository is required), a missing or invalid fleet file, settings that
would make it invalid, an exceptions file that does not parse, or a
different document of the same name in vex/upstream/, 3 a file could not
be written (what was written is undone).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.FleetPath = g.fleetPath
			if dir != "" {
				if cmd.Flags().Changed("fleet") {
					return usageErr(fmt.Errorf("--dir and -f name the fleet file both: give one"))
				}
				o.FleetPath = filepath.Join(dir, "clearcutt.yaml")
			}
			if o.Repository == "" {
				return usageErr(fmt.Errorf("--repository OWNER/NAME is required: the fork's GitHub repository"))
			}
			rep, err := pipeline.ForkInit(o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, rep)
			}
			return renderForkInit(g.stdout, rep)
		},
	}
	c.Flags().StringVar(&o.Repository, "repository", "", "the fork's GitHub repository, OWNER/NAME (required)")
	c.Flags().StringVar(&o.Registry, "registry", "", "registry.repository (default ghcr.io/OWNER/NAME, lower case)")
	c.Flags().StringVar(&o.Ref, "ref", "", "identity.ref, the branch that publishes (default refs/heads/main)")
	c.Flags().StringVar(&o.Name, "name", "", "metadata.name (default the repository's name)")
	c.Flags().StringVar(&dir, "dir", "", "the directory of the fleet (clearcutt.yaml, exceptions.yaml, vex/) instead of -f")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report of what changed as JSON")
	return c
}

func renderForkInit(w io.Writer, rep pipeline.ForkReport) error {
	// A line is a sentence naming files: it wraps within the table width.
	var lines []string
	if !rep.Changed() {
		lines = append(lines, rep.Fleet+": nothing to change: the fleet is the fork's already, without exceptions or documents in vex/")
	}
	for _, c := range rep.Fields {
		from := c.From
		if from == "" {
			from = "(absent)"
		}
		lines = append(lines, fmt.Sprintf("%s: %s: %s → %s", rep.Fleet, c.Field, from, c.To))
	}
	if rep.ExceptionsWritten {
		lines = append(lines, rep.Exceptions+": no exceptions")
	}
	for i, e := range rep.Removed {
		lines = append(lines, fmt.Sprintf("  removed exceptions[%d]: %s in %s, owner %s, expires %s", i, e.ID, e.Package, e.Owner, e.Expires))
	}
	for _, m := range rep.VEX {
		lines = append(lines, fmt.Sprintf("%s → %s (scan no longer applies it)", m.From, m.To))
	}
	lines = append(lines, "", "Next steps:")
	for i, s := range rep.NextSteps {
		lines = append(lines, fmt.Sprintf("  %d. %s", i+1, s))
	}
	lines = append(lines, "", "Settings checklist: "+rep.Checklist)
	for _, l := range lines {
		if err := writeParagraph(w, l); err != nil {
			return err
		}
	}
	return nil
}

// checkPackageSet is fleet validate --packages: every package-set
// attribute f names, evaluated in the fleet flake's package set (nixpkgs
// replaced by the flake directory nixpkgs when it is not empty).
func checkPackageSet(ctx context.Context, f *fleet.File, nixpkgs string) error {
	override, err := stage.NixOverride(nixpkgs)
	if err != nil {
		return err
	}
	flakeDir, err := filepath.Abs(stage.FlakeDir(f))
	if err != nil {
		return err
	}
	return closure.CheckPackageSet(ctx, f, closure.PackageSet{Nix: nixcmd.Nix{Env: os.Environ()}, FlakeDir: flakeDir, Override: override})
}

// validateReport is what fleet validate found in one fleet file.
type validateReport struct {
	File     string            `json:"file"`
	Valid    bool              `json:"valid"`
	Images   int               `json:"images"`
	Builds   int               `json:"builds"`
	Problems []validateProblem `json:"problems"`
	// Warnings do not make the file invalid: the upstream project's
	// exception owners and VEX authors in a fork.
	Warnings []pipeline.Warning `json:"warnings"`
}

// validateProblem is one problem at one place of the file.
type validateProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// validateReportOf renders the outcome of loading path: f when it loaded,
// or every problem err lists (an error that is not a list of positioned
// problems, such as a file that cannot be read, is one problem of the file).
func validateReportOf(path string, f *fleet.File, err error) validateReport {
	rep := validateReport{File: path, Problems: []validateProblem{}}
	if err == nil {
		rep.File, rep.Valid, rep.Images, rep.Builds = f.Path, true, len(f.Images()), len(f.Cells())
		return rep
	}
	var list fleet.Errors
	if !errors.As(err, &list) {
		rep.Problems = append(rep.Problems, validateProblem{File: path, Message: err.Error()})
		return rep
	}
	for _, e := range list {
		rep.Problems = append(rep.Problems, validateProblem{File: e.File, Line: e.Line, Column: e.Column, Field: e.Path, Message: e.Msg})
	}
	return rep
}

func renderPlan(w io.Writer, f *fleet.File) error {
	// The tags, a list, are last and wrap.
	t := table{header: []string{"IMAGE", "TIER", "ARCHITECTURES", "DEPLOYABLE", "OVERLAY", "TAGS"}}
	for _, img := range f.Images() {
		t.add(img.Repository, img.Tier, strings.Join(img.Architectures, ","), strconv.FormatBool(img.Deployable), strconv.FormatBool(img.Overlay),
			strings.Join(img.Tags, ", "))
	}
	if err := t.write(w, tableWidth); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d images, %d builds\n", len(f.Images()), len(f.Cells()))
	return err
}

// emit prints a stage's report, as JSON or with render, and then turns a
// failed gate (passed false) into ErrGateFailed naming what failed.
func (g *globals) emit(asJSON bool, rep any, render func() error, passed bool, what string) error {
	var err error
	if asJSON {
		err = writeJSON(g.stdout, rep)
	} else {
		err = render()
	}
	if err != nil {
		return err
	}
	if !passed {
		return fmt.Errorf("%w: %s", ErrGateFailed, what)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeJSONCompact(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
