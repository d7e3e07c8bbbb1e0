package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
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
		Args:  cobra.NoArgs,
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

	validate := &cobra.Command{
		Use:   "validate",
		Short: "Check the fleet file strictly and report every problem with file:line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: valid (%d images, %d builds)\n", f.Path, len(f.Images()), len(f.Cells()))
			return nil
		},
	}
	schema := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of clearcutt.yaml",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := fleet.Schema()
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
	cmd.AddCommand(plan, validate, schema)
	return cmd
}

func renderPlan(w io.Writer, f *fleet.File) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tTIER\tARCHITECTURES\tTAGS\tDEPLOYABLE\tOVERLAY")
	for _, img := range f.Images() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%t\n", img.Repository, img.Tier,
			strings.Join(img.Architectures, ","), strings.Join(img.Tags, ","), img.Deployable, img.Overlay)
	}
	if err := tw.Flush(); err != nil {
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
