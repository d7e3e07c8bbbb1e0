package remediate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/outcome"
)

// DraftOptions configure DraftChange.
type DraftOptions struct {
	// Fleet is the fleet file of the repository the change is made in.
	Fleet *fleet.File
	// Plan makes the plan whose action for Package the draft takes.
	Plan PlanOptions
	// Catalog is Plan's catalog, read from CatalogDir (its SBOMs are the
	// published side of the package diff).
	Catalog    *catalog.Catalog
	CatalogDir string
	// Nix evaluates, locks and stages the fleet flake at FlakeDir (an
	// absolute path). Override replaces its nixpkgs input ("": the lock's);
	// Nixpkgs is the directory Override names, as the user gave it.
	Nix      Flakes
	FlakeDir string
	Override string
	Nixpkgs  string
	// NewerRef is the flake reference of the newer package set.
	NewerRef string
	// Package is the package to remediate, as the plan names it;
	// Strategy is StrategyLock or StrategyPin.
	Package  string
	Strategy string
	// Archs are the architectures rebuilt (none: every architecture).
	Archs []string
	// Git works in the fleet repository. Branch, when set, is the new
	// branch the change is committed to (never pushed).
	Git    Git
	Branch string
	// Work holds the rebuilt images; Body is the pull-request body file
	// ("": Work/pr-body.md).
	Work string
	Body string
	// Rebuilder rebuilds and gates the images of the changed fleet.
	Rebuilder Rebuilder
	// Reproduce is the scan configuration the reviewer's pipeline command
	// names.
	Reproduce ReproduceScan
	// Log receives progress (nil: none).
	Log io.Writer
}

// Flakes is what a draft asks of Nix; Nix is the real one.
type Flakes interface {
	// Lock resolves a flake reference to its locked form.
	Lock(ctx context.Context, ref string) (Locked, error)
	// LockNixpkgs returns flakeDir's flake.lock with nixpkgs locked to ref.
	LockNixpkgs(ctx context.Context, flakeDir, ref string) ([]byte, error)
	// ReadPins reads nix/overlays/pins.nix (none: no pins).
	ReadPins(ctx context.Context, path string) ([]Pin, error)
	// Stage copies the flake at flakeDir to a new directory the caller
	// removes.
	Stage(flakeDir string) (string, error)
	// FleetPackages evaluates attrs in the fleet flake at flakeDir, with
	// nixpkgs replaced by override ("": the lock's), on systems.
	FleetPackages(ctx context.Context, flakeDir, override string, systems, attrs []string) (Versions, error)
}

// FleetPackages implements Flakes.
func (n Nix) FleetPackages(ctx context.Context, flakeDir, override string, systems, attrs []string) (Versions, error) {
	return FleetSet{Nix: n, FlakeDir: flakeDir, Override: override}.Packages(ctx, systems, attrs)
}

// ReproduceScan is the scan configuration of the commands a reviewer runs.
type ReproduceScan struct {
	DB, VEXDir, Exceptions, FailOn string
}

func (o DraftOptions) log() io.Writer {
	if o.Log == nil {
		return io.Discard
	}
	return o.Log
}

// Rebuild is one image a draft rebuilds, for Archs.
type Rebuild struct {
	Image fleet.Image
	Archs []string
}

// Rebuilt is one rebuilt image and its gates.
type Rebuilt struct {
	// Reference is the rebuilt index by digest.
	Reference string
	// TestsPassed is the tier-test gate; TestFailures lists the failed
	// checks. The image is catalogued and scanned only when it passed.
	TestsPassed  bool
	TestFailures string
	// ScanPassed is the vulnerability gate; ScanReasons says why it
	// failed.
	ScanPassed  bool
	ScanReasons string
	Platforms   []RebuiltPlatform
}

// RebuiltPlatform is one scanned platform of a rebuilt image.
type RebuiltPlatform struct {
	Platform string
	Digest   string
	// SBOM is the rebuilt platform's SPDX document ("": none).
	SBOM string
	// Findings are its scan's findings as the catalog records them.
	Findings []catalog.Finding
	// Policy is the gate policy applied.
	Policy string
}

// Rebuilder rebuilds images from the changed fleet f (its flake staged;
// nixpkgs replaces the locked nixpkgs input, "" for the lock's), and runs
// the tier tests, the SBOM and the scan of each. A failed gate is recorded
// in the result, not returned; after an error the results so far are
// returned with it.
type Rebuilder interface {
	Rebuild(ctx context.Context, f *fleet.File, nixpkgs string, images []Rebuild) ([]Rebuilt, error)
}

