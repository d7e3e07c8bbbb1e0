package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/nixcmd"
)

// The package-set check. Validation is offline: it checks that every
// package-set attribute the fleet names (runtimes[i].nix.attribute and
// devPackages, tiers.<tier>.packages) is an attribute path, not that the
// package set has it, because the package set is nixpkgs, a flake input.
// An attribute the set lacks would stop a build inside Nix with an error
// about the staged fleet.json. CheckPackageSet is the opt-in check that
// asks Nix, and names the field of clearcutt.yaml instead.

// ErrPackageSet: the package set could not be evaluated.
var ErrPackageSet = errors.New("evaluating the package set failed")

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

// PackageSet is the package set a fleet is built from, evaluated with Nix:
// the legacyPackages.<system>.pkgs output of the fleet flake, that is
// nixpkgs as the flake's lock file locks it (or Override) with the flake's
// version pins applied.
type PackageSet struct {
	Nix nixcmd.Nix
	// FlakeDir is the fleet flake directory.
	FlakeDir string
	// Override replaces the locked nixpkgs input (a flake reference such
	// as path:/abs/nix/fixtures), as `clearcutt build --nixpkgs` does.
	Override string
	// TempDir holds the staged flake; empty means the system default.
	TempDir string
}

// Describe names the package set for people.
func (s PackageSet) Describe() string {
	if s.Override != "" {
		return s.Override + " replacing nixpkgs"
	}
	return "nixpkgs locked in " + filepath.Join(s.FlakeDir, "flake.lock")
}

// States evaluates, on each of systems, whether the set has each of attrs:
// system → attribute → AttrPresent, AttrMissing or AttrFails. The flake is
// staged as a build stages it (without fixtures/ and fleet.json), so the
// evaluation neither copies the offline package set into the store nor
// depends on a stale fleet.json.
func (s PackageSet) States(ctx context.Context, systems, attrs []string) (map[string]map[string]string, error) {
	for _, a := range attrs {
		if !reAttr.MatchString(a) {
			return nil, fmt.Errorf("%w: %q is not an attribute path", ErrPackageSet, a)
		}
	}
	if _, err := os.Stat(filepath.Join(s.FlakeDir, "flake.nix")); err != nil {
		return nil, fmt.Errorf("%w: flake directory %s: %w", ErrPackageSet, s.FlakeDir, err)
	}
	staged, err := os.MkdirTemp(s.TempDir, "clearcutt-packages-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPackageSet, err)
	}
	defer os.RemoveAll(staged)
	if err := closure.StageFlake(s.FlakeDir, staged); err != nil {
		return nil, fmt.Errorf("%w: staging %s: %w", ErrPackageSet, s.FlakeDir, err)
	}
	args := []string{"eval", "--json", "path:" + staged + "#legacyPackages", "--no-write-lock-file",
		"--apply", statesExpr(systems, attrs)}
	if s.Override != "" {
		args = append(args, "--override-input", "nixpkgs", s.Override)
	}
	out, err := s.Nix.Run(ctx, staged, nil, args...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPackageSet, err)
	}
	var states map[string]map[string]string
	if err := json.Unmarshal(out, &states); err != nil {
		return nil, fmt.Errorf("%w: reading nix eval's output: %w", ErrPackageSet, err)
	}
	return states, nil
}

// statesExpr is the function applied to legacyPackages: for each system,
// the state of each attribute path in legacyPackages.<system>.pkgs.
func statesExpr(systems, attrs []string) string {
	return `lp:
let
  get = set: path: builtins.foldl'
    (s: k: if s != null && builtins.isAttrs s && s ? ${k} then s.${k} else null)
    set (builtins.filter builtins.isString (builtins.split "[.]" path));
  state = set: a:
    let r = builtins.tryEval (let v = get set a; in if v == null then "` + AttrMissing + `" else builtins.seq v "` + AttrPresent + `");
    in if r.success then r.value else "` + AttrFails + `";
in
builtins.listToAttrs (map (system: {
  name = system;
  value = builtins.listToAttrs (map (a: { name = a; value = state lp.${system}.pkgs a; }) ` + nixList(attrs) + `);
}) ` + nixList(systems) + `)`
}

func nixList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = nixString(x)
	}
	return "[ " + strings.Join(q, " ") + " ]"
}

// nixString quotes s as a Nix string literal.
func nixString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// CheckPackageSet is the opt-in package-set check of a loaded fleet: it
// evaluates set with Nix and reports every attribute the fleet names that
// the set lacks, or cannot evaluate, on one of the fleet's systems, as
// Errors at the fields (errors.Is(err, ErrInvalid)). An error evaluating
// the set wraps ErrPackageSet.
func (f *File) CheckPackageSet(ctx context.Context, set PackageSet) error {
	var attrs []string
	for _, u := range f.Attributes() {
		if !slices.Contains(attrs, u.Attribute) {
			attrs = append(attrs, u.Attribute)
		}
	}
	states, err := set.States(ctx, f.Systems(), attrs)
	if err != nil {
		return err
	}
	return f.CheckAttributes(states, set.Describe())
}
