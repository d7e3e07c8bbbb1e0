package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gha"
)

// report records what the running command produced; after the command the
// GitHub Actions hook turns it into the step's outputs and summary.
func (g *globals) report(s stager) { g.reported = s }

// actions is the GitHub Actions adapter of this process. Workflow commands
// go to stderr, so that --json output on stdout stays parseable.
func (g *globals) actions() *gha.Actions {
	return gha.New(g.getenv, gha.WithWriter(g.stderr))
}

// withActions wraps the RunE of every command of the tree with the GitHub
// Actions hook.
func withActions(g *globals, c *cobra.Command) {
	for _, sub := range c.Commands() {
		withActions(g, sub)
	}
	if c.RunE == nil {
		return
	}
	run := c.RunE
	c.RunE = func(cmd *cobra.Command, args []string) error {
		g.reported = nil
		err := run(cmd, args)
		herr := g.toActions(commandKey(cmd), g.reported, err)
		switch {
		case herr == nil:
		case err == nil:
			return herr
		default:
			fmt.Fprintf(g.stderr, "clearcutt: GitHub Actions: %v\n", herr)
		}
		return err
	}
}

// commandKey is the command's path below the root: "test", "fleet plan".
func commandKey(cmd *cobra.Command) string {
	path := cmd.CommandPath()
	if root := cmd.Root(); root != nil {
		path = strings.TrimPrefix(path, root.Name())
	}
	return strings.TrimSpace(path)
}

// toActions annotates err and writes the outputs and the step summary of
// the report rep of command key. Outputs are written when the command
// succeeded or a gate failed (the report is then complete and says so);
// after any other error the summary shows the error (and the pipeline's
// partial table), and no output is written.
func (g *globals) toActions(key string, rep stager, err error) error {
	a := g.actions()
	if !a.Enabled() {
		return nil
	}
	var errs []error
	if err != nil {
		errs = append(errs, annotate(a, err))
	}
	st, ok := stageOf(key, rep)
	if ok && (err == nil || errors.Is(err, ErrGateFailed)) {
		if err != nil {
			// A failed run never reports itself as passed.
			if _, has := st.outputs["passed"]; has {
				st.outputs["passed"] = "false"
			}
		}
		errs = append(errs, a.WriteOutputs(key, st.outputs))
	}
	var md strings.Builder
	if ok && (err == nil || errors.Is(err, ErrGateFailed) || key == "pipeline") {
		md.WriteString(st.summary)
	}
	if err != nil {
		if md.Len() == 0 {
			md.WriteString(gha.Heading(3, "clearcutt "+key))
		}
		md.WriteString(gha.IconFail + " " + gha.Paragraph(err.Error()))
	}
	if md.Len() > 0 {
		errs = append(errs, a.Summary(md.String()))
	}
	return errors.Join(errs...)
}

// annotate writes err as error annotations: one per problem of a fleet
// file, placed at its file, line and column.
func annotate(a *gha.Actions, err error) error {
	var fes fleet.Errors
	var fe fleet.FieldError
	switch {
	case errors.As(err, &fes):
		var errs []error
		for _, e := range fes {
			errs = append(errs, annotateField(a, e))
		}
		return errors.Join(errs...)
	case errors.As(err, &fe):
		return annotateField(a, fe)
	}
	return a.Errorf(gha.Location{}, "%s", err.Error())
}

func annotateField(a *gha.Actions, e fleet.FieldError) error {
	msg := e.Msg
	if e.Path != "" {
		msg = e.Path + ": " + msg
	}
	return a.Errorf(gha.Location{File: e.File, Line: e.Line, Column: e.Column}, "%s", msg)
}
