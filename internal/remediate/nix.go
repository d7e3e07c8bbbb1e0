package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/nixcmd"
)

// ErrNix: nix could not be run, or failed.
var ErrNix = errors.New("nix failed")

// Nix runs nix for evaluation and locking.
type Nix struct {
	// Bin is the nix binary; empty means "nix" on Env's PATH.
	Bin string
	// Env is the complete environment of the nix process (NIX_CONFIG,
	// PATH, HOME, ...).
	Env []string
	// TempDir holds staged flakes; empty means the system default.
	TempDir string
}

// run runs nix with flakes enabled (and the host's adaptations, see
// package nixcmd) in dir and returns its stdout.
func (n Nix) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	out, err := nixcmd.Nix{Bin: n.Bin, Env: n.Env}.Run(ctx, dir, nil, args...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNix, err)
	}
	return out, nil
}

// Stage copies the fleet's flake directory into a new temporary directory,
// leaving out fixtures/, fleet.json and result links as the build does. The
// caller removes the directory.
func (n Nix) Stage(flakeDir string) (string, error) {
	if _, err := os.Stat(filepath.Join(flakeDir, "flake.nix")); err != nil {
		return "", fmt.Errorf("flake directory %s: %w", flakeDir, err)
	}
	dst, err := os.MkdirTemp(n.TempDir, "clearcutt-remediate-")
	if err != nil {
		return "", err
	}
	if err := closure.StageFlake(flakeDir, dst); err != nil {
		os.RemoveAll(dst)
		return "", fmt.Errorf("staging %s: %w", flakeDir, err)
	}
	return dst, nil
}

// schemeRE starts a flake reference URL (path:, github:, git+https:, ...).
var schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+]*:`)

// FlakeRef turns a directory into a path: flake reference and leaves any
// other reference (github:NixOS/nixpkgs/<rev>, path:/abs, ...) as it is.
func FlakeRef(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if schemeRE.MatchString(s) {
		return s, nil
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(abs, "flake.nix")); err != nil {
		return "", fmt.Errorf("%s is not a flake directory (no flake.nix) nor a flake reference: %w", s, err)
	}
	return "path:" + abs, nil
}

// Package is a package-set attribute as Nix evaluates it.
type Package struct {
	Pname   string `json:"pname"`
	Version string `json:"version"`
}

// Versions are evaluated attributes: system → attribute → package (nil
// when the set has no such attribute).
type Versions map[string]map[string]*Package

// Get returns the package of attr on system, or nil.
func (v Versions) Get(system, attr string) *Package {
	return v[system][attr]
}

// Evaluator resolves package-set attributes to their pname and version.
type Evaluator interface {
	// Describe names the package set for people.
	Describe() string
	// Packages evaluates attrs on each of systems.
	Packages(ctx context.Context, systems, attrs []string) (Versions, error)
}

// FleetSet is the package set the fleet is built from: the
// legacyPackages.<system>.pkgs output of the fleet's flake, that is nixpkgs
// as nix/flake.lock locks it (or Override) with nix/overlays/pins.nix
// applied.
type FleetSet struct {
	Nix      Nix
	FlakeDir string
	// Override replaces the locked nixpkgs input (a flake reference), as
	// `clearcutt build --nixpkgs` does.
	Override string
}

// Describe implements Evaluator.
func (s FleetSet) Describe() string {
	if s.Override != "" {
		return s.Override + " (--nixpkgs) with " + filepath.Join(s.FlakeDir, "overlays/pins.nix")
	}
	return "nixpkgs locked in " + filepath.Join(s.FlakeDir, "flake.lock") + " with " + filepath.Join(s.FlakeDir, "overlays/pins.nix")
}

// Packages implements Evaluator.
func (s FleetSet) Packages(ctx context.Context, systems, attrs []string) (Versions, error) {
	staged, err := s.Nix.Stage(s.FlakeDir)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staged)
	args := []string{"eval", "--json", "path:" + staged + "#legacyPackages", "--no-write-lock-file"}
	if s.Override != "" {
		args = append(args, "--override-input", "nixpkgs", s.Override)
	}
	return evalVersions(ctx, s.Nix, args, "s: s.pkgs", systems, attrs)
}

// FlakeSet is the legacyPackages.<system> output of a nixpkgs-shaped
// flake, such as a newer nixpkgs revision.
type FlakeSet struct {
	Nix Nix
	Ref string
}

// Describe implements Evaluator.
func (s FlakeSet) Describe() string { return s.Ref }

// Packages implements Evaluator.
func (s FlakeSet) Packages(ctx context.Context, systems, attrs []string) (Versions, error) {
	return evalVersions(ctx, s.Nix, []string{"eval", "--json", s.Ref + "#legacyPackages", "--no-write-lock-file"}, "s: s", systems, attrs)
}

// attrPathRE is a dotted attribute path of plain names.
var attrPathRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*$`)

