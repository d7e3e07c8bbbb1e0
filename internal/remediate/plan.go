package remediate

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/gate"
)

// Availability says which package set carries a fixed version.
type Availability string

// Availabilities.
const (
	// FixPinned: the locked package set already has a fixed version; the
	// images only need rebuilding.
	FixPinned Availability = "pinned"
	// FixNewer: only the newer package set has one: lock to it or pin the
	// package from it.
	FixNewer Availability = "newer"
	// FixNone: neither package set has a fixed version yet.
	FixNone Availability = "none"
	// FixUnmapped: the package is not an attribute of the package set (a
	// package of an overlay's base image, or a name no attribute has).
	FixUnmapped Availability = "unmapped"
)

// available reports a fix that some package set carries.
func (a Availability) available() bool { return a == FixPinned || a == FixNewer }

// Occurrence is one platform image carrying a finding.
type Occurrence struct {
	Image    string `json:"image"`
	Platform string `json:"platform"`
	Version  string `json:"version"`
}

// Vulnerability is one finding of an action's package, over the images
// that carry it.
type Vulnerability struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases,omitempty"`
	Severity string   `json:"severity"`
	FixedIn  []string `json:"fixedIn"`
	// FixedBy is the package set whose version fixes it everywhere it
	// occurs (pinned before newer).
	FixedBy     Availability `json:"fixedBy"`
	KEV         *KEVEntry    `json:"kev,omitempty"`
	Occurrences []Occurrence `json:"occurrences"`
}

// Action is the remediation of one package.
type Action struct {
	Rank int `json:"rank"`
	// Package and Type identify the package as its package URL does.
	Package string `json:"package"`
	Type    string `json:"type"`
	// Attribute is the package-set attribute it comes from ("" if unmapped).
	Attribute string `json:"attribute,omitempty"`
	// Versions are the versions the images carry.
	Versions []string `json:"versions"`
	// Pinned and Newer are the attribute's version per Nix system in the
	// locked and the newer package set.
	Pinned map[string]string `json:"pinned,omitempty"`
	Newer  map[string]string `json:"newer,omitempty"`
	// Fix says where a fixed version is; Target is that version.
	Fix    Availability `json:"fix"`
	Target string       `json:"target,omitempty"`
	// Severity is the highest severity among Fixes (among all its
	// vulnerabilities when there is no fix).
	Severity string `json:"severity"`
	// KEV is true when one of those is in the KEV catalog.
	KEV bool `json:"kev"`
	// Images are the images that carry the package's findings.
	Images []string `json:"images"`
	// Fixes are the vulnerability ids the action fixes; Remaining those it
	// leaves active.
	Fixes     []string `json:"fixes"`
	Remaining []string `json:"remaining,omitempty"`
	// Why says what decided the rank; Next what to do.
	Why             string          `json:"why"`
	Next            string          `json:"next"`
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
}

// Listed is a finding outside the ranked actions: covered by a VEX
// statement or an exception, or without a known fix.
type Listed struct {
	ID      string `json:"id"`
	Package string `json:"package"`
	Version string `json:"version"`
	// Status is the catalog's (active, suppressed, excepted).
	Status string `json:"status"`
	// Reason says why it needs no action, or why none is possible.
	Reason      string       `json:"reason"`
	Severity    string       `json:"severity"`
	Occurrences []Occurrence `json:"occurrences"`
}

// Plan is the ranked remediation work for a catalog.
type Plan struct {
	Catalog            string    `json:"catalog"`
	CatalogGeneratedAt time.Time `json:"catalogGeneratedAt"`
	// Pinned and Newer describe the package sets compared.
	Pinned string `json:"pinned"`
	Newer  string `json:"newer,omitempty"`
	KEV    *KEV   `json:"kev,omitempty"`
	// Actions are ranked, first the most urgent.
	Actions []Action `json:"actions"`
	// NoFix are active findings without a known fixed version.
	NoFix []Listed `json:"noFix"`
	// NotNeeded are findings a VEX statement or an exception covers.
	NotNeeded []Listed `json:"notNeeded"`
	// Unscanned are image platforms the catalog has no verified scan for:
	// the plan cannot see their findings.
	Unscanned []string `json:"unscanned"`
}

