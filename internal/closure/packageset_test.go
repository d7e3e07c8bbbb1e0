package closure

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

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/nixcmd"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

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
		"a": fleet.AttrPresent, "n.b": fleet.AttrPresent, "zzz": fleet.AttrMissing, "a.type.x": fleet.AttrMissing, "r": fleet.AttrFails,
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
	f, err := fleet.Parse("clearcutt.yaml", example)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPackageSet(context.Background(), f, set); err != nil {
		t.Fatalf("the example fleet: %v", err)
	}

	const old = "nix: {attribute: tzdata}"
	i := strings.Index(string(example), old)
	if i < 0 {
		t.Fatalf("clearcutt.yaml lacks %q", old)
	}
	line := strings.Count(string(example[:i]), "\n") + 1
	f, err = fleet.Parse("clearcutt.yaml", []byte(strings.Replace(string(example), old, "nix: {attribute: tzdata-missing}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	err = CheckPackageSet(context.Background(), f, set)
	var es fleet.Errors
	if !errors.Is(err, fleet.ErrInvalid) || !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("err = %v, want one error", err)
	}
	want := fmt.Sprintf(`clearcutt.yaml:%d:22: runtimes[3].nix.attribute: the package set (%s replacing nixpkgs) has no attribute "tzdata-missing" on x86_64-linux, aarch64-linux`, line, set.Override)
	if es[0].Error() != want {
		t.Errorf("error %q, want %q", es[0], want)
	}
}
