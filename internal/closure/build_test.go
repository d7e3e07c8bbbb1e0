package closure

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

var (
	stageOnce sync.Once
	stageErr  error
	stageOut  []byte
)

// fixtures stages nix/fixtures/vendor with scripts/nix-fixtures.sh (a no-op
// when it is up to date) and returns the options shared by the builds.
func fixtures(t *testing.T) BuildOptions {
	t.Helper()
	testenv.Need(t, "nix", "apt-get install nix-bin")
	testenv.NeedRoot(t)
	repo := testenv.RepoRoot(t)
	script := filepath.Join(repo, "scripts", "nix-fixtures.sh")
	stageOnce.Do(func() {
		cmd := exec.Command("sh", script)
		cmd.Env = testenv.CleanEnv()
		stageOut, stageErr = cmd.CombinedOutput()
	})
	if stageErr != nil {
		t.Fatalf("scripts/nix-fixtures.sh failed (run it by hand as root to stage nix/fixtures/vendor): %v\n%s", stageErr, stageOut)
	}
	return BuildOptions{
		FlakeDir:        filepath.Join(repo, "nix"),
		Fleet:           testFleet(),
		OverrideNixpkgs: "path:" + filepath.Join(repo, "nix", "fixtures"),
		Env:             testenv.CleanEnv(),
		TempDir:         t.TempDir(),
	}
}

func build(t *testing.T, o BuildOptions) *Manifest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	o.Progress = &progress
	m, err := Build(ctx, o)
	if err != nil {
		t.Fatalf("Build %s/%s/%s: %v", o.Runtime, o.Tier, o.System, err)
	}
	return m
}

func byPname(m *Manifest) map[string]StorePath {
	out := map[string]StorePath{}
	for _, p := range m.Paths {
		out[p.Pname] = p
	}
	return out
}

func TestBuildPythonDistroless(t *testing.T) {
	t.Parallel()
	base := fixtures(t)
	for _, c := range []struct{ system, arch string }{{"x86_64-linux", "amd64"}, {"aarch64-linux", "arm64"}} {
		t.Run(c.system, func(t *testing.T) {
			o := base
			o.Runtime, o.Tier, o.System = "python", "distroless", c.system
			m := build(t, o)
			if m.Arch != c.arch || m.System != c.system || m.Tier != "distroless" || m.Runtime != "python" {
				t.Fatalf("header: arch %s system %s tier %s runtime %s", m.Arch, m.System, m.Tier, m.Runtime)
			}
			pk := byPname(m)
			py, glibc := pk["python3"], pk["glibc"]
			if py.Path != m.RuntimePath || py.Role != "runtime" || !strings.HasPrefix(py.Version, "3.11.") {
				t.Errorf("python3: %+v (runtimePath %s)", py, m.RuntimePath)
			}
			if glibc.Path == "" || !contains(py.References, glibc.Path) {
				t.Errorf("python3 does not reference glibc: %v", py.References)
			}
			if pk["nss-cacert"].Role != "cacert" {
				t.Errorf("no cacert in the closure: %v", pk)
			}
			if _, ok := pk["busybox"]; ok {
				t.Errorf("busybox in a distroless closure")
			}
			root := pk["clearcutt-python-distroless-root"]
			if root.Path != m.Root || root.Role != "root" || !contains(root.References, py.Path) {
				t.Errorf("root: %+v", root)
			}
			if !hasPermission(m, Permission{Path: "tmp", Mode: "1777"}) ||
				!hasPermission(m, Permission{Path: "home/nonroot", Mode: "0755", UID: 65532, GID: 65532}) {
				t.Errorf("permissions: %+v", m.Permissions)
			}
			var sum int64
			for _, p := range m.Paths {
				sum += p.NarSize
			}
			if sum != m.ClosureSize || m.ClosureSize < 10<<20 {
				t.Errorf("closure size %d (sum %d)", m.ClosureSize, sum)
			}
			// The SRI hashes must be what Nix itself reports.
			cmd := exec.Command("nix", "path-info", "--json", glibc.Path)
			cmd.Env = o.Env
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("nix path-info: %v", err)
			}
			var info []struct {
				NarHash string `json:"narHash"`
			}
			if err := json.Unmarshal(out, &info); err != nil || len(info) != 1 || info[0].NarHash != glibc.NarHash {
				t.Errorf("narHash %s, nix path-info says %s", glibc.NarHash, out)
			}
		})
	}
}

