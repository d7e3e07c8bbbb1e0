package fleet

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The package-set check. Validation is offline: it checks that every
// package-set attribute the fleet names (runtimes[i].nix.attribute and
// devPackages, tiers.<tier>.packages) is an attribute path, not that the
// package set has it, because the package set is nixpkgs, a flake input.
// An attribute the set lacks would stop a build inside Nix with an error
// about the staged fleet.json. closure.CheckPackageSet is the opt-in check
// that asks Nix; CheckAttributes places its answer at the fields of
// clearcutt.yaml.

// Attribute states, as the package-set evaluation reports them.
const (
	// AttrPresent: the set has the attribute and it evaluates.
	AttrPresent = "ok"
	// AttrMissing: the set has no such attribute.
	AttrMissing = "missing"
	// AttrFails: the set has the attribute, but evaluating it fails (a
	// removed package's alias, a broken or insecure package).
	AttrFails = "fails"
)

// AttrUse is one package-set attribute the fleet names, with the field
// that names it.
type AttrUse struct {
	Path      string
	Attribute string
}

// Attributes lists every package-set attribute the fleet names: the
// packages of every tier, then each runtime's attribute and dev packages.
func (f *Fleet) Attributes() []AttrUse {
	var out []AttrUse
	for _, tier := range AllTiers {
		for i, a := range f.Tier(tier).Packages {
			out = append(out, AttrUse{fmt.Sprintf("tiers.%s.packages[%d]", tier, i), a})
		}
	}
	for i, r := range f.Runtimes {
		out = append(out, AttrUse{fmt.Sprintf("runtimes[%d].nix.attribute", i), r.Nix.Attribute})
		for j, a := range r.Nix.DevPackages {
			out = append(out, AttrUse{fmt.Sprintf("runtimes[%d].nix.devPackages[%d]", i, j), a})
		}
	}
	return out
}

// Systems are the Nix systems of the fleet's architectures, in order.
func (f *Fleet) Systems() []string {
	var out []string
	for _, a := range f.Build.Architectures {
		if s, ok := nixSystems[a]; ok && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// CheckAttributes reports, as Errors wrapping ErrInvalid and placed at the
// field naming it, every attribute the fleet names that states (system →
// attribute → AttrPresent, AttrMissing or AttrFails) says is missing or
// fails on one of the fleet's systems. set names the package set in the
// messages. An attribute the states leave out is not reported.
func (f *File) CheckAttributes(states map[string]map[string]string, set string) error {
	var out Errors
	for _, u := range f.Attributes() {
		var missing, fails []string
		for _, s := range f.Systems() {
			switch states[s][u.Attribute] {
			case AttrMissing:
				missing = append(missing, s)
			case AttrFails:
				fails = append(fails, s)
			}
		}
		fe := FieldError{File: f.Path, Path: u.Path}
		if n, ok := f.lookup(u.Path); ok {
			fe.Line, fe.Column = n.Line, n.Column
		}
		if len(missing) > 0 {
			fe.Msg = fmt.Sprintf("the package set (%s) has no attribute %q on %s", set, u.Attribute, strings.Join(missing, ", "))
			out = append(out, fe)
		}
		if len(fails) > 0 {
			fe.Msg = fmt.Sprintf("the package set (%s) has the attribute %q, but evaluating it fails on %s (a removed package's alias, or a broken or insecure package)", set, u.Attribute, strings.Join(fails, ", "))
			out = append(out, fe)
		}
	}
	if len(out) == 0 {
		return nil
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].Column < out[j].Column
	})
	return out
}
