package structure

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func distroless(t *testing.T, extra ...tf) v1.Image {
	t.Helper()
	layers := []v1.Layer{layer(t, distrolessFS(t)...)}
	if len(extra) > 0 {
		layers = append(layers, layer(t, extra...))
	}
	return image(t, runtime.GOARCH, distrolessConfig(), layers...)
}

func TestDistrolessBaselinePasses(t *testing.T) {
	res := run(t, distroless(t), "distroless", distrolessRules)
	for _, c := range res.Checks {
		want := Passed
		if c.ID == IDSmoke {
			want = Skipped
		}
		if c.Status != want {
			t.Errorf("%s: %s (%s) %v", c.ID, c.Status, c.Detail, c.Paths)
		}
	}
	for _, id := range []string{IDPlatform, IDPathsInsideRoot, IDNoDeviceNodes, IDELFMachine, IDNoShell, IDNoPackageManager, IDNoCoreutils, IDNoSetuid, IDNonrootUser,
		IDCABundle, IDEntrypoint, IDWorldWritable, IDTmp, IDStripped, IDCredentialHelper, IDSmoke} {
		mustCheck(t, res, id)
	}
	if !res.Passed() {
		t.Error("Passed() = false")
	}
	if got := mustCheck(t, res, IDSmoke).Detail; got != "skipped: none declared" {
		t.Errorf("smoke detail %q", got)
	}
	if res.Outcome() != ResultWarned {
		t.Errorf("outcome %s, want WARNED (smoke skipped)", res.Outcome())
	}
}

func TestNoShell(t *testing.T) {
	bb := hostFile(t, "/bin/busybox")
	cases := []struct {
		name  string
		files []tf
		paths []string
	}{
		{"busybox and sh link", []tf{file("bin/busybox", 0o755, bb), symlink("bin/sh", "busybox")}, []string{"/bin/busybox", "/bin/sh"}},
		{"busybox renamed", []tf{file("usr/local/bin/helper", 0o755, bb)}, []string{"/usr/local/bin/helper"}},
		{"bash in the store", []tf{file("nix/store/3b3b-bash-5/bin/bash", 0o555, []byte("\x7fELF"))}, []string{"/nix/store/3b3b-bash-5/bin/bash"}},
		{"shell ELF outside bin", []tf{file("opt/tools/dash", 0o555, hostFile(t, "/usr/bin/true"))}, []string{"/opt/tools/dash"}},
		{"shell script", []tf{file("opt/start", 0o755, []byte("#!/bin/sh\nexec app\n"))}, []string{"/opt/start"}},
		{"env bash script", []tf{file("opt/start", 0o755, []byte("#! /usr/bin/env bash\n"))}, []string{"/opt/start"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := wantStatus(t, run(t, distroless(t, tc.files...), "distroless", distrolessRules), IDNoShell, Failed)
			wantPaths(t, c, tc.paths...)
		})
	}
	t.Run("whiteout removes the shell, python script is fine", func(t *testing.T) {
		img := image(t, runtime.GOARCH, distrolessConfig(),
			layer(t, distrolessFS(t)...),
			layer(t, file("bin/sh", 0o755, bb), file("opt/tool", 0o755, []byte("#!/usr/bin/env python3\n"))),
			layer(t, file("bin/.wh.sh", 0o644, nil)))
		wantStatus(t, run(t, img, "distroless", distrolessRules), IDNoShell, Passed)
	})
}

func TestShellPresent(t *testing.T) {
	bb := hostFile(t, "/bin/busybox")
	wantStatus(t, run(t, distroless(t, file("bin/busybox", 0o755, bb), symlink("bin/sh", "/bin/busybox")), "slim", slimRules), IDShellPresent, Passed)
	wantStatus(t, run(t, distroless(t), "slim", slimRules), IDShellPresent, Failed)
	wantStatus(t, run(t, distroless(t, symlink("bin/sh", "/bin/busybox")), "slim", slimRules), IDShellPresent, Failed)
	wantStatus(t, run(t, distroless(t, file("bin/sh", 0o644, bb)), "slim", slimRules), IDShellPresent, Failed)
	if _, ok := run(t, distroless(t), "dev", devRules).Check(IDShellPresent); ok {
		t.Error("shell-present reported for a tier that allows a shell")
	}
}

