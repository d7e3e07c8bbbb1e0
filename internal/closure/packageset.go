package closure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/nixcmd"
)

// ErrPackageSet: the package set could not be evaluated.
var ErrPackageSet = errors.New("evaluating the package set failed")

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
// system → attribute → fleet.AttrPresent, AttrMissing or AttrFails. The flake is
// staged as a build stages it (without fixtures/ and fleet.json), so the
// evaluation neither copies the offline package set into the store nor
// depends on a stale fleet.json.
func (s PackageSet) States(ctx context.Context, systems, attrs []string) (map[string]map[string]string, error) {
	if _, err := os.Stat(filepath.Join(s.FlakeDir, "flake.nix")); err != nil {
		return nil, fmt.Errorf("%w: flake directory %s: %w", ErrPackageSet, s.FlakeDir, err)
	}
	staged, err := os.MkdirTemp(s.TempDir, "clearcutt-packages-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPackageSet, err)
	}
	defer os.RemoveAll(staged)
	if err := StageFlake(s.FlakeDir, staged); err != nil {
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
    let r = builtins.tryEval (let v = get set a; in if v == null then "` + fleet.AttrMissing + `" else builtins.seq v "` + fleet.AttrPresent + `");
    in if r.success then r.value else "` + fleet.AttrFails + `";
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
// fleet.Errors at the fields (errors.Is(err, fleet.ErrInvalid)). An error
// evaluating the set wraps ErrPackageSet.
func CheckPackageSet(ctx context.Context, f *fleet.File, set PackageSet) error {
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
