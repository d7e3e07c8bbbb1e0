package closure

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
func fixtures(t testing.TB) BuildOptions {
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

func build(t testing.TB, o BuildOptions) *Manifest {
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
			t.Errorf("%s required by %v, want the JDK %s", c.Pname, c.RequiredBy, m.RuntimePath)
		}
	}
	// The JDK's image libraries (libjavajpeg, liblcms) link them.
	want := map[string]string{"libjpeg-turbo": "image-codecs", "lcms2": "image-codecs"}
	for p, f := range want {
		if got[p] != f {
			t.Errorf("pruning candidate %s: feature %q, want %q (all: %v)", p, got[p], f, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("unexpected candidates: %v", got)
	}
	// Reported, never removed.
	if _, ok := byPname(m)["lcms2"]; !ok {
		t.Error("lcms2 removed from the closure")
	}
}

// The fixture packages carry the references their nixpkgs counterparts
// carry (nix/fixtures/README.md lists them and the nixpkgs files), so the
// dev tier, which carries the runtimes as they are, holds what a real
// runner's would: python3 names bash, mailcap, tzdata and the libraries
// cpython/default.nix builds against; nodejs_24's npm has sh scripts.
func TestFixtureRuntimesCarryNixpkgsReferences(t *testing.T) {
	t.Parallel()
	o := fixtures(t)
	o.Runtime, o.Tier, o.System = "python", "dev", "x86_64-linux"
	m := build(t, o)
	pk := byPname(m)
	py := pk["python3"]
	refs := map[string]bool{}
	for _, r := range py.References {
		refs[pnameOf(t, r)] = true
	}
	for _, want := range []string{"bash", "mailcap", "tzdata", "libffi", "sqlite", "ncurses", "readline", "xz", "bzip2",
		"gdbm", "mpdecimal", "libxcrypt", "openssl", "zlib", "expat", "glibc", "gcc"} {
		if !refs[want] {
			t.Errorf("python3 does not reference %s (references: %v)", want, py.References)
		}
	}
	if m.Scrub != nil {
		t.Errorf("the dev tier's runtime was scrubbed: %+v", m.Scrub)
	}
	config, err := os.ReadFile(filepath.Join(py.Path, "bin", "python3.11-config"))
	if err != nil || !strings.HasPrefix(string(config), "#!"+pk["bash"].Path+"/bin/sh\n") {
		t.Errorf("python3.11-config is not a bash script: %v %.60q", err, config)
	}
	sub, err := os.ReadFile(filepath.Join(py.Path, "lib", "python3.11", "subprocess.py"))
	if err != nil || !strings.Contains(string(sub), "'"+pk["bash"].Path+"/bin/sh'") {
		t.Errorf("subprocess.py does not name bash's sh: %v", err)
	}

	o.Runtime = "nodejs"
	m = build(t, o)
	pk = byPname(m)
	gyp, err := os.ReadFile(filepath.Join(pk["nodejs"].Path, "lib", "node_modules", "npm", "bin", "node-gyp-bin", "node-gyp"))
	if err != nil || !strings.HasPrefix(string(gyp), "#!"+pk["bash"].Path+"/bin/sh") {
		t.Errorf("npm's node-gyp is not a bash script: %v %.60q", err, gyp)
	}
	if _, ok := pk["nodejs-slim"]; !ok {
		t.Error("nodejs_24 does not hold nodejs-slim")
	}
}

// pnameOf is the name of a store path without hash and version, the way
// the fixtures name their trees: ".../xyz-gcc-12.2.0-lib" is "gcc".
func pnameOf(t *testing.T, sp string) string {
	t.Helper()
	name := filepath.Base(sp)
	if len(name) < 34 {
		t.Fatalf("not a store path: %s", sp)
	}
	name = name[33:]
	for i := 0; i+1 < len(name); i++ {
		if name[i] == '-' && name[i+1] >= '0' && name[i+1] <= '9' {
			return name[:i]
		}
	}
	return name
}

// The deployable tiers carry a scrubbed copy of the runtime: nothing in
// its closure is a shell, and the report says what was removed and why.
func TestScrubbedRuntimes(t *testing.T) {
	t.Parallel()
	base := fixtures(t)
	for _, tc := range []struct {
		runtime, tier string
		removed       []string
		files         map[string]string
	}{
		{"python", "distroless", []string{"bash"}, map[string]string{
			"bin/python3.11-config": ScrubRemoved, "bin/python3-config": ScrubRemoved, "bin/python-config": ScrubRemoved,
			"lib/python3.11/config-3.11-x86_64-linux-gnu/makesetup":  ScrubRemoved,
			"lib/python3.11/config-3.11-x86_64-linux-gnu/install-sh": ScrubRemoved,
			"lib/python3.11/subprocess.py":                           ScrubRewrote,
		}},
		{"python", "slim", []string{"bash"}, nil},
		{"nodejs", "distroless", nil, map[string]string{}},
		{"java", "distroless", nil, map[string]string{}},
	} {
		t.Run(tc.runtime+"-"+tc.tier, func(t *testing.T) {
			o := base
			o.Runtime, o.Tier, o.System = tc.runtime, tc.tier, "x86_64-linux"
			m := build(t, o)
			for _, p := range m.Paths {
				if pnameOf(t, p.Path) == "bash" || p.Pname == "bash" {
					t.Errorf("%s is in the closure of %s:%s", p.Path, tc.runtime, tc.tier)
				}
			}
			if m.Scrub == nil {
				t.Fatal("no scrub report")
			}
			var removed []string
			for _, r := range m.Scrub.RemovedFromClosure {
				removed = append(removed, strings.SplitN(r, "-", 2)[0])
			}
			if strings.Join(removed, ",") != strings.Join(tc.removed, ",") {
				t.Errorf("removed from the closure: %v, want %v", m.Scrub.RemovedFromClosure, tc.removed)
			}
			if tc.files != nil {
				got := map[string]string{}
				for _, f := range m.Scrub.Files {
					got[f.Path] = f.Action
					if f.Reason == "" || strings.Contains(f.Reason, "/nix/store/") {
						t.Errorf("%s: reason %q (want one, naming no store hash)", f.Path, f.Reason)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.files) {
					t.Errorf("scrubbed files %v\nwant %v", got, tc.files)
				}
			}
			// The copy keeps the runtime's name, so every store path
			// keeps its length, and names itself, not the original.
			if filepath.Base(m.RuntimePath)[33:] != m.Scrub.Runtime {
				t.Errorf("runtime %s, report for %s", m.RuntimePath, m.Scrub.Runtime)
			}
			rt := byPnamePath(m, m.RuntimePath)
			for _, r := range rt.References {
				if r != m.RuntimePath && filepath.Base(r)[33:] == m.Scrub.Runtime {
					t.Errorf("the scrubbed runtime still names the original %s", r)
				}
			}
		})
	}
}

func byPnamePath(m *Manifest, p string) StorePath {
	for _, sp := range m.Paths {
		if sp.Path == p {
			return sp
		}
	}
	return StorePath{}
}

// The aarch64 cells hold aarch64 programs only: every ELF file of the
// closure is for EM_AARCH64 (they cannot run on this host).
func TestAarch64ClosuresHoldOnlyAarch64Programs(t *testing.T) {
	t.Parallel()
	base := fixtures(t)
	for _, rt := range []string{"python", "nodejs", "java"} {
		t.Run(rt, func(t *testing.T) {
			o := base
			o.Runtime, o.Tier, o.System = rt, "distroless", "aarch64-linux"
			m := build(t, o)
			n := 0
			for _, p := range m.Paths {
				err := filepath.WalkDir(p.Path, func(f string, d os.DirEntry, err error) error {
					if err != nil || !d.Type().IsRegular() {
						return err
					}
					ef, err := elf.Open(f)
					if err != nil {
						return nil // not ELF
					}
					defer ef.Close()
					n++
					if ef.Machine != elf.EM_AARCH64 {
						t.Errorf("%s: %s", f, ef.Machine)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if n < 2 {
				t.Errorf("%d ELF files in the %s closure", n, rt)
			}
		})
	}
}

func TestBuildDevTierAndBadFixtures(t *testing.T) {
	t.Parallel()
	base := fixtures(t)
	base.Fleet.Runtimes["shelly"] = NixRuntime{Attribute: "clearcuttBad.shellInDistroless", Tiers: []string{"distroless"}}
	base.Fleet.Runtimes["setuid"] = NixRuntime{Attribute: "clearcuttBad.setuid", Tiers: []string{"distroless"}}
	base.Fleet.Runtimes["shellbin"] = NixRuntime{Attribute: "clearcuttBad.shellInBinary", Tiers: []string{"distroless"}}
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

	// A binary file naming a shell cannot be rewritten: the scrub keeps it
	// and says so, and the shell stays in the closure for the gate.
	o.Runtime = "shellbin"
	m := build(t, o)
	if _, ok := byPname(m)["busybox"]; !ok {
		t.Error("shellInBinary fixture: busybox not in its closure")
	}
	if m.Scrub == nil || len(m.Scrub.Files) != 1 || m.Scrub.Files[0].Path != "lib/libshell.dat" ||
		m.Scrub.Files[0].Action != ScrubKept || len(m.Scrub.RemovedFromClosure) != 0 {
		t.Errorf("scrub of the shellInBinary fixture: %+v", m.Scrub)
	}

	o.Runtime = "setuid"
	if !hasPermission(build(t, o), Permission{Path: "bin/setuid-helper", Mode: "4755"}) {
		t.Error("setuid fixture: the 4755 permission is not declared")
	}

	// The unstripped fixture keeps its symbol table; the setuid one is
	// stripped.
	o.Runtime = "unstripped"
	if !hasSymtab(t, filepath.Join(build(t, o).RuntimePath, "bin", "unstripped-tool")) {
		t.Error("unstripped fixture has no .symtab")
	}
	o.Runtime = "setuid"
	if hasSymtab(t, filepath.Join(build(t, o).RuntimePath, "bin", "setuid-helper")) {
		t.Error("the setuid fixture is not stripped")
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