// Action returns the action for package name.
func (p Plan) Action(name string) (Action, bool) {
	for _, a := range p.Actions {
		if a.Package == name {
			return a, true
		}
	}
	return Action{}, false
}

// PlanOptions configure MakePlan.
type PlanOptions struct {
	Catalog     *catalog.Catalog
	CatalogPath string
	KEV         *KEV
	// Attributes are the package-set attributes the fleet names (runtime
	// attributes, tier and dev packages): tried first when a package is
	// mapped to its attribute.
	Attributes []string
	// Pinned is the package set the fleet is built from; Newer, if set, a
	// newer one.
	Pinned Evaluator
	Newer  Evaluator
	// NewerRef is the reference Next suggests for --newer.
	NewerRef string
}

// systems maps a platform's architecture to its Nix system.
var systems = map[string]string{"amd64": "x86_64-linux", "arm64": "aarch64-linux"}

// systemOf is the Nix system of a platform "os/arch[/variant]" ("" if unknown).
func systemOf(platform string) string {
	parts := strings.Split(platform, "/")
	if len(parts) < 2 || parts[0] != "linux" {
		return ""
	}
	return systems[parts[1]]
}

type vulnAcc struct {
	v   Vulnerability
	sev gate.Severity
}

type group struct {
	typ, name string
	vulns     map[string]*vulnAcc
}

func (g *group) nix() bool { return g.typ == "nix" }

// MakePlan reads the catalog's findings, evaluates the packages'
// attributes in the package sets and ranks one action per package.
func MakePlan(ctx context.Context, o PlanOptions) (Plan, error) {
	if o.Catalog == nil || o.Pinned == nil {
		return Plan{}, fmt.Errorf("remediate.MakePlan: Catalog and Pinned are required")
	}
	plan := Plan{Catalog: o.CatalogPath, CatalogGeneratedAt: o.Catalog.GeneratedAt, Pinned: o.Pinned.Describe(), KEV: o.KEV,
		Actions: []Action{}, NoFix: []Listed{}, NotNeeded: []Listed{}, Unscanned: []string{}}
	if o.Newer != nil {
		plan.Newer = o.Newer.Describe()
	}
	groups := map[string]*group{}
	listed := map[string]*Listed{}
	var listOrder []string
	sysSet := map[string]bool{}
	for _, im := range o.Catalog.Images {
		for _, p := range im.Platforms {
			if p.Vulnerabilities == nil {
				plan.Unscanned = append(plan.Unscanned, im.Name+" "+p.Platform)
				continue
			}
			sys := systemOf(p.Platform)
			for _, f := range p.Vulnerabilities.Findings {
				occ := Occurrence{Image: im.Name, Platform: p.Platform, Version: f.Version}
				typ, name := packageOf(f)
				if f.Status != string(gate.Active) || len(f.FixedIn) == 0 {
					key := f.Status + "\x00" + f.ID + "\x00" + name + "\x00" + f.Version
					l, ok := listed[key]
					if !ok {
						l = &Listed{ID: f.ID, Package: name, Version: f.Version, Status: f.Status, Reason: listReason(f), Severity: f.Severity}
						listed[key] = l
						listOrder = append(listOrder, key)
					}
					l.Occurrences = append(l.Occurrences, occ)
					continue
				}
				if sys != "" {
					sysSet[sys] = true
				}
				gk := typ + "\x00" + name
				g := groups[gk]
				if g == nil {
					g = &group{typ: typ, name: name, vulns: map[string]*vulnAcc{}}
					groups[gk] = g
				}
				va := g.vulns[f.ID]
				if va == nil {
					va = &vulnAcc{v: Vulnerability{ID: f.ID}}
					g.vulns[f.ID] = va
				}
				va.v.Aliases = union(va.v.Aliases, f.Aliases)
				va.v.FixedIn = union(va.v.FixedIn, f.FixedIn)
				if s, _ := gate.ParseSeverity(f.Severity); s > va.sev || va.v.Severity == "" {
					va.sev, va.v.Severity = s, s.String()
				}
				va.v.Occurrences = append(va.v.Occurrences, occ)
			}
		}
	}
	for _, k := range listOrder {
		l := *listed[k]
		if l.Status == string(gate.Active) {
			plan.NoFix = append(plan.NoFix, l)
		} else {
			plan.NotNeeded = append(plan.NotNeeded, l)
		}
	}
	sortListed(plan.NoFix)
	sortListed(plan.NotNeeded)

	// Evaluate every candidate attribute once per package set.
	var syss []string
	for s := range sysSet {
		syss = append(syss, s)
	}
	sort.Strings(syss)
	candidates := map[string][]string{}
	var attrs []string
	for gk, g := range groups {
		if !g.nix() {
			continue
		}
		c := candidateAttrs(g.name, o.Attributes)
		candidates[gk] = c
		attrs = append(attrs, c...)
	}
	var pinned, newer Versions
	if len(attrs) > 0 && len(syss) > 0 {
		var err error
		if pinned, err = o.Pinned.Packages(ctx, syss, attrs); err != nil {
			return plan, fmt.Errorf("evaluating the locked package set: %w", err)
		}
		if o.Newer != nil {
			if newer, err = o.Newer.Packages(ctx, syss, attrs); err != nil {
				return plan, fmt.Errorf("evaluating the newer package set %s: %w", o.Newer.Describe(), err)
			}
		}
	}
	for gk, g := range groups {
		a := makeAction(g, candidates[gk], pinned, newer, o)
		plan.Actions = append(plan.Actions, a)
	}
	rankActions(plan.Actions)
	return plan, nil
}