func TestBuildJavaPruningCandidates(t *testing.T) {
	t.Parallel()
	o := fixtures(t)
	o.Runtime, o.Tier, o.System = "java", "distroless", "x86_64-linux"
	m := build(t, o)
	got := map[string]string{}
	for _, c := range m.PruningCandidates {
		got[c.Pname] = c.Feature
		if len(c.RequiredBy) != 1 || c.RequiredBy[0] != m.RuntimePath {
			t.Errorf("%s required by %v, want the JRE %s", c.Pname, c.RequiredBy, m.RuntimePath)
		}
	}
	want := map[string]string{"fontconfig": "fonts", "freetype": "fonts", "cups": "printing", "libjpeg-turbo": "image-codecs"}
	for p, f := range want {
		if got[p] != f {
			t.Errorf("pruning candidate %s: feature %q, want %q (all: %v)", p, got[p], f, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("unexpected candidates: %v", got)
	}
	// Reported, never removed.
	if _, ok := byPname(m)["fontconfig"]; !ok {
		t.Error("fontconfig removed from the closure")
	}
}

func TestBuildDevTierAndBadFixtures(t *testing.T) {
	t.Parallel()
	base := fixtures(t)
	base.Fleet.Runtimes["shelly"] = NixRuntime{Attribute: "clearcuttBad.shellInDistroless", Tiers: []string{"distroless"}}
	base.Fleet.Runtimes["setuid"] = NixRuntime{Attribute: "clearcuttBad.setuid", Tiers: []string{"distroless"}}
	base.Fleet.Runtimes["unstripped"] = NixRuntime{Attribute: "clearcuttBad.unstripped", Tiers: []string{"distroless"}}

	o := base
	o.Runtime, o.Tier, o.System = "python", "dev", "x86_64-linux"
	dev := build(t, o)
	pk := byPname(dev)
	for _, p := range []string{"bash-interactive", "coreutils", "gnumake", "gcc-wrapper", "clearcutt-credential-helper"} {
		if _, ok := pk[p]; !ok {
			t.Errorf("dev closure lacks %s", p)
		}
	}
	if pk["clearcutt-credential-helper"].Role != "credential-helper" || pk["gnumake"].Role != "tool" {
		t.Errorf("roles: helper %q, gnumake %q", pk["clearcutt-credential-helper"].Role, pk["gnumake"].Role)
	}

	o.Runtime, o.Tier = "python", "slim"
	if _, ok := byPname(build(t, o))["clearcutt-credential-helper"]; ok {
		t.Error("credential helper outside the dev tier")
	}

	o.Runtime, o.Tier = "shelly", "distroless"
	if _, ok := byPname(build(t, o))["busybox"]; !ok {
		t.Error("shellInDistroless fixture: busybox not in its closure")
	}

	o.Runtime = "setuid"
	if !hasPermission(build(t, o), Permission{Path: "bin/setuid-helper", Mode: "4755"}) {
		t.Error("setuid fixture: the 4755 permission is not declared")
	}

	// The unstripped fixture keeps its symbol table; the stand-in runtimes
	// are stripped.
	o.Runtime = "unstripped"
	if !hasSymtab(t, filepath.Join(build(t, o).RuntimePath, "bin", "unstripped-tool")) {
		t.Error("unstripped fixture has no .symtab")
	}
	o.Runtime = "java"
	if hasSymtab(t, filepath.Join(build(t, o).RuntimePath, "bin", "java")) {
		t.Error("the java stand-in is not stripped")
	}
}

func hasSymtab(t *testing.T, file string) bool {
	t.Helper()
	f, err := elf.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.Section(".symtab") != nil
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	base := fixtures(t)

	o := base
	o.Runtime, o.Tier, o.System = "python", "distroless", "x86_64-linux"
	o.Env = []string{"PATH=/nonexistent", "NIX_CONFIG=" + testenv.NixConfig(t)}
	if _, err := Build(context.Background(), o); !errors.Is(err, ErrNixNotFound) || !strings.Contains(err.Error(), "apt-get install nix-bin") {
		t.Errorf("without nix: %v", err)
	}

	o = base
	o.Fleet.Runtimes["ghost"] = NixRuntime{Attribute: "noSuchPackage", Tiers: []string{"distroless"}}
	o.Runtime, o.Tier, o.System = "ghost", "distroless", "x86_64-linux"
	var progress bytes.Buffer
	o.Progress = &progress
	_, err := Build(context.Background(), o)
	if !errors.Is(err, ErrNixBuild) || !strings.Contains(err.Error(), "noSuchPackage") {
		t.Errorf("missing attribute: %v", err)
	}
	if !strings.Contains(progress.String(), "noSuchPackage") {
		t.Errorf("nix stderr not streamed to Progress: %q", progress.String())
	}

	o = base
	o.Runtime, o.Tier, o.System = "nope", "distroless", "x86_64-linux"
	if _, err := Build(context.Background(), o); !errors.Is(err, ErrFleet) {
		t.Errorf("unknown runtime: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasPermission(m *Manifest, want Permission) bool {
	for _, p := range m.Permissions {
		if p == want {
			return true
		}
	}
	return false
}