// nixString quotes s as a Nix string literal.
func nixString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func nixList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = nixString(x)
	}
	return "[ " + strings.Join(q, " ") + " ]"
}

// evalVersions applies a function to legacyPackages that reads pname and
// version of every attribute on every system; a missing attribute, or one
// whose evaluation throws, is null.
func evalVersions(ctx context.Context, n Nix, args []string, selectSet string, systems, attrs []string) (Versions, error) {
	for _, a := range attrs {
		if !attrPathRE.MatchString(a) {
			return nil, fmt.Errorf("%q is not an attribute path", a)
		}
	}
	systems = sortedUnique(systems)
	attrs = sortedUnique(attrs)
	apply := `lp:
let
  select = ` + selectSet + `;
  get = set: path: builtins.foldl'
    (s: k: if s != null && builtins.isAttrs s && s ? ${k} then s.${k} else null)
    set (builtins.filter builtins.isString (builtins.split "[.]" path));
  parse = name: builtins.parseDrvName name;
  describe = p:
    if builtins.isAttrs p && (p ? pname || p ? name) then
      let d = parse (p.name or ""); in { pname = toString (p.pname or d.name); version = toString (p.version or d.version); }
    else if builtins.isString p || builtins.isPath p then
      let d = parse (builtins.substring 33 (-1) (baseNameOf (toString p))); in { pname = d.name; version = d.version; }
    else null;
  safe = v: let r = builtins.tryEval (builtins.deepSeq v v); in if r.success then r.value else null;
in
builtins.listToAttrs (map (system: {
  name = system;
  value =
    let set = if lp ? ${system} then select lp.${system} else null; in
    builtins.listToAttrs (map (a: { name = a; value = if set == null then null else safe (describe (get set a)); }) ` + nixList(attrs) + `);
}) ` + nixList(systems) + `)`
	out, err := n.run(ctx, "", append(args, "--apply", apply)...)
	if err != nil {
		return nil, err
	}
	var v Versions
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("%w: unexpected `nix eval` output %s: %v", ErrNix, strconv.Quote(string(out)), err)
	}
	return v, nil
}

func sortedUnique(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// Locked is a flake reference resolved to an immutable one.
type Locked struct {
	// URL is the locked reference (with narHash, and rev where there is one).
	URL string `json:"url"`
	// Original is the reference as given.
	Original string `json:"original"`
	// Rev is the commit, for git-based references.
	Rev string `json:"rev,omitempty"`
	// NarHash is the hash of the source tree.
	NarHash string `json:"narHash"`
}

// Lock resolves ref to a locked reference with `nix flake metadata`.
func (n Nix) Lock(ctx context.Context, ref string) (Locked, error) {
	out, err := n.run(ctx, "", "flake", "metadata", "--json", "--no-write-lock-file", ref)
	if err != nil {
		return Locked{}, err
	}
	var md struct {
		URL    string `json:"url"`
		Locked struct {
			Rev     string `json:"rev"`
			NarHash string `json:"narHash"`
		} `json:"locked"`
	}
	if err := json.Unmarshal(out, &md); err != nil || md.URL == "" || md.Locked.NarHash == "" {
		return Locked{}, fmt.Errorf("%w: `nix flake metadata %s` gave no locked reference: %s", ErrNix, ref, strconv.Quote(string(out)))
	}
	return Locked{URL: md.URL, Original: ref, Rev: md.Locked.Rev, NarHash: md.Locked.NarHash}, nil
}
