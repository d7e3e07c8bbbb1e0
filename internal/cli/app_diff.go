package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/appimage"
	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/pipeline"
)

type appDiffFlags struct {
	candidate string
	verify    verifyFlags
	asJSON    bool
}

func newAppDiffCmd(g *globals) *cobra.Command {
	var fl appDiffFlags
	cmd := &cobra.Command{
		Use:   "diff-base APP@sha256:DIGEST --candidate BASE@sha256:DIGEST",
		Short: "Compare the base an application is on with a candidate base",
		Long: `app diff-base reads the base an application index was built on (its
org.opencontainers.image.base.name label) and compares it with --candidate,
per platform of the application: the packages added, removed and changed
between the two bases' SBOMs, and the vulnerabilities fixed, new and still
present between their vulnerability attestations. Both bases are verified
with the fleet identity (or --key), and only evidence whose signature
verified is read (a current base's scan that is merely stale is still read).

The candidate must be of the same runtime line: runtime and tier equal; the
runtime version may change, and the report says when it does.

Exit status: 0 compared, 1 the candidate is not of the same line, lacks a
platform, fails verification, or the evidence to compare is not verified,
2 bad flags, 3 could not run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			v, err := newVerifier(cmd.Context(), f, fl.verify)
			if err != nil {
				return err
			}
			v.Progress = g
			res, err := pipeline.AppDiff(cmd.Context(), pipeline.AppDiffOptions{App: args[0], Candidate: fl.candidate, Verifier: v})
			rep := appDiffReport{DiffReport: res}
			g.report(rep)
			if err != nil {
				return err
			}
			return g.emit(fl.asJSON, rep, func() error { return renderAppDiff(g, rep) }, rep.Passed, strings.Join(rep.Problems, "; "))
		},
	}
	cmd.Flags().StringVar(&fl.candidate, "candidate", "", "the candidate base index, by digest (required)")
	addVerifyFlags(cmd, &fl.verify)
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the report as JSON")
	_ = cmd.MarkFlagRequired("candidate")
	return cmd
}

// appDiffReport is what app diff-base prints.
type appDiffReport struct {
	appimage.DiffReport
}

func renderAppDiff(g *globals, r appDiffReport) error {
	head := table{}
	head.add("app", r.App)
	head.add("current", r.Current.Reference+"  "+baseLine(r.Current))
	head.add("candidate", r.Candidate.Reference+"  "+baseLine(r.Candidate))
	switch {
	case !r.SameLine:
		head.add("line", fmt.Sprintf("NOT the same: %s -> %s", r.Current.Line(), r.Candidate.Line()))
	case r.VersionChanged:
		head.add("line", fmt.Sprintf("same (%s); runtime version %s -> %s", r.Current.Line(), orNone(r.Current.Version), orNone(r.Candidate.Version)))
	default:
		head.add("line", fmt.Sprintf("same (%s), same runtime version", r.Current.Line()))
	}
	verified := "verified"
	if !r.CandidateVerified {
		verified = "NOT verified"
	}
	head.add("candidate", verified)
	if err := head.write(g.stdout, tableWidth); err != nil {
		return err
	}
	for _, p := range r.Platforms {
		pk := p.Packages
		// Package changes and vulnerability changes are tables of their
		// own: their columns differ. The versions and states are last.
		pt := table{}
		pt.add("")
		pt.add(fmt.Sprintf("%s  %s -> %s", p.Platform, shortDigest(p.Current.String()), shortDigest(p.Candidate.String())))
		pt.add(fmt.Sprintf("  packages: %d added, %d removed, %d changed, %d unchanged", len(pk.Added), len(pk.Removed), len(pk.Changed), pk.Unchanged))
		for _, c := range pk.Added {
			pt.add("  ", "+", c.Name, strings.Join(c.After, ", "))
		}
		for _, c := range pk.Removed {
			pt.add("  ", "-", c.Name, strings.Join(c.Before, ", "))
		}
		for _, c := range pk.Changed {
			pt.add("  ", "~", c.Name, strings.Join(c.Before, ", ")+" -> "+strings.Join(c.After, ", "))
		}
		vd := p.Vulnerabilities
		vt := table{}
		vt.add(fmt.Sprintf("  vulnerabilities: %d fixed, %d new, %d still present", len(vd.Fixed), len(vd.New), len(vd.Still)))
		for _, group := range []struct {
			mark string
			vs   []appimage.VulnChange
		}{{"fixed", vd.Fixed}, {"new", vd.New}, {"still", vd.Still}} {
			for _, c := range group.vs {
				vt.add("  ", group.mark, c.ID, c.Severity, c.Package, vulnStates(c))
			}
		}
		if err := pt.write(g.stdout, tableWidth); err != nil {
			return err
		}
		if err := vt.write(g.stdout, tableWidth); err != nil {
			return err
		}
	}
	for _, p := range r.Problems {
		if _, err := fmt.Fprintln(g.stdout); err != nil {
			return err
		}
		if err := writeParagraph(g.stdout, "problem: "+p); err != nil {
			return err
		}
	}
	return nil
}

func vulnStates(c appimage.VulnChange) string {
	side := func(version, status string) string {
		if version == "" && status == "" {
			return "-"
		}
		return strings.TrimSpace(version + " " + status)
	}
	return side(c.BeforeVersion, c.BeforeStatus) + " -> " + side(c.AfterVersion, c.AfterStatus)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (r appDiffReport) stage(key string) (step, bool) {
	if key != "app diff-base" || r.App == "" {
		return step{}, false
	}
	var md strings.Builder
	md.WriteString(gha.Heading(3, fmt.Sprintf("%s clearcutt app diff-base %s", passIcon(r.Passed), r.App)))
	md.WriteString(gha.Paragraph(fmt.Sprintf("Current base %s (%s), candidate %s (%s).", r.Current.Reference, baseLine(r.Current), r.Candidate.Reference, baseLine(r.Candidate))))
	md.WriteString(gha.List(r.Problems, 0))
	t := gha.Table{Header: []string{"Platform", "Added", "Removed", "Changed", "Fixed", "New", "Still present"}}
	fixed, added := 0, 0
	for _, p := range r.Platforms {
		v := p.Vulnerabilities
		fixed, added = fixed+len(v.Fixed), added+len(v.New)
		t.Rows = append(t.Rows, []string{p.Platform, strconv.Itoa(len(p.Packages.Added)), strconv.Itoa(len(p.Packages.Removed)), strconv.Itoa(len(p.Packages.Changed)),
			strconv.Itoa(len(v.Fixed)), strconv.Itoa(len(v.New)), strconv.Itoa(len(v.Still))})
	}
	md.WriteString(t.Markdown())
	return step{outputs: map[string]string{
		"passed": strconv.FormatBool(r.Passed), "same-line": strconv.FormatBool(r.SameLine),
		"fixed": strconv.Itoa(fixed), "new": strconv.Itoa(added),
	}, summary: md.String()}, true
}
