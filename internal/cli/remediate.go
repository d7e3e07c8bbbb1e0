package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/remediate"
	"github.com/clearcutt/clearcutt/internal/scan"
)

func init() { extraCommands = append(extraCommands, newRemediateCmd) }

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
listed apart: they need no action, or none is possible.`,
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
			g.report(plan)
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
		return in, usageError{fmt.Errorf("--catalog: %w", err)}
	}
	if cat.Fleet.Name != "" && cat.Fleet.Name != f.Metadata.Name {
		return in, usageError{fmt.Errorf("--catalog %s is the catalog of fleet %q, but %s is fleet %q", fl.catalog, cat.Fleet.Name, f.Path, f.Metadata.Name)}
	}
	in.catalog = cat
	if fl.kev != "" {
		if in.kev, err = remediate.LoadKEV(fl.kev); err != nil {
			return in, usageError{fmt.Errorf("--kev: %w", err)}
		}
	}
	if in.override, err = nixOverride(fl.nixpkgs); err != nil {
		return in, err
	}
	if in.newerRef, err = remediate.FlakeRef(fl.newer); err != nil {
		return in, usageError{fmt.Errorf("--newer: %w", err)}
	}
	in.flakeDir, err = filepath.Abs(flakeDir(f))
	if err != nil {
		return in, err
	}
	in.nix = remediate.Nix{Env: os.Environ()}
	return in, nil
}

func (in remediateInputs) plan(ctx context.Context, f *fleet.File, fl remediateFlags) (remediate.Plan, error) {
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
	return remediate.MakePlan(ctx, o)
}

func runRemediatePlan(ctx context.Context, g *globals, f *fleet.File, fl remediateFlags) (remediate.Plan, error) {
	in, err := loadRemediateInputs(f, fl)
	if err != nil {
		return remediate.Plan{}, err
	}
	fmt.Fprintf(g.stderr, "remediate plan: evaluating package versions with nix\n")
	return in.plan(ctx, f, fl)
}

func versionsText(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	var syss []string
	vs := map[string]bool{}
	for s, v := range m {
		syss = append(syss, s)
		vs[v] = true
	}
	sort.Strings(syss)
	if len(vs) == 1 {
		return m[syss[0]]
	}
	var parts []string
	for _, s := range syss {
		parts = append(parts, strings.TrimSuffix(s, "-linux")+":"+m[s])
	}
	return strings.Join(parts, ",")
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
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RANK\tPACKAGE\tATTRIBUTE\tVERSION\tLOCKED\tNEWER\tFIX\tSEVERITY\tKEV\tFIXES\tIMAGES")
		for _, a := range p.Actions {
			attr := a.Attribute
			if attr == "" {
				attr = "-"
			}
			kev := "-"
			if a.KEV {
				kev = "yes"
			}
			fixes := strings.Join(a.Fixes, ",")
			if fixes == "" {
				fixes = "-"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Rank, a.Package, attr, strings.Join(a.Versions, ","),
				versionsText(a.Pinned), versionsText(a.Newer), a.Fix, a.Severity, kev, fixes, strings.Join(a.Images, ","))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
		for _, a := range p.Actions {
			fmt.Fprintf(w, "%d. %s: %s\n   next: %s\n", a.Rank, a.Package, a.Why, a.Next)
			if len(a.Remaining) > 0 {
				fmt.Fprintf(w, "   left active: %s\n", strings.Join(a.Remaining, ", "))
			}
		}
	}
	listed := func(title string, ls []remediate.Listed) {
		if len(ls) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, l := range ls {
			fmt.Fprintf(w, "  %s (%s) in %s %s, %s: %s\n", l.ID, l.Severity, l.Package, l.Version, occurrenceImages(l.Occurrences), l.Reason)
		}
	}
	listed("Active, no fix known", p.NoFix)
	listed("No action needed", p.NotNeeded)
	if len(p.Unscanned) > 0 {
		fmt.Fprintf(w, "\nNot planned (no verified scan in the catalog): %s\n", strings.Join(p.Unscanned, ", "))
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
is published. --runc names the runc binary of the smoke runs, as for test.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := runRemediateDraft(cmd.Context(), g, f, fl)
			g.report(rep)
			if err != nil && !errors.Is(err, ErrGateFailed) {
				return err
			}
			if rerr := g.emit(fl.asJSON, rep, func() error { return renderDraft(g, rep) }, true, ""); rerr != nil {
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
	fs.StringVar(&fl.scan.db, "db", "", "Grype v6 vulnerability database directory the rebuilt images are scanned with (required)")
	fs.StringVar(&fl.scan.vexDir, "vex-dir", "", "OpenVEX documents (default: vex/ next to the fleet file, if present)")
	fs.StringVar(&fl.scan.exceptions, "exceptions", "", "exceptions file (default: exceptions.yaml next to the fleet file, if present)")
	fs.StringVar(&fl.scan.failOn, "fail-on", "", failOnUsage)
	fs.BoolVar(&fl.scan.onlyFixable, "only-fixable", false, onlyFixableUsage)
	durationFlag(fs, &fl.scan.maxDBAge, "max-db-age", maxDBAgeUsage)
	fs.BoolVar(&fl.scan.allowStaleUnsf, "allow-stale-db-unsafe", false, "accept a database older than --max-db-age")
	for _, n := range []string{"package", "newer", "db"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// draftReport is what remediate draft reports.
type draftReport struct {
	Package  string `json:"package"`
	Strategy string `json:"strategy"`
	// Changed is true when the change was written to the working tree.
	Changed bool   `json:"changed"`
	File    string `json:"file,omitempty"`
	Branch  string `json:"branch,omitempty"`
	Commit  string `json:"commit,omitempty"`
	// Body is the pull-request body file; Title its title.
	Body  string `json:"body,omitempty"`
	Title string `json:"title,omitempty"`
	// Refused lists why the change was not proposed.
	Refused []string `json:"refused,omitempty"`
	// Message explains a run that had nothing to change.
	Message string           `json:"message,omitempty"`
	Draft   *remediate.Draft `json:"draft,omitempty"`
}

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

// catalogFindings are a scan's findings as the catalog records them.
func catalogFindings(res scan.Result) []catalog.Finding {
	out := make([]catalog.Finding, 0, len(res.Findings))
	for _, f := range res.Findings {
		c := catalog.Finding{ID: f.ID, Aliases: f.Aliases, Severity: f.Severity, Package: f.Package.Name, Version: f.Package.Version,
			Type: f.Package.Type, PURL: f.Package.PURL, Origin: string(f.Origin), Status: string(f.Status), FixState: f.FixState, FixedIn: f.FixedIn}
		if f.VEX != nil {
			c.VEXStatus, c.VEXJustification = f.VEX.Status, f.VEX.Justification
		}
		if f.Exception != nil {
			c.ExceptionOwner, c.ExceptionExpires = f.Exception.Owner, f.Exception.Expires
		}
		out = append(out, c)
	}
	return out
}

func runRemediateDraft(ctx context.Context, g *globals, f *fleet.File, fl remediateFlags) (draftReport, error) {
	rep := draftReport{Package: fl.pkg, Strategy: fl.strategy}
	if fl.strategy != remediate.StrategyLock && fl.strategy != remediate.StrategyPin {
		return rep, usageError{fmt.Errorf("--strategy %q: want lock or pin", fl.strategy)}
	}
	archs, err := remediate.CheckArchitectures(f.Build.Architectures, fl.archs)
	if err != nil {
		return rep, usageError{fmt.Errorf("--arch: %w", err)}
	}
	fl.archs = archs
	in, err := loadRemediateInputs(f, fl)
	if err != nil {
		return rep, err
	}
	// The git checks come first: a refused branch costs no rebuild.
	git := remediate.Git{Dir: f.Dir, Env: os.Environ()}
	root, gerr := git.TopLevel(ctx)
	if gerr != nil {
		if fl.branch != "" {
			return rep, usageError{fmt.Errorf("--branch: %s is not in a git repository: %w", f.Dir, gerr)}
		}
		root = f.Dir
	}
	if root, err = filepath.Abs(root); err != nil {
		return rep, err
	}
	file := filepath.Join(in.flakeDir, remediate.LockFile)
	if fl.strategy == remediate.StrategyPin {
		file = filepath.Join(in.flakeDir, remediate.PinsFile)
	}
	rel, err := filepath.Rel(root, file)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = file
	}
	rep.File = rel
	if fl.branch != "" {
		if err := git.CheckNewBranch(ctx, fl.branch); err != nil {
			return rep, usageError{err}
		}
		if err := git.CheckClean(ctx, rel); err != nil {
			return rep, usageError{err}
		}
	}

	fmt.Fprintf(g.stderr, "remediate draft: planning %s\n", fl.pkg)
	plan, err := in.plan(ctx, f, fl)
	if err != nil {
		return rep, err
	}
	act, ok := plan.Action(fl.pkg)
	if !ok {
		var names []string
		for _, a := range plan.Actions {
			names = append(names, a.Package)
		}
		return rep, usageError{fmt.Errorf("--package %s: the catalog %s has no active finding with a known fix for %s (packages with one: %s)",
			fl.pkg, fl.catalog, fl.pkg, strings.Join(names, ", "))}
	}
	switch act.Fix {
	case remediate.FixPinned:
		rep.Message = fmt.Sprintf("the locked package set already has %s %s, which fixes %s: nothing to change; rebuild and publish the images (clearcutt pipeline)",
			act.Package, act.Target, strings.Join(act.Fixes, ", "))
		return rep, nil
	case remediate.FixNone, remediate.FixUnmapped:
		rep.Refused = []string{fmt.Sprintf("%s: %s", act.Package, act.Next)}
		return rep, fmt.Errorf("%w: %s", ErrGateFailed, rep.Refused[0])
	}
	targets, err := draftTargets(f, in.catalog, act.Images, fl.archs)
	if err != nil {
		return rep, err
	}
	if fl.strategy == remediate.StrategyPin {
		if strings.Contains(act.Attribute, ".") {
			return rep, usageError{fmt.Errorf("--strategy pin replaces top-level attributes; %s is %s: use --strategy lock", act.Package, act.Attribute)}
		}
		if vs := uniqueValues(act.Newer); len(vs) != 1 {
			return rep, usageError{fmt.Errorf("--strategy pin: the newer package set has %s %s on different systems; a pin names one version: use --strategy lock",
				act.Attribute, strings.Join(vs, " and "))}
		}
	}

	// The change, made in a staged copy of the flake.
	newer, err := in.nix.Lock(ctx, in.newerRef)
	if err != nil {
		return rep, err
	}
	change, err := makeChange(ctx, in, fl.strategy, act, newer, rel)
	if err != nil {
		return rep, err
	}
	staged, err := in.nix.Stage(in.flakeDir)
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(staged)
	stagedFile := filepath.Join(staged, remediate.LockFile)
	if fl.strategy == remediate.StrategyPin {
		stagedFile = filepath.Join(staged, remediate.PinsFile)
	}
	if err := remediate.WriteFile(stagedFile, change.Content); err != nil {
		return rep, err
	}
	// The rebuild uses the locked input after a lock; a pin keeps --nixpkgs.
	override, nixpkgsFlag := in.override, fl.nixpkgs
	if fl.strategy == remediate.StrategyLock {
		override, nixpkgsFlag = "", ""
	}
	if err := checkChangedSet(ctx, in.nix, staged, override, act); err != nil {
		rep.Refused = []string{err.Error()}
		return rep, fmt.Errorf("%w: %v", ErrGateFailed, err)
	}

	d := remediate.Draft{Package: act.Package, Attribute: act.Attribute, From: act.Versions, To: act.Target, Fixes: act.Fixes,
		Action: act, Change: change, Newer: newer}
	changedFleet := *f
	changedFleet.Nix.Flake = staged
	images, err := rebuildForDraft(ctx, g, &changedFleet, fl, nixpkgsFlag, targets)
	d.Images = images
	d.Architectures, d.NotRebuilt = d.RebuiltArchitectures()
	rep.Draft = &d
	if err != nil {
		return rep, err
	}
	d.Commands = reproduceCommands(f, root, in.flakeDir, fl, act, nixpkgsFlag)
	rep.Title = d.Title()
	if rep.Refused = d.Refusals(); len(rep.Refused) > 0 {
		return rep, fmt.Errorf("%w: the change is refused: %s", ErrGateFailed, strings.Join(rep.Refused, "; "))
	}

	// Passed: write the change and the body.
	body := fl.body
	if body == "" {
		body = filepath.Join(fl.work, "pr-body.md")
	}
	if err := remediate.WriteFile(body, []byte(d.Body())); err != nil {
		return rep, err
	}
	rep.Body = body
	if fl.branch != "" {
		if err := git.SwitchNew(ctx, fl.branch); err != nil {
			return rep, err
		}
		rep.Branch = fl.branch
	}
	if err := remediate.WriteFile(file, change.Content); err != nil {
		return rep, err
	}
	rep.Changed = true
	if fl.branch != "" {
		msg := d.Title() + "\n\n" + fmt.Sprintf("%s: %s → %s.\nThe pull-request body with the evidence: %s (clearcutt remediate draft).\n", rel, change.Before, change.After, body)
		commit, err := git.Commit(ctx, msg, rel)
		if err != nil {
			return rep, err
		}
		rep.Commit = commit
	}
	return rep, nil
}

// makeChange computes the new content of the file the strategy edits.
func makeChange(ctx context.Context, in remediateInputs, strategy string, act remediate.Action, newer remediate.Locked, rel string) (remediate.Change, error) {
	c := remediate.Change{Strategy: strategy, File: rel}
	switch strategy {
	case remediate.StrategyLock:
		before, err := os.ReadFile(filepath.Join(in.flakeDir, remediate.LockFile))
		if err != nil {
			return c, usageError{fmt.Errorf("the fleet flake has no lock file: %w", err)}
		}
		after, err := in.nix.LockNixpkgs(ctx, in.flakeDir, in.newerRef)
		if err != nil {
			return c, err
		}
		c.Before, c.After, c.Content = remediate.LockSummary(before), remediate.LockSummary(after), after
		if string(before) == string(after) {
			return c, usageError{fmt.Errorf("nix/flake.lock already locks nixpkgs to %s", in.newerRef)}
		}
	case remediate.StrategyPin:
		if _, err := os.Stat(filepath.Join(in.flakeDir, remediate.OverlayFile)); err != nil {
			return c, usageError{fmt.Errorf("the fleet flake has no %s, which applies the pins (see docs/remediation.md): %w", remediate.OverlayFile, err)}
		}
		pins, err := in.nix.ReadPins(ctx, filepath.Join(in.flakeDir, remediate.PinsFile))
		if err != nil {
			return c, usageError{err}
		}
		c.Before = fmt.Sprintf("%s %s from the locked nixpkgs", act.Attribute, strings.Join(act.Versions, ", "))
		for _, p := range pins {
			if p.Attribute == act.Attribute {
				c.Before = fmt.Sprintf("%s %s pinned from %s", p.Attribute, p.Version, p.Flake)
			}
		}
		pin := remediate.Pin{Attribute: act.Attribute, Flake: newer.URL, Version: act.Target, Fixes: act.Fixes}
		content, err := remediate.RenderPins(remediate.WithPin(pins, pin))
		if err != nil {
			return c, err
		}
		c.After = fmt.Sprintf("%s %s pinned from %s", act.Attribute, act.Target, newer.URL)
		c.Content = content
	}
	return c, nil
}

// checkChangedSet evaluates the changed flake: the attribute must now have
// the target version on every system the action's findings are on.
func checkChangedSet(ctx context.Context, nx remediate.Nix, staged, override string, act remediate.Action) error {
	var syss []string
	for s := range act.Newer {
		syss = append(syss, s)
	}
	v, err := remediate.FleetSet{Nix: nx, FlakeDir: staged, Override: override}.Packages(ctx, syss, []string{act.Attribute})
	if err != nil {
		return err
	}
	for _, s := range syss {
		p := v.Get(s, act.Attribute)
		got := "(none)"
		if p != nil {
			got = p.Version
		}
		if p == nil || p.Version != act.Newer[s] {
			return fmt.Errorf("after the change the fleet's package set has %s %s on %s, not %s: the flake does not apply the change (see docs/remediation.md)",
				act.Attribute, got, s, act.Newer[s])
		}
	}
	return nil
}

// draftTarget is one image a draft rebuilds: the catalog's record of the
// published image, the fleet's image, and the architectures rebuilt and
// left out.
type draftTarget struct {
	ci         catalog.Image
	img        fleet.Image
	archs      []string
	notRebuilt []string
}

// draftTargets resolves the images of names in the catalog and the fleet
// and selects the architectures of each (archs; none: every architecture).
func draftTargets(f *fleet.File, cat *catalog.Catalog, names, archs []string) ([]draftTarget, error) {
	var out []draftTarget
	for _, n := range names {
		var ci *catalog.Image
		for i := range cat.Images {
			if cat.Images[i].Name == n {
				ci = &cat.Images[i]
			}
		}
		if ci == nil {
			return nil, fmt.Errorf("image %s is not in the catalog", n)
		}
		img, err := f.Image(ci.Runtime, ci.Tier)
		if err != nil {
			return nil, usageError{fmt.Errorf("catalog image %s: %w", n, err)}
		}
		rebuilt, notRebuilt, err := remediate.SelectArchitectures(img.RefName, img.Architectures, archs)
		if err != nil {
			return nil, usageError{fmt.Errorf("--arch %w", err)}
		}
		out = append(out, draftTarget{ci: *ci, img: img, archs: rebuilt, notRebuilt: notRebuilt})
	}
	return out, nil
}

// rebuildForDraft rebuilds, tests, catalogs and scans the architectures of
// every target from the changed fleet, and compares each with the
// catalog's findings of the same platforms.
func rebuildForDraft(ctx context.Context, g *globals, f *fleet.File, fl remediateFlags, nixpkgs string, targets []draftTarget) ([]remediate.ImageEvidence, error) {
	closures := filepath.Join(fl.work, "closures")
	stageDir := filepath.Join(fl.work, "stage")
	evidence := filepath.Join(fl.work, "evidence")
	total := 0
	for _, t := range targets {
		total += len(t.archs) + 4
	}
	step := 0
	say := func(format string, args ...any) {
		step++
		fmt.Fprintf(g.stderr, "[%d/%d] %s\n", step, total, fmt.Sprintf(format, args...))
	}
	var out []remediate.ImageEvidence
	for _, t := range targets {
		ev := remediate.ImageEvidence{Image: t.img.RefName, Published: t.ci.Reference, Architectures: t.archs, NotRebuilt: t.notRebuilt}
		if len(t.notRebuilt) > 0 {
			fmt.Fprintf(g.stderr, "remediate draft: %s: rebuilding %s; not rebuilding %s (--arch)\n", t.img.RefName, strings.Join(t.archs, ", "), strings.Join(t.notRebuilt, ", "))
		}
		for _, arch := range t.archs {
			say("build %s %s", t.img.RefName, arch)
			if _, _, err := runBuild(ctx, g, f, buildFlags{runtime: t.img.Runtime, tier: t.img.Tier, arch: arch, out: closures, nixpkgs: nixpkgs}); err != nil {
				return out, err
			}
		}
		say("assemble %s", t.img.RefName)
		ar, err := runAssemble(ctx, g, f, assembleFlags{runtime: t.img.Runtime, tier: t.img.Tier, archs: t.archs, closures: closures, stage: stageDir, cache: fl.cache, sourceDateEpoch: -1})
		if err != nil {
			return out, err
		}
		ev.Rebuilt = ar.Reference
		say("test %s", t.img.RefName)
		tr, err := runTest(ctx, g, f, ar.Reference, testFlags{evidence: evidence, noSmoke: fl.noSmoke, runc: fl.runc})
		if err != nil {
			return out, err
		}
		ev.TestsPassed = tr.Passed
		if !tr.Passed {
			ev.Gate = append(ev.Gate, "tier tests: "+failedChecks(tr))
			out = append(out, ev)
			continue
		}
		say("sbom %s", t.img.RefName)
		sr, err := runSBOM(ctx, g, f, ar.Reference, sbomFlags{closures: closures, evidence: evidence, sourceDateEpoch: -1})
		if err != nil {
			return out, err
		}
		say("scan %s", t.img.RefName)
		sf := fl.scan
		sf.evidence = evidence
		vr, err := runScan(ctx, g, f, ar.Reference, sf)
		if err != nil {
			return out, err
		}
		ev.ScanPassed = vr.Pass
		if !vr.Pass {
			ev.Gate = append(ev.Gate, "vulnerability gate: "+scanReasons(vr))
		}
		var before, after []catalog.Finding
		for _, p := range t.ci.Platforms {
			if p.Vulnerabilities != nil && containsString(t.archs, remediate.PlatformArch(p.Platform)) {
				before = append(before, p.Vulnerabilities.Findings...)
			}
		}
		for i, sp := range vr.Platforms {
			after = append(after, catalogFindings(sp.Result)...)
			ev.ScanPolicy = sp.Decision.Policy
			pe := remediate.PlatformEvidence{Platform: sp.Platform, After: sp.Digest}
			var sbomAfter string
			if i < len(sr.Platforms) && sr.Platforms[i].Digest == sp.Digest {
				sbomAfter = sr.Platforms[i].File
			}
			pe.SBOM, pe.SBOMNote, pe.Before = sbomDiff(fl.catalog, t.ci, sp.Platform, sbomAfter)
			ev.Platforms = append(ev.Platforms, pe)
		}
		ev.Delta = remediate.CompareFindings(before, after)
		out = append(out, ev)
	}
	return out, nil
}

// sbomDiff compares the catalog's verified SBOM of the published platform
// with the rebuilt one. It returns the published digest too.
func sbomDiff(catalogDir string, ci catalog.Image, platform, after string) (*remediate.SBOMDiff, string, string) {
	var pub *catalog.Platform
	for i := range ci.Platforms {
		if ci.Platforms[i].Platform == platform {
			pub = &ci.Platforms[i]
		}
	}
	if pub == nil {
		return nil, fmt.Sprintf("The catalog has no %s image of %s: no package diff.", platform, ci.Name), ""
	}
	if pub.SBOM == "" {
		return nil, "The catalog holds no verified SBOM of the published image: no package diff.", pub.Digest
	}
	if after == "" {
		return nil, "The rebuilt image has no SBOM: no package diff.", pub.Digest
	}
	b, err := os.ReadFile(filepath.Join(catalogDir, filepath.FromSlash(pub.SBOM)))
	if err != nil {
		return nil, fmt.Sprintf("The catalog's SBOM %s cannot be read (%v): no package diff.", pub.SBOM, err), pub.Digest
	}
	a, err := os.ReadFile(after)
	if err != nil {
		return nil, fmt.Sprintf("The rebuilt SBOM cannot be read (%v): no package diff.", err), pub.Digest
	}
	d, err := remediate.DiffSBOMs(b, a)
	if err != nil {
		return nil, fmt.Sprintf("No package diff: %v.", err), pub.Digest
	}
	return &d, "", pub.Digest
}

// reproduceCommands are the commands a reviewer runs to check the change.
func reproduceCommands(f *fleet.File, root, flakeDir string, fl remediateFlags, act remediate.Action, nixpkgs string) []string {
	rel := func(p string) string {
		abs, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		if r, err := filepath.Rel(root, abs); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return abs
	}
	var cmds []string
	if fl.branch != "" {
		cmds = append(cmds, "git switch "+fl.branch)
	}
	var syss []string
	for s := range act.Newer {
		syss = append(syss, s)
	}
	sort.Strings(syss)
	override := ""
	if nixpkgs != "" {
		override = " --override-input nixpkgs path:" + mustAbs(nixpkgs)
	}
	for _, s := range syss {
		cmds = append(cmds, fmt.Sprintf("nix eval --raw './%s#legacyPackages.%s.pkgs.%s.version'%s   # %s",
			rel(flakeDir), s, act.Attribute, override, act.Newer[s]))
	}
	pipe := "clearcutt -f " + rel(f.Path) + " pipeline"
	for _, im := range act.Images {
		pipe += " --only " + im
	}
	if nixpkgs != "" {
		pipe += " --nixpkgs " + nixpkgs
	}
	pipe += " --db " + fl.scan.db
	if fl.scan.vexDir != "" {
		pipe += " --vex-dir " + fl.scan.vexDir
	}
	if fl.scan.exceptions != "" {
		pipe += " --exceptions " + fl.scan.exceptions
	}
	if fl.scan.failOn != "" {
		pipe += " --fail-on " + fl.scan.failOn
	}
	pipe += " --work out/remediate-check --to oci:out/remediate-check/oci --no-attest-unsafe"
	cmds = append(cmds, pipe+"   # the gates pass; the scan no longer lists "+strings.Join(act.Fixes, ", "))
	return cmds
}

func uniqueValues(m map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range m {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func mustAbs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func renderDraft(g *globals, r draftReport) error {
	w := g.stdout
	if r.Message != "" {
		fmt.Fprintf(w, "%s: %s\n", r.Package, r.Message)
	}
	if r.Draft != nil {
		d := r.Draft
		fmt.Fprintf(w, "remediate %s: %s -> %s (%s), fixes %s\n", d.Package, strings.Join(d.From, ", "), d.To, r.Strategy, strings.Join(d.Fixes, ", "))
		fmt.Fprintf(w, "change: %s: %s -> %s\n\n", d.Change.File, d.Change.Before, d.Change.After)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "IMAGE\tREBUILT\tGATES\tFIXED\tSTILL ACTIVE\tNEW")
		for _, im := range d.Images {
			gates := "pass"
			if !im.TestsPassed || !im.ScanPassed {
				gates = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", im.Image, im.Rebuilt, gates, dash(deltaIDs(im.Delta.Fixed)), dash(deltaIDs(im.Delta.StillActive)), dash(deltaIDs(im.Delta.New)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(d.NotRebuilt) > 0 {
			fmt.Fprintf(w, "rebuilt %s only; not rebuilt: %s (the publish workflow rebuilds and gates every architecture)\n", strings.Join(d.Architectures, ", "), strings.Join(d.NotRebuilt, ", "))
		}
	}
	for _, reason := range r.Refused {
		fmt.Fprintf(w, "REFUSED: %s\n", reason)
	}
	if r.Changed {
		fmt.Fprintf(w, "\nwrote %s; pull-request body %s\n", r.File, r.Body)
		if r.Branch != "" {
			fmt.Fprintf(w, "committed to branch %s (%s); not pushed\n", r.Branch, r.Commit)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
