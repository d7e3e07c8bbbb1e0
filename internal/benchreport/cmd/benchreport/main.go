// Command benchreport writes docs/benchmarks.md from the output of
// `go test -bench` over the benchmarks it reports (package benchreport lists
// them). scripts/bench.sh runs the benchmarks and then, from the repository
// root:
//
//	go run ./internal/benchreport/cmd/benchreport -in raw.txt -out docs/benchmarks.md \
//	    -closure out/closures/python-distroless-amd64.json -cosign "$(go env GOPATH)/bin/cosign" \
//	    -benchtime 3x -count 3 -pipeline-first first.json -pipeline-unchanged unchanged.json \
//	    -pipeline-changed changed.json -pipeline-serial serial.json \
//	    -pipeline-change '`nodejs-slim_24` (revision `node-docs`)'
//
// -in may be given more than once; the outputs are read in order. The
// -pipeline-* files are `clearcutt pipeline --json` reports of four runs
// of the example fleet (benchreport.PipelineRuns). The
// machine is described from /proc and the Go version this command was built
// with (go run builds it with the toolchain that ran the benchmarks); the
// closure from its manifest; the cosign version from the build information
// of the cosign binary. The section "On a fresh machine" of the existing
// -out file is carried over. The page is replaced atomically, and not at all
// if anything it shows is missing.
package main

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/benchreport"
	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fsutil"
	"github.com/clearcutt/clearcutt/internal/pipeline"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fl := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	var in []string
	fl.Func("in", "`file` of go test -bench output (repeatable)", func(s string) error {
		in = append(in, s)
		return nil
	})
	out := fl.String("out", "", "`file` to write the page to")
	manifest := fl.String("closure", "", "closure manifest the internal/oci benchmarks used")
	cosign := fl.String("cosign", "", "cosign binary the internal/verify benchmarks ran")
	benchtime := fl.String("benchtime", "", "go test -benchtime of the run")
	count := fl.Int("count", 0, "go test -count of the run")
	var runs [4]string
	fl.StringVar(&runs[0], "pipeline-first", "", "`file` of the first `clearcutt pipeline --json` report (empty work directory)")
	fl.StringVar(&runs[1], "pipeline-unchanged", "", "`file` of the second, with nothing changed")
	fl.StringVar(&runs[2], "pipeline-changed", "", "`file` of the third, with one package of the set changed")
	fl.StringVar(&runs[3], "pipeline-serial", "", "`file` of the first run again with --jobs 1 (empty work directory of its own)")
	change := fl.String("pipeline-change", "", "what the third run changed, in Markdown")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if len(in) == 0 || *out == "" || *manifest == "" || *cosign == "" || *benchtime == "" || *count < 1 ||
		slices.Contains(runs[:], "") || *change == "" {
		return errors.New("-in, -out, -closure, -cosign, -benchtime, -count and the -pipeline-* flags are required")
	}
	var reports [4]pipeline.Report
	for i, name := range runs {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &reports[i]); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}

	results := benchreport.NewResults()
	for _, name := range in {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if err := results.Add(name, data); err != nil {
			return err
		}
	}
	m, err := closure.ReadManifest(*manifest)
	if err != nil {
		return err
	}
	bi, err := buildinfo.ReadFile(*cosign)
	if err != nil {
		return fmt.Errorf("cosign version: %w", err)
	}
	machine, err := readMachine()
	if err != nil {
		return err
	}
	rep := &benchreport.Report{
		Written: time.Now(),
		Machine: machine,
		Closure: benchreport.Closure{
			Path:       displayPath(*manifest),
			NarSize:    m.ClosureSize,
			StorePaths: len(m.Paths),
		},
		Benchtime:     *benchtime,
		Count:         *count,
		CosignVersion: bi.Main.Version,
		Results:       results,
		Pipeline:      &benchreport.PipelineRuns{Cold: reports[0], Unchanged: reports[1], Changed: reports[2], Serial: reports[3], Change: *change},
	}
	switch old, err := os.ReadFile(*out); {
	case err == nil:
		rep.Fresh = benchreport.FreshSection(old)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	page, err := rep.Markdown()
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(*out, page, 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", *out)
	return nil
}

// displayPath is path relative to the working directory when it lies
// under it, path as given otherwise.
func displayPath(path string) string {
	wd, err := os.Getwd()
	if err != nil || !filepath.IsAbs(path) {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	return rel
}

// readMachine describes this machine from /proc: the first processor's
// model name, the memory, the kernel's name and release; the processors
// are those this process may run on, the Go version that of this binary.
func readMachine() (benchreport.Machine, error) {
	mc := benchreport.Machine{NProc: runtime.NumCPU(), Go: runtime.Version()}
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return mc, err
	}
	mc.CPU, _ = procField(cpuinfo, "model name")
	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return mc, err
	}
	total, ok := procField(meminfo, "MemTotal")
	kb, err := strconv.ParseInt(strings.TrimSuffix(total, " kB"), 10, 64)
	if !ok || err != nil {
		return mc, fmt.Errorf("/proc/meminfo: MemTotal %q", total)
	}
	mc.MemTotal = kb * 1024
	var kernel []string
	for _, f := range []string{"/proc/sys/kernel/ostype", "/proc/sys/kernel/osrelease"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return mc, err
		}
		kernel = append(kernel, strings.TrimSpace(string(b)))
	}
	mc.Kernel = strings.Join(kernel, " ")
	return mc, nil
}

// procField returns the value of the first "key: value" line of a /proc
// file whose key is key.
func procField(data []byte, key string) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