func TestNoPackageManager(t *testing.T) {
	c := wantStatus(t, run(t, distroless(t,
		file("usr/bin/apt-get", 0o755, []byte("x")),
		file("nix/store/4p4p-python3/bin/pip3.12", 0o755, []byte("#!/nix/store/4p4p-python3/bin/python3\n")),
		dir("nix/store/4p4p-python3/lib/python3.12/site-packages/pip", 0o755),
	), "distroless", distrolessRules), IDNoPackageManager, Failed)
	wantPaths(t, c, "/usr/bin/apt-get", "/nix/store/4p4p-python3/bin/pip3.12", "/nix/store/4p4p-python3/lib/python3.12/site-packages/pip/")
	wantStatus(t, run(t, distroless(t, file("usr/lib/node_modules/npm/package.json", 0o644, []byte("{}"))), "distroless", distrolessRules), IDNoPackageManager, Failed)
	wantStatus(t, run(t, distroless(t, file("usr/share/doc/apt", 0o644, []byte("not a command"))), "distroless", distrolessRules), IDNoPackageManager, Passed)
}

func TestNoCoreutils(t *testing.T) {
	c := wantStatus(t, run(t, distroless(t, file("usr/bin/env", 0o755, []byte("x")), symlink("bin/ls", "/usr/bin/env")), "distroless", distrolessRules), IDNoCoreutils, Failed)
	wantPaths(t, c, "/usr/bin/env", "/bin/ls")
	wantStatus(t, run(t, distroless(t, file("usr/share/man/ls", 0o644, []byte("x"))), "distroless", distrolessRules), IDNoCoreutils, Passed)
	if _, ok := run(t, distroless(t), "slim", slimRules).Check(IDNoCoreutils); ok {
		t.Error("no-coreutils reported for a tier that allows coreutils")
	}
}

func TestNoSetuid(t *testing.T) {
	c := wantStatus(t, run(t, distroless(t, file("usr/bin/su", 0o4755, []byte("x")), file("usr/bin/wall", 0o2755, []byte("x"))), "distroless", distrolessRules), IDNoSetuid, Failed)
	wantPaths(t, c, "/usr/bin/su", "/usr/bin/wall")
	if !strings.Contains(c.Detail, "4755") {
		t.Errorf("detail %q lacks the mode", c.Detail)
	}
	wantStatus(t, run(t, distroless(t, dir("var/mail", 0o2775)), "distroless", distrolessRules), IDNoSetuid, Passed)
}

func TestNonrootUser(t *testing.T) {
	cases := []struct {
		name  string
		user  string
		files []tf
		want  Status
	}{
		{"numeric", "65532:65532", nil, Passed},
		{"uid only", "65532", nil, Passed},
		{"by name", "nonroot", nil, Passed},
		{"empty", "", nil, Failed},
		{"root by number", "0", nil, Failed},
		{"root by name", "root", nil, Failed},
		{"other uid", "1000", []tf{file("etc/passwd", 0o644, []byte(passwd+"app:x:1000:1000::/:/sbin/nologin\n"))}, Failed},
		{"wrong gid", "65532:0", nil, Failed},
		{"not in passwd", "65532", []tf{file("etc/passwd", 0o644, []byte("root:x:0:0::/root:/x\n"))}, Failed},
		{"home missing", "65532", []tf{file("home/.wh.nonroot", 0o644, nil)}, Failed},
		{"unknown name", "nobody", nil, Failed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := distrolessConfig()
			cfg.User = tc.user
			layers := []v1.Layer{layer(t, distrolessFS(t)...)}
			if tc.files != nil {
				layers = append(layers, layer(t, tc.files...))
			}
			wantStatus(t, run(t, image(t, runtime.GOARCH, cfg, layers...), "distroless", distrolessRules), IDNonrootUser, tc.want)
		})
	}
}