// listReason says why a finding is not among the actions.
func listReason(f catalog.Finding) string {
	switch {
	case f.Status == string(gate.Suppressed):
		s := "VEX " + f.VEXStatus
		if f.VEXJustification != "" {
			s += " (" + f.VEXJustification + ")"
		}
		return s
	case f.Status == string(gate.Excepted):
		return fmt.Sprintf("exception (owner %s, expires %s)", f.ExceptionOwner, f.ExceptionExpires)
	case f.Status != string(gate.Active):
		return "status " + f.Status
	case f.FixState == "wont-fix":
		return "upstream will not fix it"
	case f.FixState == "not-fixed":
		return "no fixed version published upstream"
	}
	return "no fixed version known (fix state " + f.FixState + ")"
}

func sortListed(ls []Listed) {
	sort.SliceStable(ls, func(i, j int) bool {
		si, _ := gate.ParseSeverity(ls[i].Severity)
		sj, _ := gate.ParseSeverity(ls[j].Severity)
		if si != sj {
			return si > sj
		}
		if ls[i].ID != ls[j].ID {
			return ls[i].ID < ls[j].ID
		}
		return ls[i].Package < ls[j].Package
	})
}

var pythonPkgRE = regexp.MustCompile(`^python([0-9])\.([0-9]+)-(.+)$`)

// candidateAttrs are the attributes a Nix package may come from, most
// likely first: the fleet's own attributes, an attribute named like the
// package, and for "python3.11-requests" python311Packages.requests.
func candidateAttrs(name string, fleetAttrs []string) []string {
	out := append([]string(nil), fleetAttrs...)
	if topAttrRE.MatchString(name) {
		out = append(out, name)
	}
	if m := pythonPkgRE.FindStringSubmatch(name); m != nil && topAttrRE.MatchString(m[3]) {
		out = append(out, "python"+m[1]+m[2]+"Packages."+m[3])
	}
	var uniq []string
	seen := map[string]bool{}
	for _, a := range out {
		if !seen[a] && attrPathRE.MatchString(a) {
			seen[a] = true
			uniq = append(uniq, a)
		}
	}
	return uniq
}

