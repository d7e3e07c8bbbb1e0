package main

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/benchreport"
	"github.com/clearcutt/clearcutt/internal/closure"
)

const oldPage = "# Benchmarks\n\nold figures\n\n## Raw output\n\n```\n```\n\n" +
	"## On a fresh machine\n\n| commit | date |\n|---|---|\n| 6c31dd6 | 2026-12-06 |\n"

// setup writes a closure manifest of two store paths and the page being
// replaced into a temporary directory, and returns the arguments of run
// for -in input. This test binary stands in for cosign: its build
// information has a main module version, "(devel)".
func setup(t *testing.T, input []byte) (args []string, out string) {
	t.Helper()
	dir := t.TempDir()
	sri := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	}
	root := "/nix/store/ajl93njjclwlvks33lzmw605vbjgiy7p-clearcutt-python-distroless-root"
	python := "/nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-python3-3.11.2"
	m := &closure.Manifest{
		Schema: closure.ManifestSchema, Runtime: "python", Tier: "distroless", Arch: "amd64", System: "x86_64-linux",
		Root: root, RuntimePath: python,
		Paths: []closure.StorePath{
			{Path: python, NarHash: sri("python"), NarSize: 30_000_000},
			{Path: root, NarHash: sri("root"), NarSize: 6_106_184, References: []string{python}},
		},
		ClosureSize: 36_106_184,
	}
	manifest := filepath.Join(dir, "python-distroless-amd64.json")
	if err := m.Write(manifest); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "raw.txt")
	out = filepath.Join(dir, "benchmarks.md")
	if err := os.WriteFile(raw, input, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, []byte(oldPage), 0o644); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{"-in", raw, "-out", out, "-closure", manifest, "-cosign", exe, "-benchtime", "3x", "-count", "3"}, out
}

func readBench(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../../testdata/bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRun(t *testing.T) {
	args, out := setup(t, readBench(t))
	if err := run(args); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{
		"(36.1 MB NAR size, 2 store paths) |\n",
		"| **58.55×** | 1376.9 ms for 11 cosign (devel) invocations vs 23.5 ms in one process |\n",
		"```\n\n## On a fresh machine\n\n| commit | date |\n|---|---|\n| 6c31dd6 | 2026-12-06 |\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(s, "old figures") {
		t.Error("page keeps the old figures")
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("page mode: %v, %v", fi.Mode(), err)
	}
}

func TestRunMissingBenchmarkKeepsPage(t *testing.T) {
	var kept []string
	for _, line := range strings.SplitAfter(string(readBench(t)), "\n") {
		if !strings.HasPrefix(line, "BenchmarkTarGzipBaseline-") {
			kept = append(kept, line)
		}
	}
	args, out := setup(t, []byte(strings.Join(kept, "")))
	err := run(args)
	if !errors.Is(err, benchreport.ErrMissing) || !strings.Contains(err.Error(), "BenchmarkTarGzipBaseline") {
		t.Fatalf("err = %v, want BenchmarkTarGzipBaseline named", err)
	}
	page, err := os.ReadFile(out)
	if err != nil || string(page) != oldPage {
		t.Errorf("page changed: %q, %v", page, err)
	}
	entries, err := os.ReadDir(filepath.Dir(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left %s behind", e.Name())
		}
	}
}

func TestRunUsage(t *testing.T) {
	if err := run([]string{"-in", "raw.txt"}); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("err = %v, want the required flags named", err)
	}
}

func TestDisplayPath(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		filepath.Join(wd, "out", "closures", "x.json"): filepath.Join("out", "closures", "x.json"),
		"/elsewhere/x.json":                            "/elsewhere/x.json",
		"out/closures/x.json":                          "out/closures/x.json",
	} {
		if got := displayPath(in); got != want {
			t.Errorf("displayPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadMachine(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo")
	}
	m, err := readMachine()
	if err != nil {
		t.Fatal(err)
	}
	if m.NProc < 1 || m.MemTotal <= 0 || !strings.HasPrefix(m.Kernel, "Linux ") || !strings.HasPrefix(m.Go, "go") {
		t.Errorf("machine %+v", m)
	}
}
