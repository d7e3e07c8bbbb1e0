// Command benchreport writes docs/benchmarks.md from the output of
// `go test -bench` over the benchmarks it reports (package benchreport lists
// them). scripts/bench.sh runs the benchmarks and then, from the repository
// root:
//
//	go run ./internal/benchreport/cmd/benchreport -in raw.txt -out docs/benchmarks.md \
//	    -closure out/closures/python-distroless-amd64.json -cosign "$(go env GOPATH)/bin/cosign" \
//	    -benchtime 3x -count 3
//
// -in may be given more than once; the outputs are read in order. The
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
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/benchreport"
	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fsutil"
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
	if err := fl.Parse(args); err != nil {
		return err
	}
	if len(in) == 0 || *out == "" || *manifest == "" || *cosign == "" || *benchtime == "" || *count < 1 {
		return errors.New("-in, -out, -closure, -cosign, -benchtime and -count are required")
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
