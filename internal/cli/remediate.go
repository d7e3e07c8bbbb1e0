package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/remediate"
	"github.com/clearcutt/clearcutt/internal/stage"
)

type remediateFlags struct {
	catalog string
	kev     string
	newer   string
	nixpkgs string
	asJSON  bool

	pkg      string
	strategy string
	branch   string
	work     string
	cache    string
	body     string
	noSmoke  bool
	runc     string
	archs    []string
	scan     scanFlags
}

func newRemediateCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remediate",
		Short: "Rank the fleet's fixable vulnerabilities and draft the change that fixes one",
	}
	cmd.AddCommand(newRemediatePlanCmd(g), newRemediateDraftCmd(g))
	return cmd
}

func addPackageSetFlags(cmd *cobra.Command, fl *remediateFlags) {
	fs := cmd.Flags()
	fs.StringVar(&fl.catalog, "catalog", "", "catalog directory (catalog.json, written by 'clearcutt catalog')")
	fs.StringVar(&fl.kev, "kev", "", "offline copy of CISA's known_exploited_vulnerabilities.json: listed vulnerabilities rank first")
	fs.StringVar(&fl.nixpkgs, "nixpkgs", "", "replace the locked nixpkgs input, as for build (e.g. nix/fixtures, the offline package set)")
	fs.BoolVar(&fl.asJSON, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagRequired("catalog")
}

func newRemediatePlanCmd(g *globals) *cobra.Command {
	var fl remediateFlags
	cmd := &cobra.Command{
		Use:   "plan --catalog DIR [--kev FILE] [--newer NIXPKGS]",
		Short: "Rank the catalog's fixable findings, one action per package",
		Long: `plan reads the active findings of every image in the catalog that have a
known fixed version and groups them by package. It maps each Nix package to
the package-set attribute the fleet uses, evaluates that attribute's version
with nix in the locked package set (nix/flake.lock's nixpkgs, or --nixpkgs,
with nix/overlays/pins.nix) and in --newer (a newer nixpkgs: a flake
reference or directory), and says where a fixed version is: already locked
(rebuild), only in the newer set (draft a lock or a pin), or nowhere yet.

Actions with a fix rank first; then those fixing a vulnerability in --kev
(CISA's Known Exploited Vulnerabilities, matched by id and aliases); then by
severity; then a fix already locked before one in the newer set. Findings a
VEX statement or an exception covers, and those without a known fix, are
listed apart: they need no action, or none is possible.

Exit status: 0 the plan was printed, 2 bad flags, fleet file or catalog, 3
could not run (nix evaluation, I/O).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			plan, err := runRemediatePlan(cmd.Context(), g, f, fl)
			if err != nil {
				return err
			}
			return g.emit(fl.asJSON, plan, func() error { return renderPlanActions(g, plan) }, true, "")
		},
	}
	addPackageSetFlags(cmd, &fl)
	cmd.Flags().StringVar(&fl.newer, "newer", "", "a newer package set: a nixpkgs flake reference (github:NixOS/nixpkgs/<rev>) or directory")
	return cmd
}

// fleetAttributes are the package-set attributes the fleet names.
func fleetAttributes(f *fleet.File) []string {
	var out []string
	for _, r := range f.Runtimes {
		out = append(out, r.Nix.Attribute)
		out = append(out, r.Nix.DevPackages...)
	}
	for _, t := range fleet.AllTiers {
		out = append(out, f.Tier(t).Packages...)
	}
	return out
}

// remediateInputs are what plan and draft share.
type remediateInputs struct {
	catalog  *catalog.Catalog
	kev      *remediate.KEV
	nix      remediate.Nix
	flakeDir string
	override string
	newerRef string
}

func loadRemediateInputs(f *fleet.File, fl remediateFlags) (remediateInputs, error) {
	var in remediateInputs
	cat, err := catalog.Read(fl.catalog)
	if err != nil {
		return in, usageErr(fmt.Errorf("--catalog: %w", err))
	}
	if cat.Fleet.Name != "" && cat.Fleet.Name != f.Metadata.Name {
		return in, usageErr(fmt.Errorf("--catalog %s is the catalog of fleet %q, but %s is fleet %q", fl.catalog, cat.Fleet.Name, f.Path, f.Metadata.Name))
	}
	in.catalog = cat
	if fl.kev != "" {
		if in.kev, err = remediate.LoadKEV(fl.kev); err != nil {
			return in, usageErr(fmt.Errorf("--kev: %w", err))
		}
	}
	if in.override, err = stage.NixOverride(fl.nixpkgs); err != nil {
		return in, err
	}
	if in.newerRef, err = remediate.FlakeRef(fl.newer); err != nil {
		return in, usageErr(fmt.Errorf("--newer: %w", err))
	}
	in.flakeDir, err = filepath.Abs(stage.FlakeDir(f))
	if err != nil {
		return in, err
	}
	in.nix = remediate.Nix{Env: os.Environ()}
	return in, nil
}

func (in remediateInputs) planOptions(f *fleet.File, fl remediateFlags) remediate.PlanOptions {
	o := remediate.PlanOptions{
		Catalog:     in.catalog,
		CatalogPath: filepath.Join(fl.catalog, catalog.FileName),
		KEV:         in.kev,
		Attributes:  fleetAttributes(f),
		Pinned:      remediate.FleetSet{Nix: in.nix, FlakeDir: in.flakeDir, Override: in.override},
		NewerRef:    fl.newer,
	}
	if in.newerRef != "" {
		o.Newer = remediate.FlakeSet{Nix: in.nix, Ref: in.newerRef}
	}
	return o
}

func runRemediatePlan(ctx context.Context, g *globals, f *fleet.File, fl remediateFlags) (remediate.Plan, error) {
	in, err := loadRemediateInputs(f, fl)
	if err != nil {
		return remediate.Plan{}, err
	}
	fmt.Fprintf(g.stderr, "remediate plan: evaluating package versions with nix\n")
	return remediate.MakePlan(ctx, in.planOptions(f, fl))
}

func versionsText(m map[string]string) string {
	if v := remediate.VersionText(m); v != "" {
		return v
	}
	return "-"
}

func renderPlanActions(g *globals, p remediate.Plan) error {
	w := g.stdout
	fmt.Fprintf(w, "catalog %s (generated %s)\n", p.Catalog, p.CatalogGeneratedAt.Format("2006-01-02T15:04:05Z07:00"))
	fmt.Fprintf(w, "locked package set: %s\n", p.Pinned)
	newer := p.Newer
	if newer == "" {
		newer = "(none: --newer not given)"
	}
	fmt.Fprintf(w, "newer package set:  %s\n", newer)
	if p.KEV != nil {
		fmt.Fprintf(w, "known exploited:    %s, catalog version %s (%d vulnerabilities)\n", p.KEV.Path, p.KEV.CatalogVersion, p.KEV.Count)
	}
	fmt.Fprintln(w)
	if len(p.Actions) == 0 {
		fmt.Fprintln(w, "no active finding with a known fix")
	} else {
		// What the action fixes and where is free text: the last column.
		t := table{header: []string{"RANK", "PACKAGE", "ATTRIBUTE", "VERSION", "LOCKED", "NEWER", "FIX", "SEVERITY", "KEV", "FIXES (IMAGES)"}}
		for _, a := range p.Actions {
			attr := a.Attribute
			if attr == "" {
				attr = "-"
			}
			kev := "-"
			if a.KEV {
				kev = "yes"
			}
			fixes := strings.Join(a.Fixes, ", ")
			if fixes == "" {
				fixes = "-"
			}
			t.add(strconv.Itoa(a.Rank), a.Package, attr, strings.Join(a.Versions, ","),
				versionsText(a.Pinned), versionsText(a.Newer), string(a.Fix), a.Severity, kev, fixes+" ("+strings.Join(a.Images, ", ")+")")
		}
		if err := t.write(w, tableWidth); err != nil {
			return err
		}
		fmt.Fprintln(w)
		for _, a := range p.Actions {
			writeParagraph(w, fmt.Sprintf("%d. %s: %s", a.Rank, a.Package, a.Why))
			writeParagraph(w, "   next: "+a.Next)
			if len(a.Remaining) > 0 {
				writeParagraph(w, "   left active: "+strings.Join(a.Remaining, ", "))
			}
		}
	}
	listed := func(title string, ls []remediate.Listed) {
		if len(ls) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, l := range ls {
			writeParagraph(w, fmt.Sprintf("  %s (%s) in %s %s, %s: %s", l.ID, l.Severity, l.Package, l.Version, occurrenceImages(l.Occurrences), l.Reason))
		}
	}
	listed("Active, no fix known", p.NoFix)
	listed("No action needed", p.NotNeeded)
	if len(p.Unscanned) > 0 {
		fmt.Fprintln(w)
		writeParagraph(w, "Not planned (no verified scan in the catalog): "+strings.Join(p.Unscanned, ", "))
	}
	return nil
}

func occurrenceImages(os []remediate.Occurrence) string {
	seen := map[string]bool{}
	var out []string
	for _, o := range os {
		if !seen[o.Image] {
			seen[o.Image] = true
			out = append(out, o.Image)
		}
	}
	return strings.Join(out, ", ")
}

func newRemediateDraftCmd(g *globals) *cobra.Command {
	var fl remediateFlags
	cmd := &cobra.Command{
		Use:   "draft --catalog DIR --package NAME --newer REF --db DIR [--strategy lock|pin] [--branch B] [--arch A]",
		Short: "Make the change that fixes one package, rebuild the images it affects, and write the pull request",
		Long: `draft takes the plan's action for --package and makes its change in the
fleet repository's working tree:

  lock  nix/flake.lock locks the nixpkgs input to --newer (the whole package
        set moves to the newer revision);
  pin   nix/overlays/pins.nix takes the package's attribute alone from --newer,
        locked by its narHash; nix/flake.nix applies the overlay.

Before touching the working tree it rebuilds every image that carries the
package's findings from a staged copy of the changed flake, with the
pipeline's own build, assemble, test, sbom and scan stages (work files under
--work), and compares each with the catalog: the SBOM package diff, the
vulnerabilities fixed, still active and new, and the VEX statements that stop
applying. It refuses (exit status 1, nothing written) when a rebuilt image
fails a gate, carries an active finding it did not carry before, or still
carries a vulnerability the change was to fix. Otherwise it writes the change
and the pull-request body (--body), and with --branch commits the change to
that new branch. It never pushes, merges or publishes: a person reviews.

With --arch it rebuilds, tests and scans only those architectures of each
image (a runner that cannot build the others) and compares only their
platforms with the catalog; the body and the report name the architectures
not rebuilt, which the publish workflow rebuilds and gates before anything
is published. --runc names the runc binary of the smoke runs, as for test.

Exit status: 0 the change and the body were written, 1 the change is refused
(nothing written), 2 bad flags, fleet file, catalog or package, 3 could not
run (nix, git, I/O).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			o, err := fl.draft(g, f)
			if err != nil {
				return err
			}
			rep, err := remediate.DraftChange(cmd.Context(), o)
			g.report(draftReport(rep))
			if err != nil && !errors.Is(err, ErrGateFailed) {
				return err
			}
			if rerr := g.emit(fl.asJSON, rep, func() error { return renderDraft(g, draftReport(rep)) }, true, ""); rerr != nil {
				return rerr
			}
			return err
		},
	}
	addPackageSetFlags(cmd, &fl)
	fs := cmd.Flags()
	fs.StringVar(&fl.pkg, "package", "", "the package to remediate, as the plan names it (required)")
	fs.StringVar(&fl.strategy, "strategy", remediate.StrategyLock, "lock (update nix/flake.lock) or pin (nix/overlays/pins.nix)")
	fs.StringVar(&fl.newer, "newer", "", "the newer package set the fix comes from: a nixpkgs flake reference or directory (required)")
	fs.StringVar(&fl.branch, "branch", "", "commit the change to this new branch (never pushed)")
	fs.StringVar(&fl.work, "work", "out/remediate", "work directory for the rebuilt images (closures/, stage/, evidence/) and the body")
	fs.StringVar(&fl.cache, "cache", "", "compressed-layer cache (default: the user cache directory)")
	fs.StringVar(&fl.body, "body", "", "where to write the pull-request body (default: <work>/pr-body.md)")
	fs.BoolVar(&fl.noSmoke, "no-smoke", false, "do not execute the rebuilt images (smoke checks are reported as skipped)")
	fs.StringVar(&fl.runc, "runc", "", "runc binary of the smoke runs (default: runc on PATH; smoke runs are skipped, never passed, without it)")
	fs.StringSliceVar(&fl.archs, "arch", nil, "rebuild only these architectures of each image (repeatable or comma-separated; default: every architecture of the image); the body names the ones not rebuilt")
	fl.scan.addFlags(fs, "Grype v6 vulnerability database directory the rebuilt images are scanned with (required)")
	for _, n := range []string{"package", "newer", "db"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// draftReport is remediate draft's report, rendered for GitHub Actions.
type draftReport remediate.DraftReport

func (r draftReport) stage(key string) (step, bool) {
	if key != "remediate draft" {
		return step{}, false
	}
	var md strings.Builder
	ok := r.Changed || (len(r.Refused) == 0 && r.Message != "")
	md.WriteString(gha.Heading(3, fmt.Sprintf("%s clearcutt remediate draft %s (%s)", passIcon(ok), r.Package, r.Strategy)))
	switch {
	case len(r.Refused) > 0:
		md.WriteString(gha.Paragraph("Refused: nothing was written."))
		md.WriteString(gha.List(r.Refused, 0))
	case r.Message != "":
		md.WriteString(gha.Paragraph(r.Message))
	}
	if r.Draft != nil {
		t := gha.Table{Header: []string{"Image", "Rebuilt", "Fixed", "Still active", "New"}, Code: map[int]bool{1: true}, Limit: -1}
		for _, im := range r.Draft.Images {
			t.Rows = append(t.Rows, []string{im.Image, im.Rebuilt, deltaIDs(im.Delta.Fixed), deltaIDs(im.Delta.StillActive), deltaIDs(im.Delta.New)})
		}
		md.WriteString(t.Markdown())
		if len(r.Draft.NotRebuilt) > 0 {
			md.WriteString(gha.Paragraph(fmt.Sprintf("Rebuilt %s only; not rebuilt: %s. The publish workflow rebuilds and gates every architecture before anything is published.",
				strings.Join(r.Draft.Architectures, ", "), strings.Join(r.Draft.NotRebuilt, ", "))))
		}
	}
	if r.Changed {
		md.WriteString(gha.Paragraph(fmt.Sprintf("%s changed; pull-request body %s%s.", r.File, r.Body, map[bool]string{true: "; committed to " + r.Branch}[r.Branch != ""])))
	}
	return step{outputs: map[string]string{"branch": r.Branch, "body": r.Body, "changed": strconv.FormatBool(r.Changed)}, summary: md.String()}, true
}

func deltaIDs(fs []remediate.DeltaFinding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+" ("+f.Package+")")
	}
	return strings.Join(out, ", ")
}

