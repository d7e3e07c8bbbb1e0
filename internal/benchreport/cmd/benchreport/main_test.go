package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/benchreport"
	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/pipeline"
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
	args = []string{"-in", raw, "-out", out, "-closure", manifest, "-cosign", exe, "-benchtime", "3x", "-count", "3",
		"-pipeline-change", "`nodejs-slim_24` (revision `node-docs`)"}
	// Four pipeline reports of one image, as `clearcutt pipeline --json`
	// writes them.
	for i, run := range []struct {
		name    string
		seconds float64
		reused  int
		jobs    int
	}{{"first", 200, 0, 2}, {"unchanged", 4, 1, 2}, {"changed", 20, 0, 2}, {"serial", 250, 0, 1}} {
		rep := pipeline.Report{Images: []pipeline.Image{{Image: "node:slim", Digest: fmt.Sprintf("sha256:%d", min(i, 2)/2)}}, Verified: true, Tagged: true,
			Jobs: run.jobs, Timings: pipeline.Timings{Seconds: run.seconds}}
		for _, st := range []string{"build", "assemble", "test", "sbom", "scan"} {
			rep.Timings.Stages = append(rep.Timings.Stages, pipeline.StageTiming{Stage: st, Steps: 1, Reused: run.reused})
		}
		data, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, run.name+".json")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-pipeline-"+run.name, file)
	}
	return args, out
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
		"| example fleet pipeline, first run: 2 images at once ÷ one at a time | **0.80×** | 200.0 s with --jobs 2 vs 250.0 s with --jobs 1,",
		"| example fleet pipeline, unchanged re-run ÷ first run | **0.020×** | 4.0 s vs 200.0 s; 4 of 4 build,",
		"| **1 of 1** | build 1 of 1 (all); assemble 1 of 1 (all); test 1 of 1 (all); sbom 1 of 1 (all); digests changed: node:slim; 20.0 s (0.10× the first run) |\n",
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