func TestCABundle(t *testing.T) {
	bundle := strings.TrimPrefix(storeCacert, "/") + "/etc/ssl/certs/ca-bundle.crt"
	cases := []struct {
		name  string
		env   string
		files []tf
		want  Status
	}{
		{"symlink into the store", "/etc/ssl/certs/ca-certificates.crt", nil, Passed},
		{"direct path", "/" + bundle, nil, Passed},
		{"unset", "", nil, Failed},
		// The host has /etc/ssl/certs/ca-certificates.crt: it must not be consulted.
		{"missing in the image", "/etc/ssl/certs/ca-certificates.crt", []tf{file("etc/ssl/certs/.wh.ca-certificates.crt", 0o644, nil)}, Failed},
		{"dangling", "/etc/ssl/certs/ca-certificates.crt", []tf{file(strings.TrimPrefix(storeCacert, "/")+"/etc/ssl/certs/.wh.ca-bundle.crt", 0o644, nil)}, Failed},
		{"empty", "/etc/ssl/certs/ca-certificates.crt", []tf{file(bundle, 0o444, nil)}, Failed},
		{"not PEM", "/etc/ssl/certs/ca-certificates.crt", []tf{file(bundle, 0o444, []byte("hello\n"))}, Failed},
		{"fake PEM", "/etc/ssl/certs/ca-certificates.crt", []tf{file(bundle, 0o444, []byte("-----BEGIN CERTIFICATE-----\nMIIfake\n-----END CERTIFICATE-----\n"))}, Failed},
		{"a directory", "/etc/ssl/certs", nil, Failed},
		// On the host this path reaches the host's bundle.
		{"host path through /proc", "/etc/ssl/certs/ca-certificates.crt", []tf{symlink("etc/ssl/certs/ca-certificates.crt", "/proc/self/root/etc/ssl/certs/ca-certificates.crt")}, Failed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := distrolessConfig()
			cfg.Env = []string{"PATH=/bin"}
			if tc.env != "" {
				cfg.Env = append(cfg.Env, "SSL_CERT_FILE="+tc.env)
			}
			layers := []v1.Layer{layer(t, distrolessFS(t)...)}
			if tc.files != nil {
				layers = append(layers, layer(t, tc.files...))
			}
			wantStatus(t, run(t, image(t, runtime.GOARCH, cfg, layers...), "distroless", distrolessRules), IDCABundle, tc.want)
		})
	}
}

func TestEntrypointResolves(t *testing.T) {
	exe, interp, _ := dynELF(t)
	app := storeApp + "/bin/app"
	cases := []struct {
		name       string
		entrypoint []string
		cmd        []string
		files      []tf
		want       Status
	}{
		{"absolute ELF with interpreter", []string{app}, nil, nil, Passed},
		{"cmd found on PATH", nil, []string{"app", "--version"}, nil, Passed},
		{"env script", []string{"/opt/run"}, nil, []tf{
			file("opt/run", 0o755, []byte("#!/usr/bin/env python3\n")),
			file("usr/bin/env", 0o755, exe), file(strings.TrimPrefix(storeApp, "/")+"/bin/python3", 0o755, exe)}, Passed},
		{"neither entrypoint nor cmd", nil, nil, nil, Failed},
		{"missing", []string{"/nope"}, nil, nil, Failed},
		{"not on PATH", nil, []string{"python3"}, nil, Failed},
		{"not executable", []string{"/opt/data"}, nil, []tf{file("opt/data", 0o644, exe)}, Failed},
		{"directory", []string{storeApp + "/bin"}, nil, nil, Failed},
		{"interpreter missing", []string{app}, nil, []tf{file(strings.TrimPrefix(interp[:strings.LastIndex(interp, "/")+1], "/")+".wh."+interp[strings.LastIndex(interp, "/")+1:], 0o644, nil)}, Failed},
		{"script interpreter missing", []string{"/opt/run"}, nil, []tf{file("opt/run", 0o755, []byte("#!/usr/bin/python3\n"))}, Failed},
		{"env target missing", []string{"/opt/run"}, nil, []tf{file("opt/run", 0o755, []byte("#!/usr/bin/env node\n")), file("usr/bin/env", 0o755, exe)}, Failed},
		{"not ELF nor script", []string{"/opt/run"}, nil, []tf{file("opt/run", 0o755, []byte("MZ"))}, Failed},
		{"symlink loop", []string{"/opt/a"}, nil, []tf{symlink("opt/a", "b"), symlink("opt/b", "a")}, Failed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := distrolessConfig()
			cfg.Entrypoint, cfg.Cmd = tc.entrypoint, tc.cmd
			layers := []v1.Layer{layer(t, distrolessFS(t)...)}
			if tc.files != nil {
				layers = append(layers, layer(t, tc.files...))
			}
			wantStatus(t, run(t, image(t, runtime.GOARCH, cfg, layers...), "dev", devRules), IDEntrypoint, tc.want)
		})
	}
}