// draft translates the flags into the options of remediate.DraftChange:
// the inputs the plan reads, the repository's git, and the release's
// stages under --work to rebuild with.
func (fl remediateFlags) draft(g *globals, f *fleet.File) (remediate.DraftOptions, error) {
	// The flags are checked before the catalog is read.
	if _, err := remediate.CheckDraft(f, fl.strategy, fl.archs); err != nil {
		return remediate.DraftOptions{}, err
	}
	in, err := loadRemediateInputs(f, fl)
	if err != nil {
		return remediate.DraftOptions{}, err
	}
	epoch, err := sourceDateEpoch(-1, f)
	if err != nil {
		return remediate.DraftOptions{}, err
	}
	cache, err := layerCache(fl.cache)
	if err != nil {
		return remediate.DraftOptions{}, err
	}
	st := pipeline.Stages{Work: fl.work, Env: os.Environ(), Cache: cache, SourceDateEpoch: epoch,
		Runc: runcPath(fl.runc, fl.noSmoke), Scanning: fl.scan.options(g), Progress: g}
	return remediate.DraftOptions{
		Fleet: f, Plan: in.planOptions(f, fl), Catalog: in.catalog, CatalogDir: fl.catalog,
		Nix: in.nix, FlakeDir: in.flakeDir, Override: in.override, Nixpkgs: fl.nixpkgs, NewerRef: in.newerRef,
		Package: fl.pkg, Strategy: fl.strategy, Archs: fl.archs,
		Git: remediate.Git{Dir: f.Dir, Env: os.Environ()}, Branch: fl.branch, Work: fl.work, Body: fl.body,
		Rebuilder: pipeline.Rebuilder{Stages: st, Log: g.stderr},
		Reproduce: remediate.ReproduceScan{DB: fl.scan.db, VEXDir: fl.scan.vexDir, Exceptions: fl.scan.exceptions, FailOn: fl.scan.failOn},
		Log:       g.stderr,
	}, nil
}