// DraftReport is what a draft did.
type DraftReport struct {
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
	Message string `json:"message,omitempty"`
	Draft   *Draft `json:"draft,omitempty"`
}

// CheckDraft checks a draft's strategy and architectures against the
// fleet before anything is read, and returns the architectures to rebuild
// (none given: every architecture of the fleet).
func CheckDraft(f *fleet.File, strategy string, archs []string) ([]string, error) {
	if strategy != StrategyLock && strategy != StrategyPin {
		return nil, outcome.Usage(fmt.Errorf("--strategy %q: want lock or pin", strategy))
	}
	archs, err := CheckArchitectures(f.Build.Architectures, archs)
	if err != nil {
		return nil, outcome.Usage(fmt.Errorf("--arch: %w", err))
	}
	return archs, nil
}

// DraftChange takes the plan's action for o.Package and makes its change:
// it checks the repository first (a refused branch costs no rebuild), makes
// the change in a staged copy of the flake, checks that the changed package
// set has the fixed version, rebuilds and gates every image that carries
// the package's findings, and compares each with the catalog. It refuses
// (an error wrapping outcome.ErrGateFailed, nothing written) when a rebuilt
// image fails a gate, carries an active finding it did not carry before, or
// still carries a vulnerability the change was to fix. Otherwise it writes
// the change and the pull-request body, and with o.Branch commits the
// change to that new branch. It never pushes.
func DraftChange(ctx context.Context, o DraftOptions) (DraftReport, error) {
	f := o.Fleet
	rep := DraftReport{Package: o.Package, Strategy: o.Strategy}
	if o.Rebuilder == nil {
		return rep, errors.New("remediate: DraftOptions.Rebuilder is nil")
	}
	archs, err := CheckDraft(f, o.Strategy, o.Archs)
	if err != nil {
		return rep, err
	}
	o.Archs = archs
	// The git checks come first: a refused branch costs no rebuild.
	git := o.Git
	root, gerr := git.TopLevel(ctx)
	if gerr != nil {
		if o.Branch != "" {
			return rep, outcome.Usage(fmt.Errorf("--branch: %s is not in a git repository: %w", f.Dir, gerr))
		}
		root = f.Dir
	}
	if root, err = filepath.Abs(root); err != nil {
		return rep, err
	}
	file := filepath.Join(o.FlakeDir, LockFile)
	if o.Strategy == StrategyPin {
		file = filepath.Join(o.FlakeDir, PinsFile)
	}
	rel, err := filepath.Rel(root, file)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = file
	}
	rep.File = rel
	if o.Branch != "" {
		if err := git.CheckNewBranch(ctx, o.Branch); err != nil {
			return rep, outcome.Usage(err)
		}
		if err := git.CheckClean(ctx, rel); err != nil {
			return rep, outcome.Usage(err)
		}
	}

	fmt.Fprintf(o.log(), "remediate draft: planning %s\n", o.Package)
	plan, err := MakePlan(ctx, o.Plan)
	if err != nil {
		return rep, err
	}
	act, ok := plan.Action(o.Package)
	if !ok {
		var names []string
		for _, a := range plan.Actions {
			names = append(names, a.Package)
		}
		return rep, outcome.Usage(fmt.Errorf("--package %s: the catalog %s has no active finding with a known fix for %s (packages with one: %s)",
			o.Package, o.CatalogDir, o.Package, strings.Join(names, ", ")))
	}
	switch act.Fix {
	case FixPinned:
		rep.Message = fmt.Sprintf("the locked package set already has %s %s, which fixes %s: nothing to change; rebuild and publish the images (clearcutt pipeline)",
			act.Package, act.Target, strings.Join(act.Fixes, ", "))
		return rep, nil
	case FixNone, FixUnmapped:
		rep.Refused = []string{fmt.Sprintf("%s: %s", act.Package, act.Next)}
		return rep, fmt.Errorf("%w: %s", outcome.ErrGateFailed, rep.Refused[0])
	}
	targets, err := draftTargets(f, o.Catalog, act.Images, o.Archs)
	if err != nil {
		return rep, err
	}
	if o.Strategy == StrategyPin {
		if strings.Contains(act.Attribute, ".") {
			return rep, outcome.Usage(fmt.Errorf("--strategy pin replaces top-level attributes; %s is %s: use --strategy lock", act.Package, act.Attribute))
		}
		if vs := uniqueValues(act.Newer); len(vs) != 1 {
			return rep, outcome.Usage(fmt.Errorf("--strategy pin: the newer package set has %s %s on different systems; a pin names one version: use --strategy lock",
				act.Attribute, strings.Join(vs, " and ")))
		}
	}

	// The change, made in a staged copy of the flake.
	newer, err := o.Nix.Lock(ctx, o.NewerRef)
	if err != nil {
		return rep, err
	}
	change, err := makeChange(ctx, o, act, newer, rel)
	if err != nil {
		return rep, err
	}
	staged, err := o.Nix.Stage(o.FlakeDir)
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(staged)
	stagedFile := filepath.Join(staged, LockFile)
	if o.Strategy == StrategyPin {
		stagedFile = filepath.Join(staged, PinsFile)
	}
	if err := WriteFile(stagedFile, change.Content); err != nil {
		return rep, err
	}
	// The rebuild uses the locked input after a lock; a pin keeps --nixpkgs.
	override, nixpkgsFlag := o.Override, o.Nixpkgs
	if o.Strategy == StrategyLock {
		override, nixpkgsFlag = "", ""
	}
	if err := checkChangedSet(ctx, o.Nix, staged, override, act); err != nil {
		rep.Refused = []string{err.Error()}
		return rep, fmt.Errorf("%w: %v", outcome.ErrGateFailed, err)
	}

	d := Draft{Package: act.Package, Attribute: act.Attribute, From: act.Versions, To: act.Target, Fixes: act.Fixes,
		Action: act, Change: change, Newer: newer}
	changedFleet := *f
	changedFleet.Nix.Flake = staged
	images, err := rebuildAndCompare(ctx, o, &changedFleet, nixpkgsFlag, targets)
	d.Images = images
	d.Architectures, d.NotRebuilt = d.RebuiltArchitectures()
	rep.Draft = &d
	if err != nil {
		return rep, err
	}
	d.Commands = reproduceCommands(o, root, act, nixpkgsFlag)
	rep.Title = d.Title()
	if rep.Refused = d.Refusals(); len(rep.Refused) > 0 {
		return rep, fmt.Errorf("%w: the change is refused: %s", outcome.ErrGateFailed, strings.Join(rep.Refused, "; "))
	}

	// Passed: write the change and the body.
	body := o.Body
	if body == "" {
		body = filepath.Join(o.Work, "pr-body.md")
	}
	if err := WriteFile(body, []byte(d.Body())); err != nil {
		return rep, err
	}
	rep.Body = body
	if o.Branch != "" {
		if err := git.SwitchNew(ctx, o.Branch); err != nil {
			return rep, err
		}
		rep.Branch = o.Branch
	}
	if err := WriteFile(file, change.Content); err != nil {
		return rep, err
	}
	rep.Changed = true
	if o.Branch != "" {
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
func makeChange(ctx context.Context, o DraftOptions, act Action, newer Locked, rel string) (Change, error) {
	c := Change{Strategy: o.Strategy, File: rel}
	switch o.Strategy {
	case StrategyLock:
		before, err := os.ReadFile(filepath.Join(o.FlakeDir, LockFile))
		if err != nil {
			return c, outcome.Usage(fmt.Errorf("the fleet flake has no lock file: %w", err))
		}
		after, err := o.Nix.LockNixpkgs(ctx, o.FlakeDir, o.NewerRef)
		if err != nil {
			return c, err
		}
		c.Before, c.After, c.Content = LockSummary(before), LockSummary(after), after
		if string(before) == string(after) {
			return c, outcome.Usage(fmt.Errorf("nix/flake.lock already locks nixpkgs to %s", o.NewerRef))
		}
	case StrategyPin:
		if _, err := os.Stat(filepath.Join(o.FlakeDir, OverlayFile)); err != nil {
			return c, outcome.Usage(fmt.Errorf("the fleet flake has no %s, which applies the pins (see docs/remediation.md): %w", OverlayFile, err))
		}
		pins, err := o.Nix.ReadPins(ctx, filepath.Join(o.FlakeDir, PinsFile))
		if err != nil {
			return c, outcome.Usage(err)
		}
		c.Before = fmt.Sprintf("%s %s from the locked nixpkgs", act.Attribute, strings.Join(act.Versions, ", "))
		for _, p := range pins {
			if p.Attribute == act.Attribute {
				c.Before = fmt.Sprintf("%s %s pinned from %s", p.Attribute, p.Version, p.Flake)
			}
		}
		pin := Pin{Attribute: act.Attribute, Flake: newer.URL, Version: act.Target, Fixes: act.Fixes}
		content, err := RenderPins(WithPin(pins, pin))
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
func checkChangedSet(ctx context.Context, nx Flakes, staged, override string, act Action) error {
	var syss []string
	for s := range act.Newer {
		syss = append(syss, s)
	}
	v, err := nx.FleetPackages(ctx, staged, override, syss, []string{act.Attribute})
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
			return nil, outcome.Usage(fmt.Errorf("catalog image %s: %w", n, err))
		}
		rebuilt, notRebuilt, err := SelectArchitectures(img.RefName, img.Architectures, archs)
		if err != nil {
			return nil, outcome.Usage(fmt.Errorf("--arch %w", err))
		}
		out = append(out, draftTarget{ci: *ci, img: img, archs: rebuilt, notRebuilt: notRebuilt})
	}
	return out, nil
}

// sbomDiff compares the catalog's verified SBOM of the published platform
// with the rebuilt one. It returns the published digest too.
func sbomDiff(catalogDir string, ci catalog.Image, platform, after string) (*SBOMDiff, string, string) {
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
	d, err := DiffSBOMs(b, a)
	if err != nil {
		return nil, fmt.Sprintf("No package diff: %v.", err), pub.Digest
	}
	return &d, "", pub.Digest
}

// reproduceCommands are the commands a reviewer runs to check the change.
func reproduceCommands(o DraftOptions, root string, act Action, nixpkgs string) []string {
	f, flakeDir := o.Fleet, o.FlakeDir
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
	if o.Branch != "" {
		cmds = append(cmds, "git switch "+o.Branch)
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
	pipe += " --db " + o.Reproduce.DB
	if o.Reproduce.VEXDir != "" {
		pipe += " --vex-dir " + o.Reproduce.VEXDir
	}
	if o.Reproduce.Exceptions != "" {
		pipe += " --exceptions " + o.Reproduce.Exceptions
	}
	if o.Reproduce.FailOn != "" {
		pipe += " --fail-on " + o.Reproduce.FailOn
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

// rebuildAndCompare rebuilds every target from the changed fleet and
// compares each rebuilt platform with the catalog's record of the same
// platform.
func rebuildAndCompare(ctx context.Context, o DraftOptions, f *fleet.File, nixpkgs string, targets []draftTarget) ([]ImageEvidence, error) {
	var req []Rebuild
	for _, t := range targets {
		if len(t.notRebuilt) > 0 {
			fmt.Fprintf(o.log(), "remediate draft: %s: rebuilding %s; not rebuilding %s (--arch)\n", t.img.RefName, strings.Join(t.archs, ", "), strings.Join(t.notRebuilt, ", "))
		}
		req = append(req, Rebuild{Image: t.img, Archs: t.archs})
	}
	rebuilt, err := o.Rebuilder.Rebuild(ctx, f, nixpkgs, req)
	var out []ImageEvidence
	for i, r := range rebuilt {
		if i >= len(targets) {
			break
		}
		out = append(out, compareRebuilt(o.CatalogDir, targets[i], r))
	}
	return out, err
}

// compareRebuilt is the evidence of one rebuilt image against the catalog.
func compareRebuilt(catalogDir string, t draftTarget, r Rebuilt) ImageEvidence {
	ev := ImageEvidence{Image: t.img.RefName, Published: t.ci.Reference, Architectures: t.archs, NotRebuilt: t.notRebuilt,
		Rebuilt: r.Reference, TestsPassed: r.TestsPassed}
	if !r.TestsPassed {
		ev.Gate = append(ev.Gate, "tier tests: "+r.TestFailures)
		return ev
	}
	ev.ScanPassed = r.ScanPassed
	if !r.ScanPassed {
		ev.Gate = append(ev.Gate, "vulnerability gate: "+r.ScanReasons)
	}
	var before, after []catalog.Finding
	for _, p := range t.ci.Platforms {
		if p.Vulnerabilities != nil && contains(t.archs, PlatformArch(p.Platform)) {
			before = append(before, p.Vulnerabilities.Findings...)
		}
	}
	for _, p := range r.Platforms {
		after = append(after, p.Findings...)
		ev.ScanPolicy = p.Policy
		pe := PlatformEvidence{Platform: p.Platform, After: p.Digest}
		pe.SBOM, pe.SBOMNote, pe.Before = sbomDiff(catalogDir, t.ci, p.Platform, p.SBOM)
		ev.Platforms = append(ev.Platforms, pe)
	}
	ev.Delta = CompareFindings(before, after)
	return ev
}