func TestWorldWritable(t *testing.T) {
	c := wantStatus(t, run(t, distroless(t, file("etc/app.conf", 0o666, []byte("x")), dir("var/spool", 0o777)), "distroless", distrolessRules), IDWorldWritable, Failed)
	wantPaths(t, c, "/etc/app.conf", "/var/spool")
	wantStatus(t, run(t, distroless(t, dir("var/tmp", 0o1777), symlink("opt/link", "/etc")), "distroless", distrolessRules), IDWorldWritable, Passed)
}

func TestTmp(t *testing.T) {
	wantStatus(t, run(t, distroless(t, dir("tmp", 0o755)), "distroless", distrolessRules), IDTmp, Failed)
	wantStatus(t, run(t, distroless(t, dir("tmp", 0o777)), "distroless", distrolessRules), IDTmp, Failed)
	wantStatus(t, run(t, distroless(t, file(".wh.tmp", 0o644, nil)), "distroless", distrolessRules), IDTmp, Failed)
	// Only an implicit parent: the mode is unknown.
	wantStatus(t, run(t, distroless(t, file(".wh.tmp", 0o644, nil)), "distroless", distrolessRules), IDTmp, Failed)
	img := image(t, runtime.GOARCH, distrolessConfig(), layer(t, append(distrolessFS(t)[:5:5], file("tmp/x", 0o644, nil))...))
	wantStatus(t, run(t, img, "distroless", distrolessRules), IDTmp, Failed)
	wantStatus(t, run(t, distroless(t), "distroless", distrolessRules), IDTmp, Passed)
}

func TestStripped(t *testing.T) {
	unstripped := file(strings.TrimPrefix(storeApp, "/")+"/bin/tool", 0o555, goBinary(t))
	c := wantStatus(t, run(t, distroless(t, unstripped), "distroless", distrolessRules), IDStripped, Failed)
	wantPaths(t, c, storeApp+"/bin/tool")
	if !strings.Contains(c.Detail, "debug sections") || !strings.Contains(c.Detail, "go.go") {
		t.Errorf("detail %q", c.Detail)
	}
	res := run(t, distroless(t, unstripped), "slim", TierRules{Shell: Allowed, PackageManager: Forbidden, Coreutils: Allowed, Deployable: true})
	// A tier that allows symbols: the check passes and names the files
	// that keep them; it does not make the statement WARNED.
	c = wantStatus(t, res, IDStripped, Passed)
	wantPaths(t, c, storeApp+"/bin/tool")
	if !strings.HasPrefix(c.Detail, "the tier allows symbols: ") || !strings.Contains(c.Detail, storeApp+"/bin/tool") {
		t.Errorf("detail %q", c.Detail)
	}
	if !res.Passed() || res.Outcome() != ResultWarned {
		t.Errorf("symbols the tier allows must not fail the run: passed=%v outcome=%s", res.Passed(), res.Outcome())
	}
	if p := res.Predicate(); !slices.Contains(p.GetPassedTests(), IDStripped) || slices.Contains(p.GetWarnedTests(), IDStripped) {
		t.Errorf("stripped: passed %v warned %v", p.GetPassedTests(), p.GetWarnedTests())
	}
	wantStatus(t, run(t, distroless(t), "distroless", distrolessRules), IDStripped, Passed)
}

