// Package benchreport writes docs/benchmarks.md from the output of
// `go test -bench` over the benchmarks of internal/oci, internal/verify,
// internal/rescan and internal/closure: the machine and the closure that were
// measured, the ratios between benchmarks of one run, what each benchmark
// measures, the raw output, and the hand-written section "On a fresh
// machine" carried over from the page it replaces.
//
// Every figure the page shows must be in the output: a benchmark or a metric
// that is missing is an error, never a blank cell.
package benchreport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// ErrMissing is wrapped by the error for a benchmark, or a metric of a
// benchmark, that the page needs and the output does not have.
var ErrMissing = errors.New("missing from the benchmark output")

// ErrMalformed is wrapped by the error for figures the output has but not
// in the shape the page needs: a benchmark with another number of results
// than -count runs, rescan counts that do not describe a fleet of
// documents of one size sharing one set of packages, or a ratio whose
// denominator is 0. The error names the benchmark or the ratio.
var ErrMalformed = errors.New("malformed benchmark output")

// Results holds every benchmark result of one or more `go test -bench`
// outputs, grouped by benchmark, and the lines of those outputs that the
// page shows as its raw output.
type Results struct {
	benchmarks map[string]*benchmark
	raw        []string
}

// benchmark is the results of one benchmark over the -count runs: per unit,
// the values in the order they were read.
type benchmark struct {
	runs   int
	values map[string][]float64
}

// NewResults returns an empty Results.
func NewResults() *Results {
	return &Results{benchmarks: map[string]*benchmark{}}
}

// Add reads one `go test -bench` output; name is its file name, used in
// syntax errors. A result line that does not parse is an error. Results of
// the same benchmark in several outputs are pooled.
//
// Benchmarks are keyed by their full name as go test prints it without the
// GOMAXPROCS suffix ("BenchmarkRescan/images=50/per-image"); values keep the
// units go test prints (ns/op, MB/s, custom metrics), not benchfmt's tidied
// ones.
func (r *Results) Add(name string, output []byte) error {
	rd := benchfmt.NewReader(bytes.NewReader(output), name)
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			return rec
		case *benchfmt.Result:
			key := benchmarkName(rec.Name)
			b := r.benchmarks[key]
			if b == nil {
				b = &benchmark{values: map[string][]float64{}}
				r.benchmarks[key] = b
			}
			b.runs++
			for _, v := range rec.Values {
				unit, value := v.Unit, v.Value
				if v.OrigUnit != "" {
					unit, value = v.OrigUnit, v.OrigValue
				}
				b.values[unit] = append(b.values[unit], value)
			}
		}
	}
	if err := rd.Err(); err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(output))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, prefix := range []string{"goos:", "goarch:", "pkg:", "cpu:", "Benchmark"} {
			if strings.HasPrefix(line, prefix) {
				r.raw = append(r.raw, line)
				break
			}
		}
	}
	return sc.Err()
}

// benchmarkName is n as go test prints it, "Benchmark" prefix included,
// without the "-<GOMAXPROCS>" suffix.
func benchmarkName(n benchfmt.Name) string {
	base, parts := n.Parts()
	var b strings.Builder
	b.WriteString("Benchmark")
	b.Write(base)
	for _, p := range parts {
		if len(p) > 0 && p[0] == '-' {
			continue
		}
		b.Write(p)
	}
	return b.String()
}

// Raw returns the configuration lines (goos, goarch, pkg, cpu) and the
// benchmark lines of every output read, verbatim and in order.
func (r *Results) Raw() []string { return r.raw }

// Runs returns how many results the benchmark has (one per -count run), 0
// if it is not in the output.
func (r *Results) Runs(benchmark string) int {
	if b := r.benchmarks[benchmark]; b != nil {
		return b.runs
	}
	return 0
}

// Mean returns the mean of the benchmark's values in unit over its results.
// It is an error wrapping ErrMissing if the benchmark is not in the output,
// or if one of its results lacks the unit.
func (r *Results) Mean(benchmark, unit string) (float64, error) {
	b := r.benchmarks[benchmark]
	if b == nil {
		return 0, fmt.Errorf("benchmark %s: %w", benchmark, ErrMissing)
	}
	vs := b.values[unit]
	if len(vs) != b.runs {
		return 0, fmt.Errorf("benchmark %s: %s in %d of its %d results: %w", benchmark, unit, len(vs), b.runs, ErrMissing)
	}
	var sum float64
	for _, v := range vs {
		sum += v
	}
	return sum / float64(len(vs)), nil
}