func renderDraft(g *globals, r draftReport) error {
	t := table{}
	if r.Message != "" {
		t.add(fmt.Sprintf("%s: %s", r.Package, r.Message))
	}
	if r.Draft != nil {
		d := r.Draft
		t.add(fmt.Sprintf("remediate %s: %s -> %s (%s), fixes %s", d.Package, strings.Join(d.From, ", "), d.To, r.Strategy, strings.Join(d.Fixes, ", ")))
		t.add(fmt.Sprintf("change: %s: %s -> %s", d.Change.File, d.Change.Before, d.Change.After))
		t.add("")
		// The three lists of findings share the last column, wrapped; the
		// rebuilt index goes on a line of its own under its image.
		t.add("IMAGE", "GATES", "FIXED; STILL ACTIVE; NEW")
		for _, im := range d.Images {
			gates := "pass"
			if !im.TestsPassed || !im.ScanPassed {
				gates = "FAIL"
			}
			t.add(im.Image, gates, "fixed "+dash(deltaIDs(im.Delta.Fixed))+"; still active "+dash(deltaIDs(im.Delta.StillActive))+"; new "+dash(deltaIDs(im.Delta.New)))
			t.add("  rebuilt " + im.Rebuilt)
		}
		if len(d.NotRebuilt) > 0 {
			t.add(fmt.Sprintf("rebuilt %s only; not rebuilt: %s (the publish workflow rebuilds and gates every architecture)", strings.Join(d.Architectures, ", "), strings.Join(d.NotRebuilt, ", ")))
		}
	}
	for _, reason := range r.Refused {
		t.add("REFUSED: " + reason)
	}
	if r.Changed {
		t.add("")
		t.add(fmt.Sprintf("wrote %s; pull-request body %s", r.File, r.Body))
		if r.Branch != "" {
			t.add(fmt.Sprintf("committed to branch %s (%s); not pushed", r.Branch, r.Commit))
		}
	}
	return t.write(g.stdout, tableWidth)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