func TestStrippedNamesCSource(t *testing.T) {
	gcc := testenv.Need(t, "gcc", "apt-get install gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "hello.c")
	if err := os.WriteFile(src, []byte("int main(void){return 0;}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "hello")
	cmd := exec.Command(gcc, "-O2", "-o", out, src)
	cmd.Dir, cmd.Env = dir, testenv.CleanEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	c := wantStatus(t, run(t, distroless(t, file("opt/hello", 0o555, hostFile(t, out))), "distroless", distrolessRules), IDStripped, Failed)
	if !strings.Contains(c.Detail, "hello.c") {
		t.Errorf("detail %q does not name the source file", c.Detail)
	}

	// strip -S, as nixpkgs' stdenv strips every binary: the debug
	// information and source file names go, the symbol table stays, and
	// that passes (it names functions, nothing of the build).
	strip := testenv.Need(t, "strip", "apt-get install binutils")
	cmd = exec.Command(strip, "-S", out)
	cmd.Env = testenv.CleanEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("strip -S: %v\n%s", err, b)
	}
	c = wantStatus(t, run(t, distroless(t, file("opt/hello", 0o555, hostFile(t, out))), "distroless", distrolessRules), IDStripped, Passed)
	if !strings.Contains(c.Detail, "1 file(s) keep a symbol table") {
		t.Errorf("detail %q does not say the symbol table stayed", c.Detail)
	}
}

// goBinary builds a tiny Go program with its symbol table and DWARF.
func goBinary(t *testing.T) []byte {
	t.Helper()
	goTool := testenv.Need(t, "go", "install Go")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tiny\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goTool, "build", "-o", "tiny", ".")
	cmd.Dir = dir
	cmd.Env = testenv.CleanEnv("CGO_ENABLED=0", "GOPROXY=off", "GOFLAGS=", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return hostFile(t, filepath.Join(dir, "tiny"))
}

func TestCredentialHelper(t *testing.T) {
	helper := file("usr/bin/"+CredentialHelperName, 0o755, hostFile(t, "/usr/bin/true"))
	wantStatus(t, run(t, distroless(t, helper), "dev", devRules), IDCredentialHelper, Passed)
	wantStatus(t, run(t, distroless(t), "dev", devRules), IDCredentialHelper, Failed)
	wantStatus(t, run(t, distroless(t, file("usr/bin/"+CredentialHelperName, 0o644, []byte("x"))), "dev", devRules), IDCredentialHelper, Failed)
	c := wantStatus(t, run(t, distroless(t, helper), "distroless", distrolessRules), IDCredentialHelper, Failed)
	wantPaths(t, c, "/usr/bin/"+CredentialHelperName)
	wantStatus(t, run(t, distroless(t), "distroless", distrolessRules), IDCredentialHelper, Passed)
}

func TestPlatform(t *testing.T) {
	img := distroless(t)
	wantStatus(t, run(t, img, "distroless", distrolessRules), IDPlatform, Passed)
	res, err := Run(context.Background(), Options{Image: img, Platform: "linux/s390x", Tier: "distroless", Rules: distrolessRules})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res, IDPlatform, Failed)
	wantStatus(t, run(t, image(t, "", distrolessConfig(), layer(t, distrolessFS(t)...)), "distroless", distrolessRules), IDPlatform, Failed)
}

func TestSmokeSkipped(t *testing.T) {
	img := distroless(t)
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"none declared", Options{Runc: "/usr/sbin/runc", HostArch: runtime.GOARCH}, "skipped: none declared"},
		{"no runc", Options{Smoke: &Smoke{Command: []string{"/x"}}, HostArch: runtime.GOARCH}, "skipped: runc not available"},
		{"foreign arch", Options{Smoke: &Smoke{Command: []string{"/x"}}, Runc: "/usr/sbin/runc", HostArch: other},
			"skipped: cannot execute " + runtime.GOARCH + " on " + other + " host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Image, tc.opts.Tier, tc.opts.Rules, tc.opts.WorkDir = img, "distroless", distrolessRules, t.TempDir()
			res, err := Run(context.Background(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			c := wantStatus(t, res, IDSmoke, Skipped)
			if c.Detail != tc.want {
				t.Errorf("detail %q, want %q", c.Detail, tc.want)
			}
			if res.Outcome() != ResultWarned {
				t.Errorf("outcome %s", res.Outcome())
			}
		})
	}
}

