package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/stage"
)

type scanFlags struct {
	db             string
	evidence       string
	vexDir         string
	exceptions     string
	failOn         string
	onlyFixable    bool
	maxDBAge       time.Duration
	allowStaleUnsf bool
	asJSON         bool
}

func newScanCmd(g *globals) *cobra.Command {
	var fl scanFlags
	cmd := &cobra.Command{
		Use:   "scan IMAGE@sha256:DIGEST --db DIR",
		Short: "Match every platform's SBOM against a vulnerability database and gate the result",
		Long: `scan reads the image index by digest and, for each platform image, the SPDX
SBOM EVIDENCE/sha256-<digest>/sbom.spdx.json written by 'clearcutt sbom'. It
matches the SBOM with Grype against the v6 database in --db (refused when
older than --max-db-age), applies the OpenVEX documents of --vex-dir
(not_affected and fixed findings are suppressed, not dropped) and the
exceptions of --exceptions (an expired exception fails the gate). It writes
vulns.json (in-toto vulns/v0.2) and vex.json (the OpenVEX statements that
applied) next to the SBOM, prints the findings and the gate decision.

Exit status: 0 every platform passed the gate, 1 the gate failed, 2 bad flags,
reference, SBOM, database, VEX or exceptions, 3 could not run (Grype, I/O).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := stage.Scan(cmd.Context(), f, args[0], fl.options(g))
			g.report(scanStep(rep))
			if err != nil {
				return err
			}
			return g.emit(fl.asJSON, rep, func() error { return renderScan(g, rep) }, rep.Pass, rep.Image)
		},
	}
	flags := cmd.Flags()
	fl.addFlags(flags, dbUsage)
	flags.StringVar(&fl.evidence, "evidence", "out/evidence", "evidence directory: SBOMs are read from and statements written to <dir>/sha256-<digest>/")
	flags.BoolVar(&fl.asJSON, "json", false, "print the results as JSON")
	_ = cmd.MarkFlagRequired("db")
	return cmd
}

func renderScan(g *globals, r stage.ScanReport) error {
	for _, p := range r.Platforms {
		db := p.Result.Scanner.DB
		stale := map[bool]string{true: " (STALE, accepted unsafely)"}[p.Result.StaleDBAccepted]
		t := table{}
		t.add(fmt.Sprintf("%s %s %s", r.Image, p.Platform, p.Digest))
		t.add(fmt.Sprintf("  %d packages, database %s built %s%s", p.Result.Packages, db.SchemaVersion, db.Built.Format(time.RFC3339), stale))
		if len(p.Result.Findings) == 0 {
			t.add("  no vulnerabilities found")
		} else {
			t.add("", "ID", "SEVERITY", "PACKAGE", "VERSION", "FIXED IN", "ORIGIN", "STATUS")
		}
		for _, f := range p.Result.Findings {
			fixed := strings.Join(f.FixedIn, ",")
			if fixed == "" {
				fixed = "(" + f.FixState + ")"
			}
			t.add("", f.ID, strings.ToUpper(f.Severity), f.Package.Name, f.Package.Version, fixed, string(f.Origin), statusText(f))
		}
		for _, e := range p.Result.ExpiredExceptions {
			t.add(fmt.Sprintf("  EXPIRED EXCEPTION %s in %s (owner %s, expired %s, %s)", e.ID, e.Package, e.Owner, e.Expires, e.Where))
		}
		verdict := "PASS"
		if !p.Decision.Pass {
			verdict = "FAIL"
		}
		c := p.Decision.Counts
		t.add(fmt.Sprintf("  gate %s (%s): %d active, %d suppressed, %d excepted", verdict, p.Decision.Policy, c.Active, c.Suppressed, c.Excepted))
		for _, reason := range p.Decision.Reasons {
			t.add("    " + reason)
		}
		if err := t.write(g.stdout, tableWidth); err != nil {
			return err
		}
	}
	return nil
}

func statusText(f scan.Finding) string {
	switch {
	case f.Status == gate.Suppressed && f.VEX != nil:
		j := f.VEX.Justification
		if j == "" {
			j = f.VEX.Status
		}
		return "suppressed (" + j + ")"
	case f.Status == gate.Excepted && f.Exception != nil:
		return "excepted (" + f.Exception.Owner + ", expires " + f.Exception.Expires + ")"
	case f.Exception != nil && f.Exception.Expired:
		return "active (exception expired " + f.Exception.Expires + ")"
	}
	return string(f.Status)
}
