package nixcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

func TestBuildUsersDecision(t *testing.T) {
	dir := t.TempDir()
	groups := filepath.Join(dir, "group")
	if err := os.WriteFile(groups, []byte("root:x:0:\nnixbld:x:30000:nixbld1,nixbld2\nempty:x:30001:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, user := 0, 1000
	for _, tc := range []struct {
		name        string
		euid        *int
		group       string
		store       string
		want        bool
		wantMessage string
	}{
		{name: "group with members", euid: &root, group: "nixbld", store: "auto"},
		{name: "missing group", euid: &root, group: "clearcutt-absent", store: "auto", want: true, wantMessage: `"clearcutt-absent" named by build-users-group does not exist`},
		{name: "group without members", euid: &root, group: "empty", store: "local", want: true, wantMessage: "has no members"},
		{name: "explicit local store path", euid: &root, group: "clearcutt-absent", store: "/nix/store", want: true},
		{name: "no group configured", euid: &root, group: "", store: "auto"},
		{name: "not root", euid: &user, group: "clearcutt-absent", store: "auto"},
		{name: "through the daemon", euid: &root, group: "clearcutt-absent", store: "daemon"},
		{name: "through a daemon socket", euid: &root, group: "clearcutt-absent", store: "unix:///nix/var/nix/daemon-socket/socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := Nix{GroupFile: groups, Euid: tc.euid}
			a, got := n.buildUsers(map[string]string{"build-users-group": tc.group, "store": tc.store})
			if got != tc.want {
				t.Fatalf("adapt = %v, want %v (%+v)", got, tc.want, a)
			}
			if got && (a.Name != "build-users-group" || a.Value != "" || !strings.Contains(a.Reason, tc.wantMessage)) {
				t.Errorf("adaptation = %+v, want build-users-group = \"\" because %q", a, tc.wantMessage)
			}
		})
	}
}

func TestArgsCarryFlakesOptionsAndHostAdaptations(t *testing.T) {
	testenv.Need(t, "nix", "apt-get install nix-bin")
	root := 0
	n := Nix{
		Env:       testenv.CleanEnv("NIX_CONFIG=build-users-group = clearcutt-absent"),
		Options:   map[string]string{"extra-platforms": "aarch64-linux", "allow-import-from-derivation": "false"},
		GroupFile: filepath.Join(t.TempDir(), "none"),
		Euid:      &root,
	}
	args, err := n.Args(context.Background(), "build", "x")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"build", "x", "--extra-experimental-features", "nix-command flakes",
		"--option", "allow-import-from-derivation", "false",
		"--option", "build-users-group", "",
		"--option", "extra-platforms", "aarch64-linux"}
	if !slices.Equal(args, want) {
		t.Errorf("Args = %q\nwant   %q", args, want)
	}
	n.Euid = nil
	n.Env = testenv.CleanEnv("NIX_CONFIG=build-users-group =")
	args, err = n.Args(context.Background(), "eval")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(args, "build-users-group") {
		t.Errorf("no group configured, yet Args adapts it: %q", args)
	}
}

func TestPathLooksOnlyAtTheGivenPATH(t *testing.T) {
	if _, err := (Nix{Env: []string{"PATH=/nonexistent"}}).Path(); err != ErrNotFound {
		t.Errorf("Path with PATH=/nonexistent: %v, want ErrNotFound", err)
	}
	if _, err := (Nix{Bin: "/nonexistent/nix"}).Path(); !errors.Is(err, ErrNotFound) ||
		!strings.Contains(err.Error(), "apt-get install nix-bin") || !strings.Contains(err.Error(), "/nonexistent/nix") {
		t.Errorf("Path with a missing Bin: %v", err)
	}
}

// TestBuildsWhereTheBuildUsersGroupIsMissing builds a derivation as root
// with a build-users-group that does not exist, as on a fresh Debian
// machine where nothing created nixbld: plain nix refuses, Run builds.
func TestBuildsWhereTheBuildUsersGroupIsMissing(t *testing.T) {
	nixBin := testenv.Need(t, "nix", "apt-get install nix-bin")
	testenv.NeedRoot(t)
	builderDir := filepath.Join(testenv.RepoRoot(t), "nix", "fixtures", "vendor", "builder")
	if _, err := os.Stat(filepath.Join(builderDir, "busybox")); err != nil {
		if testenv.Required() {
			t.Fatalf("%s/busybox is missing: run scripts/nix-fixtures.sh", builderDir)
		}
		t.Skipf("%s/busybox is missing: run scripts/nix-fixtures.sh", builderDir)
	}
	// A derivation no earlier run has built.
	expr := fmt.Sprintf(`derivation { name = "clearcutt-build-users-%d"; system = "x86_64-linux";
		builder = "${builtins.path { path = %q; name = "busybox-builder"; }}/busybox";
		args = [ "sh" "-c" "echo ok > $out" ]; }`, time.Now().UnixNano(), builderDir)
	conf := testenv.NixConfig(t) + "\nbuild-users-group = clearcutt-no-such-group\n"
	env := testenv.CleanEnv("NIX_CONFIG=" + conf)
	args := []string{"build", "--impure", "--no-link", "--json", "--expr", expr}

	plain := exec.Command(nixBin, append(args, "--extra-experimental-features", Flakes)...)
	plain.Env = env
	out, err := plain.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "clearcutt-no-such-group") {
		t.Fatalf("plain nix with a missing build users group: err=%v, output:\n%s\n(the test needs nix to refuse this)", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got, err := Nix{Env: env}.Run(ctx, "", nil, args...)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var built []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(got, &built); err != nil || len(built) != 1 {
		t.Fatalf("nix build --json: %q, %v", got, err)
	}
	data, err := os.ReadFile(built[0].Outputs["out"])
	if err != nil || string(data) != "ok\n" {
		t.Fatalf("built output %q: %q, %v", got, data, err)
	}
}