// A required smoke run that cannot run fails, naming why; with none
// declared there is nothing to require, and it stays skipped.
func TestSmokeRequired(t *testing.T) {
	img := distroless(t)
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	cases := []struct {
		name   string
		opts   Options
		status Status
		want   string
	}{
		{"no runc", Options{Smoke: &Smoke{Command: []string{"/x"}}, HostArch: runtime.GOARCH}, Failed, "required, but could not run: runc not available"},
		{"foreign arch", Options{Smoke: &Smoke{Command: []string{"/x"}}, Runc: "/usr/sbin/runc", HostArch: other}, Failed,
			"required, but could not run: cannot execute " + runtime.GOARCH + " on " + other + " host"},
		{"none declared", Options{Runc: "/usr/sbin/runc", HostArch: runtime.GOARCH}, Skipped, "skipped: none declared"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Image, tc.opts.Tier, tc.opts.Rules, tc.opts.WorkDir = img, "distroless", distrolessRules, t.TempDir()
			tc.opts.RequireSmoke = true
			res, err := Run(context.Background(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			c := wantStatus(t, res, IDSmoke, tc.status)
			if c.Detail != tc.want {
				t.Errorf("detail %q, want %q", c.Detail, tc.want)
			}
			if got := res.Passed(); got != (tc.status != Failed) {
				t.Errorf("Passed() = %v", got)
			}
		})
	}
}

func TestInvalidOptions(t *testing.T) {
	img := distroless(t)
	cases := map[string]Options{
		"no image":                   {Tier: "distroless", Rules: distrolessRules},
		"no tier":                    {Image: img, Rules: distrolessRules},
		"bad policy":                 {Image: img, Tier: "x", Rules: TierRules{Shell: "maybe", PackageManager: Forbidden, Coreutils: Forbidden}},
		"symbols required":           {Image: img, Tier: "x", Rules: TierRules{Shell: Allowed, PackageManager: Allowed, Coreutils: Allowed, Symbols: Required}},
		"deployable credential help": {Image: img, Tier: "x", Rules: TierRules{Shell: Allowed, PackageManager: Allowed, Coreutils: Allowed, Deployable: true, CredentialHelper: true}},
		"bad user":                   {Image: img, Tier: "distroless", Rules: distrolessRules, User: "nonroot"},
		"empty smoke":                {Image: img, Tier: "distroless", Rules: distrolessRules, Smoke: &Smoke{}},
		"bad regexp":                 {Image: img, Tier: "distroless", Rules: distrolessRules, Smoke: &Smoke{Command: []string{"/x"}, Expect: "("}},
		"smoke without workdir":      {Image: img, Tier: "distroless", Rules: distrolessRules, Smoke: &Smoke{Command: []string{"/x"}}, Runc: "/usr/sbin/runc", HostArch: runtime.GOARCH},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Run(context.Background(), opts); !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("err = %v, want ErrInvalidOptions", err)
			}
		})
	}
}

func TestHardLinkInheritsMode(t *testing.T) {
	img := distroless(t, file("usr/lib/su", 0o4755, []byte("x")), tf{name: "usr/bin/su2", typ: tar.TypeLink, link: "usr/lib/su"})
	c := wantStatus(t, run(t, img, "distroless", distrolessRules), IDNoSetuid, Failed)
	wantPaths(t, c, "/usr/lib/su", "/usr/bin/su2")
}
