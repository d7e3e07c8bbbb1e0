package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/scan"
)

func init() { extraCommands = append(extraCommands, newScanCmd) }

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
Exit status 1 means the gate failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := runScan(cmd.Context(), g, f, args[0], fl)
			g.report(rep)
			if err != nil {
				return err
			}
			return g.emit(fl.asJSON, rep, func() error { return renderScan(g, rep) }, rep.Pass, rep.Image)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&fl.db, "db", "", "directory of the Grype v6 vulnerability database (vulnerability.db)")
	flags.StringVar(&fl.evidence, "evidence", "out/evidence", "evidence directory: SBOMs are read from and statements written to <dir>/sha256-<digest>/")
	flags.StringVar(&fl.vexDir, "vex-dir", "", "directory of OpenVEX documents (*.json; default: vex/ next to the fleet file, if present)")
	flags.StringVar(&fl.exceptions, "exceptions", "", "exceptions file (default: exceptions.yaml next to the fleet file, if present)")
	flags.StringVar(&fl.failOn, "fail-on", "", failOnUsage)
	flags.BoolVar(&fl.onlyFixable, "only-fixable", false, onlyFixableUsage)
	durationFlag(flags, &fl.maxDBAge, "max-db-age", maxDBAgeUsage)
	flags.BoolVar(&fl.allowStaleUnsf, "allow-stale-db-unsafe", false, "accept a database older than --max-db-age (the result records it)")
	flags.BoolVar(&fl.asJSON, "json", false, "print the results as JSON")
	_ = cmd.MarkFlagRequired("db")
	return cmd
}

type scanPlatform struct {
	Platform   string            `json:"platform"`
	Digest     string            `json:"digest"`
	Overlay    bool              `json:"overlay"`
	Result     scan.Result       `json:"result"`
	Decision   gate.Decision     `json:"decision"`
	Statements map[string]string `json:"statements"`
}

type scanReport struct {
	Image      string         `json:"image"`
	Reference  string         `json:"reference"`
	Pass       bool           `json:"pass"`
	VEX        []string       `json:"vex"`
	Exceptions string         `json:"exceptions,omitempty"`
	Platforms  []scanPlatform `json:"platforms"`
}

func runScan(ctx context.Context, g *globals, f *fleet.File, refStr string, fl scanFlags) (scanReport, error) {
	failOn, onlyFixable, err := gatePolicy(f, fl.failOn, fl.onlyFixable)
	if err != nil {
		return scanReport{}, err
	}
	maxDBAge, _ := maxAges(f, fl.maxDBAge, 0)
	vexPaths, err := vexDocuments(f, fl.vexDir)
	if err != nil {
		return scanReport{}, err
	}
	exc, excPath, err := loadExceptions(f, fl.exceptions)
	if err != nil {
		return scanReport{}, err
	}
	ref, idx, err := openIndex(ctx, refStr, "")
	if err != nil {
		return scanReport{}, err
	}
	plats, err := platformImages(ref, idx)
	if err != nil {
		return scanReport{}, err
	}
	rep := scanReport{Reference: ref.String(), Pass: true, VEX: vexPaths, Exceptions: excPath}
	now := time.Now().UTC()
	for _, p := range plats {
		d, cf := p.desc, p.cfg
		labels := cf.Config.Labels
		rep.Image = labels[oci.LabelRuntime] + ":" + labels[oci.LabelTier]
		sbomPath := filepath.Join(fl.evidence, d.Digest.Algorithm+"-"+d.Digest.Hex, "sbom.spdx.json")
		sbom, err := os.ReadFile(sbomPath)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return rep, usageError{fmt.Errorf("%s (%s): no SBOM at %s: run 'clearcutt sbom' first", d.Digest, d.Platform, sbomPath)}
			}
			return rep, err
		}
		overlay := labels[oci.LabelBaseDigest] != ""
		res, err := scan.Run(ctx, scan.Options{
			SBOM:               sbom,
			SBOMPath:           sbomPath,
			Subject:            scan.Subject{Name: rep.Image, Digest: d.Digest},
			Overlay:            overlay,
			DBDir:              fl.db,
			MaxDBAge:           maxDBAge,
			AllowStaleDBUnsafe: fl.allowStaleUnsf,
			Now:                now,
			VEX:                vexPaths,
			Exceptions:         exc,
			Progress:           g.progressLine(fmt.Sprintf("scan %s %s", rep.Image, d.Platform.Architecture)),
		})
		g.progressDone()
		if err != nil {
			if errors.Is(err, scan.ErrInvalidSBOM) {
				return rep, usageError{err}
			}
			return rep, fmt.Errorf("%s (%s): %w", d.Digest, d.Platform, err)
		}
		dec := res.Decide(gate.Policy{FailOn: failOn, OnlyFixable: onlyFixable, Now: now})
		p := scanPlatform{Platform: d.Platform.String(), Digest: d.Digest.String(), Overlay: overlay, Result: res, Decision: dec, Statements: map[string]string{}}
		vulns, err := res.StatementJSON()
		if err != nil {
			return rep, err
		}
		vex, err := res.VEXStatementJSON()
		if err != nil {
			return rep, err
		}
		for name, data := range map[string][]byte{"vulns.json": vulns, "vex.json": vex} {
			path, err := writeEvidence(fl.evidence, d.Digest, name, data)
			if err != nil {
				return rep, err
			}
			p.Statements[name] = path
		}
		if !dec.Pass {
			rep.Pass = false
		}
		rep.Platforms = append(rep.Platforms, p)
	}
	return rep, nil
}