// chooseAttr is the first candidate whose pname is name in the pinned set
// (else in the newer set) on some system.
func chooseAttr(name string, cands []string, sets ...Versions) string {
	for _, set := range sets {
		for _, c := range cands {
			for _, bySys := range set {
				if p := bySys[c]; p != nil && p.Pname == name {
					return c
				}
			}
		}
	}
	return ""
}

func makeAction(g *group, cands []string, pinned, newer Versions, o PlanOptions) Action {
	a := Action{Package: g.name, Type: g.typ, Fixes: []string{}, Fix: FixNone}
	var vulns []*vulnAcc
	for _, va := range g.vulns {
		vulns = append(vulns, va)
	}
	sort.Slice(vulns, func(i, j int) bool {
		if vulns[i].sev != vulns[j].sev {
			return vulns[i].sev > vulns[j].sev
		}
		return vulns[i].v.ID < vulns[j].v.ID
	})
	images := map[string]bool{}
	versions := map[string]bool{}
	for _, va := range vulns {
		for _, oc := range va.v.Occurrences {
			images[oc.Image] = true
			versions[oc.Version] = true
		}
		if e, ok := o.KEV.Lookup(append([]string{va.v.ID}, va.v.Aliases...)...); ok {
			e := e
			va.v.KEV = &e
		}
	}
	a.Images = keys(images)
	a.Versions = keys(versions)

	if g.nix() {
		a.Attribute = chooseAttr(g.name, cands, pinned, newer)
	}
	if a.Attribute == "" {
		a.Fix = FixUnmapped
		for _, va := range vulns {
			va.v.FixedBy = FixUnmapped
		}
	} else {
		a.Pinned = versionsOf(pinned, a.Attribute)
		a.Newer = versionsOf(newer, a.Attribute)
		var byPinned, byNewer []string
		for _, va := range vulns {
			va.v.FixedBy = FixNone
			switch {
			case fixedEverywhere(va.v, pinned, a.Attribute):
				va.v.FixedBy = FixPinned
				byPinned = append(byPinned, va.v.ID)
			case newer != nil && fixedEverywhere(va.v, newer, a.Attribute):
				va.v.FixedBy = FixNewer
			}
			if newer != nil && fixedEverywhere(va.v, newer, a.Attribute) {
				byNewer = append(byNewer, va.v.ID)
			}
		}
		switch {
		case len(byNewer) > len(byPinned):
			a.Fix, a.Fixes, a.Target = FixNewer, byNewer, VersionText(a.Newer)
		case len(byPinned) > 0:
			a.Fix, a.Fixes, a.Target = FixPinned, byPinned, VersionText(a.Pinned)
		}
	}
	fixed := map[string]bool{}
	for _, id := range a.Fixes {
		fixed[id] = true
	}
	best := gate.Unknown
	for _, va := range vulns {
		a.Vulnerabilities = append(a.Vulnerabilities, va.v)
		counts := fixed[va.v.ID] || !a.Fix.available()
		if !fixed[va.v.ID] {
			a.Remaining = append(a.Remaining, va.v.ID)
		}
		if counts {
			if va.sev > best {
				best = va.sev
			}
			if va.v.KEV != nil {
				a.KEV = true
			}
		}
	}
	a.Severity = best.String()
	a.Next = nextStep(a, o.NewerRef)
	return a
}

// fixedEverywhere reports whether the attribute's version in set fixes v
// on the system of every platform that carries it.
func fixedEverywhere(v Vulnerability, set Versions, attr string) bool {
	if set == nil || len(v.Occurrences) == 0 {
		return false
	}
	for _, oc := range v.Occurrences {
		p := set.Get(systemOf(oc.Platform), attr)
		if p == nil || !Fixes(p.Version, oc.Version, v.FixedIn) {
			return false
		}
	}
	return true
}

