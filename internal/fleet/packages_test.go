package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clearcutt/clearcutt/internal/nixcmd"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

// TestCheckAttributes: an attribute the package set lacks, or cannot
// evaluate, on a system of the fleet is reported at the field of
// clearcutt.yaml that names it, with the systems; one present everywhere,
// or left out of the evaluation, is not.
func TestCheckAttributes(t *testing.T) {
	src := strings.Replace(valid, "    nix: {attribute: python3}", "    nix: {attribute: pyhton3, devPackages: [gcc, removedTool]}", 1)
	f, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Systems(), []string{"x86_64-linux", "aarch64-linux"}; !cmp.Equal(got, want) {
		t.Errorf("Systems() = %v, want %v", got, want)
	}
	wantUses := []AttrUse{
		{"tiers.slim.packages[0]", "busybox"},
		{"tiers.dev.packages[0]", "bashInteractive"},
		{"runtimes[0].nix.attribute", "pyhton3"},
		{"runtimes[0].nix.devPackages[0]", "gcc"},
		{"runtimes[0].nix.devPackages[1]", "removedTool"},
	}
	if diff := cmp.Diff(wantUses, f.Attributes()); diff != "" {
		t.Errorf("Attributes() (-want +got):\n%s", diff)
	}
	ok := map[string]string{"busybox": AttrPresent, "bashInteractive": AttrPresent, "gcc": AttrPresent}
	states := map[string]map[string]string{
		"x86_64-linux":  {"pyhton3": AttrMissing, "removedTool": AttrFails},
		"aarch64-linux": {"pyhton3": AttrMissing, "removedTool": AttrPresent, "gcc": AttrMissing},
	}
	for k, v := range ok {
		states["x86_64-linux"][k] = v
		if _, set := states["aarch64-linux"][k]; !set {
			states["aarch64-linux"][k] = v
		}
	}
	err = f.CheckAttributes(states, "the set")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want an invalid fleet file", err)
	}
	want := strings.Join([]string{
		`f.yaml:20:22: runtimes[0].nix.attribute: the package set (the set) has no attribute "pyhton3" on x86_64-linux, aarch64-linux`,
		`f.yaml:20:45: runtimes[0].nix.devPackages[0]: the package set (the set) has no attribute "gcc" on aarch64-linux`,
		`f.yaml:20:50: runtimes[0].nix.devPackages[1]: the package set (the set) has the attribute "removedTool", but evaluating it fails on x86_64-linux (a removed package's alias, or a broken or insecure package)`,
	}, "\n")
	if err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
	if err := f.CheckAttributes(map[string]map[string]string{}, "the set"); err != nil {
		t.Errorf("attributes the evaluation left out are reported: %v", err)
	}
}

// TestStatesExpr evaluates the package-set function with nix against a
// small set: a present attribute, a nested one, a missing one, one missing
// below an attribute that is no set, and one whose evaluation throws.
func TestStatesExpr(t *testing.T) {
	nix := testenv.Need(t, "nix", "apt-get install nix-bin")
	expr := fmt.Sprintf(`(%s) { x86_64-linux.pkgs = { a = { type = "derivation"; }; n.b = 1; r = throw "r was removed"; }; }`,
		statesExpr([]string{"x86_64-linux"}, []string{"a", "n.b", "zzz", "a.type.x", "r"}))
	cmd := exec.Command(nix, "eval", "--json", "--expr", expr, "--extra-experimental-features", nixcmd.Flakes)
	cmd.Env = testenv.CleanEnv()
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("nix eval: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got map[string]map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	want := map[string]map[string]string{"x86_64-linux": {
		"a": AttrPresent, "n.b": AttrPresent, "zzz": AttrMissing, "a.type.x": AttrMissing, "r": AttrFails,
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

// TestCheckPackageSetOffline runs the check against the offline package
// set (nix/fixtures replacing nixpkgs): the example fleet passes; with a
// misspelt runtime attribute it is refused at that field of the fleet file,
// not inside a build.
func TestCheckPackageSetOffline(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.Need(t, "nix", "apt-get install nix-bin")
	repo := testenv.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(repo, "nix/fixtures/vendor/.stamp")); err != nil {
		if testenv.Required() {
			t.Fatal("nix/fixtures/vendor is missing: run scripts/nix-fixtures.sh")
		}
		t.Skip("nix/fixtures/vendor is missing: run scripts/nix-fixtures.sh")
	}
	set := PackageSet{
		Nix:      nixcmd.Nix{Env: testenv.CleanEnv()},
		FlakeDir: filepath.Join(repo, "nix"),
		Override: "path:" + filepath.Join(repo, "nix/fixtures"),
		TempDir:  t.TempDir(),
	}
	example, err := os.ReadFile(filepath.Join(repo, "clearcutt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("clearcutt.yaml", example)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CheckPackageSet(context.Background(), set); err != nil {
		t.Fatalf("the example fleet: %v", err)
	}

	const old = "nix: {attribute: tzdata}"
	i := strings.Index(string(example), old)
	if i < 0 {
		t.Fatalf("clearcutt.yaml lacks %q", old)
	}
	line := strings.Count(string(example[:i]), "\n") + 1
	f, err = Parse("clearcutt.yaml", []byte(strings.Replace(string(example), old, "nix: {attribute: tzdata-missing}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	err = f.CheckPackageSet(context.Background(), set)
	var es Errors
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("err = %v, want one error", err)
	}
	want := fmt.Sprintf(`clearcutt.yaml:%d:22: runtimes[3].nix.attribute: the package set (%s replacing nixpkgs) has no attribute "tzdata-missing" on x86_64-linux, aarch64-linux`, line, set.Override)
	if es[0].Error() != want {
		t.Errorf("error %q, want %q", es[0], want)
	}
}