// vexDocuments lists the OpenVEX documents (*.json) of dir, or of vex/ next
// to the fleet file when dir is empty and that directory exists.
func vexDocuments(f *fleet.File, dir string) ([]string, error) {
	explicit := dir != ""
	if !explicit {
		dir = filepath.Join(f.Dir, "vex")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, usageError{fmt.Errorf("--vex-dir: %w", err)}
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// loadExceptions reads path, or exceptions.yaml next to the fleet file when
// path is empty and that file exists.
func loadExceptions(f *fleet.File, path string) (*scan.Exceptions, string, error) {
	if path == "" {
		path = filepath.Join(f.Dir, "exceptions.yaml")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil
		}
	}
	x, err := scan.LoadExceptions(path)
	if err != nil {
		return nil, "", usageError{err}
	}
	return x, path, nil
}

func renderScan(g *globals, r scanReport) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	for _, p := range r.Platforms {
		db := p.Result.Scanner.DB
		fmt.Fprintf(tw, "%s %s  %s  %d packages, database %s built %s%s\n", r.Image, p.Platform, p.Digest, p.Result.Packages,
			db.SchemaVersion, db.Built.Format(time.RFC3339), map[bool]string{true: " (STALE, accepted unsafely)"}[p.Result.StaleDBAccepted])
		if len(p.Result.Findings) == 0 {
			fmt.Fprintln(tw, "  no vulnerabilities found")
		} else {
			fmt.Fprintln(tw, "  ID\tSEVERITY\tPACKAGE\tVERSION\tFIXED IN\tORIGIN\tSTATUS")
		}
		for _, f := range p.Result.Findings {
			fixed := strings.Join(f.FixedIn, ",")
			if fixed == "" {
				fixed = "(" + f.FixState + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, strings.ToUpper(f.Severity), f.Package.Name, f.Package.Version, fixed, f.Origin, statusText(f))
		}
		for _, e := range p.Result.ExpiredExceptions {
			fmt.Fprintf(tw, "  EXPIRED EXCEPTION %s in %s (owner %s, expired %s, %s)\n", e.ID, e.Package, e.Owner, e.Expires, e.Where)
		}
		verdict := "PASS"
		if !p.Decision.Pass {
			verdict = "FAIL"
		}
		c := p.Decision.Counts
		fmt.Fprintf(tw, "  gate %s (%s): %d active, %d suppressed, %d excepted\n", verdict, p.Decision.Policy, c.Active, c.Suppressed, c.Excepted)
		for _, reason := range p.Decision.Reasons {
			fmt.Fprintf(tw, "    %s\n", reason)
		}
	}
	return tw.Flush()
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