func versionsOf(set Versions, attr string) map[string]string {
	if set == nil {
		return nil
	}
	out := map[string]string{}
	for sys, m := range set {
		if p := m[attr]; p != nil {
			out[sys] = p.Version
		}
	}
	return out
}

// VersionText renders versions by Nix system: the one version when every
// system has the same, else each system's ("aarch64-linux 1.3, x86_64-linux
// 1.2"), and "" for none.
func VersionText(m map[string]string) string {
	if len(m) == 0 {
		return ""
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
		parts = append(parts, s+" "+m[s])
	}
	return strings.Join(parts, ", ")
}

func nextStep(a Action, newerRef string) string {
	switch a.Fix {
	case FixPinned:
		return fmt.Sprintf("rebuild: the locked package set already has %s %s; run the pipeline and publish", a.Package, a.Target)
	case FixNewer:
		ref := newerRef
		if ref == "" {
			ref = "REF"
		}
		return fmt.Sprintf("clearcutt remediate draft --package %s --strategy lock|pin --newer %s", a.Package, ref)
	case FixUnmapped:
		if a.Type != "nix" {
			return fmt.Sprintf("not a Nix package (%s): update the base image or the package outside the closure", a.Type)
		}
		return fmt.Sprintf("no attribute of the package set has pname %q: pin it by hand", a.Package)
	}
	var fixedIn []string
	for _, v := range a.Vulnerabilities {
		fixedIn = union(fixedIn, v.FixedIn)
	}
	return fmt.Sprintf("wait: no package set has a fixed version yet (fixed upstream in %s)", strings.Join(fixedIn, ", "))
}

var fixRank = map[Availability]int{FixPinned: 2, FixNewer: 1}

// rankActions orders actions: those with a fix in a package set first;
// then known exploited; then by severity; then a fix already in the locked
// set before one in a newer set; then more vulnerabilities fixed, more
// images, and the package name.
func rankActions(as []Action) {
	sort.SliceStable(as, func(i, j int) bool {
		a, b := as[i], as[j]
		if a.Fix.available() != b.Fix.available() {
			return a.Fix.available()
		}
		if a.KEV != b.KEV {
			return a.KEV
		}
		sa, _ := gate.ParseSeverity(a.Severity)
		sb, _ := gate.ParseSeverity(b.Severity)
		if sa != sb {
			return sa > sb
		}
		if fixRank[a.Fix] != fixRank[b.Fix] {
			return fixRank[a.Fix] > fixRank[b.Fix]
		}
		if len(a.Fixes) != len(b.Fixes) {
			return len(a.Fixes) > len(b.Fixes)
		}
		if len(a.Images) != len(b.Images) {
			return len(a.Images) > len(b.Images)
		}
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return a.Type < b.Type
	})
	for i := range as {
		as[i].Rank = i + 1
		as[i].Why = why(as[i])
	}
}

func why(a Action) string {
	var parts []string
	if !a.Fix.available() {
		parts = append(parts, "no fix in a package set")
	}
	if a.KEV {
		for _, v := range a.Vulnerabilities {
			if v.KEV != nil {
				s := "known exploited: " + v.ID + " (CISA KEV"
				if v.KEV.DueDate != "" {
					s += ", due " + v.KEV.DueDate
				}
				parts = append(parts, s+")")
				break
			}
		}
	}
	parts = append(parts, "severity "+a.Severity)
	switch a.Fix {
	case FixPinned:
		parts = append(parts, "fixed in the locked package set")
	case FixNewer:
		parts = append(parts, "fixed in the newer package set")
	}
	parts = append(parts, fmt.Sprintf("%d fixed, %d images", len(a.Fixes), len(a.Images)))
	return strings.Join(parts, "; ")
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	for _, x := range a {
		seen[x] = true
	}
	for _, x := range b {
		if !seen[x] {
			seen[x] = true
			a = append(a, x)
		}
	}
	return a
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
