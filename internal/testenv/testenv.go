// Package testenv gives tests access to the real tools ClearCutt drives (nix,
// runc, Debian's docker-registry). A tool that is missing skips the test on a
// developer's machine, and fails it when CLEARCUTT_REQUIRE_TOOLS=1, which
// scripts/test.sh sets: a CI run can never pass by skipping the real work.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Required reports whether missing tools must fail tests instead of skipping.
func Required() bool { return os.Getenv("CLEARCUTT_REQUIRE_TOOLS") == "1" }

// Need returns the absolute path of tool, or skips/fails the test.
func Need(t testing.TB, tool, installHint string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	if Required() {
		t.Fatalf("%s is required (CLEARCUTT_REQUIRE_TOOLS=1) but not on PATH: %s", tool, installHint)
	}
	t.Skipf("%s not on PATH (%s); set CLEARCUTT_REQUIRE_TOOLS=1 to make this a failure", tool, installHint)
	return ""
}

// NeedRoot skips or fails unless the test runs as root (runc, nix without a daemon).
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if Required() {
		t.Fatal("this test must run as root (CLEARCUTT_REQUIRE_TOOLS=1)")
	}
	t.Skip("needs root")
}

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above " + file)
		}
		dir = parent
	}
}

// NixConfig returns nix/fixtures/nix.conf, the Nix settings for building
// against the offline package set: the file scripts/lib/prereqs.sh exports
// as NIX_CONFIG.
func NixConfig(t testing.TB) string {
	t.Helper()
	conf, err := nixConfig()
	if err != nil {
		t.Fatalf("reading the offline Nix configuration: %v", err)
	}
	return conf
}

func nixConfig() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "nix", "fixtures", "nix.conf"))
	return string(data), err
}

// CleanEnv returns a minimal environment for child processes: the machine
// exports SSL_CERT_FILE and similar variables that must not leak into what a
// test observes. NIX_CONFIG is always nix/fixtures/nix.conf (NixConfig),
// whatever the caller's environment says. Extra entries are KEY=VALUE pairs.
func CleanEnv(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"TMPDIR=" + os.TempDir(),
		"LANG=C",
	}
	if conf, err := nixConfig(); err == nil {
		env = append(env, "NIX_CONFIG="+conf)
	}
	for _, k := range []string{"NIX_REMOTE", "NIX_STORE_DIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for _, e := range extra {
		if k, _, ok := strings.Cut(e, "="); ok {
			env = removeKey(env, k)
		}
		env = append(env, e)
	}
	return env
}

func removeKey(env []string, key string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, key+"=") {
			out = append(out, e)
		}
	}
	return out
}
