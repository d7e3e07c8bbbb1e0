package benchreport

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testdata/bench.txt is the go test output of the run whose figures
// docs/benchmarks.md showed on 2026-12-06 (-benchtime=3x -count=3, four
// packages), with the results of three runs of BenchmarkRescanFleet500
// (-benchtime=1x) on the same machine after the rescan's; the rows below
// are the ones that page showed, and the end-to-end rescan's.
func readBench(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func results(t *testing.T, output []byte) *Results {
	t.Helper()
	r := NewResults()
	if err := r.Add("bench.txt", output); err != nil {
		t.Fatal(err)
	}
	return r
}

// withoutLines returns output without the lines matching re.
func withoutLines(output []byte, re string) []byte {
	var keep []string
	for _, line := range strings.SplitAfter(string(output), "\n") {
		if !regexp.MustCompile(re).MatchString(line) {
			keep = append(keep, line)
		}
	}
	return []byte(strings.Join(keep, ""))
}

func testReport(t *testing.T, output []byte) *Report {
	return &Report{
		Written: time.Date(2026, 12, 6, 7, 18, 42, 0, time.UTC),
		Machine: Machine{CPU: "AMD EPYC", NProc: 2, MemTotal: 24641856 * 1024, Kernel: "Linux 6.18.44-fc-v1272", Go: "go1.26.8"},
		Closure: Closure{Path: "out/closures/python-distroless-amd64.json", NarSize: 36106184, StorePaths: 20},

		Benchtime:     "3x",
		Count:         3,
		CosignVersion: "v3.1.3",
		Results:       results(t, output),
		Pipeline:      testPipeline(),
	}
}

func TestRows(t *testing.T) {
	f, err := Compute(results(t, readBench(t)), 3)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.Rows("v3.1.3")
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{"cold assemble throughput ÷ `tar -c \\| gzip -6` throughput", "**1.08×**", "28.2 MB/s vs 26.1 MB/s (1280.2 ms vs 1382.8 ms)"},
		{"unchanged rebuild speed-up (cold ÷ warm time)", "**89.42×**", "1280.2 ms vs 14.3 ms"},
		{"second publish of an unchanged image: blobs uploaded", "**0** (21 skipped)", "first publish: 21 blobs"},
		{"second publish of an unchanged image: bytes uploaded", "**0**", "first publish: 13281178 bytes"},
		{"second publish speed-up (cold ÷ unchanged time)", "110.91×", "156.9 ms vs 1.4 ms"},
		{"verify every channel of one image: cosign time ÷ `clearcutt verify` time", "**58.55×**", "1376.9 ms for 11 cosign v3.1.3 invocations vs 23.5 ms in one process"},
		{"rescan matching: 50-image fleet time ÷ 1-image fleet time", "**9.87×**", "945.8 ms vs 95.8 ms; 6000 packages (610 distinct, 610 grype matcher runs) vs 120 (120 runs)"},
		{"rescan matching of the 50 images: per-image scans ÷ one deduplicated batch", "**5.55×**", "5253.7 ms vs 945.8 ms"},
		{"rescan end to end of 500 platform images (verify, match, sign keyless, attach): signatures per second", "**24.8/s**", "1250 signatures in 50.75 s; peak heap in use 173 MiB"},
		{"python distroless cell, cold: with the scrub ÷ the unscrubbed dev cell", "**1.09×**", "4.36 s vs 4.00 s"},
		{"python distroless cell: cold ÷ warm", "1.22×", "4.36 s vs 3.58 s (warm: evaluation and a store query, nothing built)"},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d:\n got %q\nwant %q", i, rows[i], want[i])
		}
	}
	if f.FleetPackages != 120 || f.FleetShared != 110 || f.FleetOwn != 10 {
		t.Errorf("fleet: %d packages, %d shared, %d own; want 120, 110, 10", f.FleetPackages, f.FleetShared, f.FleetOwn)
	}
}

func TestMean(t *testing.T) {
	r := results(t, readBench(t))
	// (1303455599 + 1263280689 + 1273722473) / 3, in go test's ns/op.
	if got, err := r.Mean(AssembleCold, "ns/op"); err != nil || got != 1280152920.3333333 {
		t.Errorf("Mean(%s, ns/op) = %v, %v", AssembleCold, got, err)
	}
	if got, err := r.Mean(TarGzipBaseline, "MB/s"); err != nil || got != (25.97+26.42+25.89)/3 {
		t.Errorf("Mean(%s, MB/s) = %v, %v", TarGzipBaseline, got, err)
	}
	if n := r.Runs(Rescan50PerImage); n != 3 {
		t.Errorf("Runs(%s) = %d, want 3", Rescan50PerImage, n)
	}
}

func TestMarkdown(t *testing.T) {
	page, err := testReport(t, readBench(t)).Markdown()
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{
		"# Benchmarks\n\nWritten by `scripts/bench.sh` on 2026-12-06T07:18Z. Every ratio\n",
		"| CPU | AMD EPYC × 2 (nproc) |\n",
		"| memory | 23.5 GiB |\n",
		"| kernel | Linux 6.18.44-fc-v1272 |\n",
		"| Go | go1.26.8 |\n",
		"| closure | `out/closures/python-distroless-amd64.json` (36.1 MB NAR size, 20 store paths) |\n",
		"| runs | `-benchtime=3x -count=3`; figures are means over the 3 runs |\n",
		"|---|---|---|\n| example fleet pipeline, first run: 2 images at once ÷ one at a time | **0.75×** |",
		"| example fleet pipeline, unchanged re-run ÷ first run | **0.020×** |",
		"; 45.0 s (0.15× the first run) |\n| cold assemble throughput ÷ `tar -c \\| gzip -6` throughput | **1.08×** | 28.2 MB/s vs 26.1 MB/s (1280.2 ms vs 1382.8 ms) |\n",
		"| python distroless cell: cold ÷ warm | 1.22× | 4.36 s vs 3.58 s (warm: evaluation and a store query, nothing built) |\n\n- **The example fleet's pipeline**",
		"revision that changes one package (`nodejs-slim_24` (revision `node-docs`); staged with\n",
		"  documents of 120 packages, 110 of them shared by every\n",
		"  paths) and 10 of each image's own. `images=1` and `images=50`\n",
		"Directly: `CLEARCUTT_BENCH_CLOSURE=$PWD/out/closures/python-distroless-amd64.json go test -run '^$' -bench . ./internal/oci`.\n",
		"`rescan.Run` over a published fleet of 500 platform images (half as\n",
		"  2 cores, and the run is CPU-bound here, so its 50.8 s scale to about\n  25 s on 4 vCPUs,",
		"at an assumed 0.5 s per signature for the log entry and the\n  timestamp, 1250 signatures over 4 workers add about 156 s",
		"About\n  182 s in all: 4 Actions minute(s) a night,",
		"The peak heap,\n  173 MiB, is far below",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	var headings []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "#") {
			headings = append(headings, line)
		}
	}
	if got := strings.Join(headings, "|"); got != "# Benchmarks|## Ratios|## Raw output" {
		t.Errorf("headings %q", got)
	}
	if strings.Contains(s, "On a fresh machine") {
		t.Error("page has a fresh-machine section it was not given")
	}
	// The raw output is every goos/goarch/pkg/cpu/Benchmark line, verbatim
	// (cpu's trailing blanks included), and nothing else; the page ends
	// with it.
	raw := string(withoutLines(readBench(t), `^(PASS|ok )`))
	if !strings.HasSuffix(s, "## Raw output\n\n```\n"+raw+"```\n") {
		t.Errorf("page does not end with the raw output:\n%s", s[strings.Index(s, "## Raw output"):])
	}
}

func TestMissingBenchmark(t *testing.T) {
	rep := testReport(t, withoutLines(readBench(t), `^BenchmarkPythonCell/dev/cold-`))
	_, err := rep.Markdown()
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "BenchmarkPythonCell/dev/cold") {
		t.Fatalf("err = %v, want ErrMissing naming BenchmarkPythonCell/dev/cold", err)
	}

	// Every missing benchmark is named, not only the first.
	rep = testReport(t, withoutLines(readBench(t), `^Benchmark(AssembleWarm|CosignEquivalent)-`))
	_, err = rep.Markdown()
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "BenchmarkAssembleWarm") || !strings.Contains(err.Error(), "BenchmarkCosignEquivalent") {
		t.Fatalf("err = %v, want both missing benchmarks named", err)
	}
}

func TestMissingMetric(t *testing.T) {
	output := strings.ReplaceAll(string(readBench(t)), "\t        11.00 invocations/op", "")
	_, err := testReport(t, []byte(output)).Markdown()
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "BenchmarkCosignEquivalent: invocations/op in 0 of its 3 results") {
		t.Fatalf("err = %v, want ErrMissing naming BenchmarkCosignEquivalent's invocations/op", err)
	}
}

func TestRunsAgainstCount(t *testing.T) {
	// One of BenchmarkRescan/images=1's three results is gone: its mean
	// would not be over the -count runs the page claims.
	output := []byte(strings.Replace(string(readBench(t)), "BenchmarkRescan/images=1-2         \t       3\t  94269297 ns/op\t       120.0 matcher-runs/op\t       120.0 packages/op\t       120.0 unique-packages/op\n", "", 1))
	_, err := testReport(t, output).Markdown()
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "benchmark BenchmarkRescan/images=1: 2 results, want 3") {
		t.Fatalf("err = %v, want ErrMalformed naming BenchmarkRescan/images=1 with 2 of 3 results", err)
	}
}

func TestSyntaxError(t *testing.T) {
	output := strings.Replace(string(readBench(t)), "\t  25015299 ns/op", "\t  25015299", 1)
	err := NewResults().Add("bench.txt", []byte(output))
	if err == nil || !strings.Contains(err.Error(), "bench.txt:") {
		t.Fatalf("err = %v, want a syntax error with the file and line", err)
	}
}

func TestZeroDenominator(t *testing.T) {
	output := strings.ReplaceAll(string(readBench(t)), "2962518588 ns/op", "0 ns/op")
	output = strings.ReplaceAll(output, "3898973642 ns/op", "0 ns/op")
	output = strings.ReplaceAll(output, "3892953936 ns/op", "0 ns/op")
	_, err := testReport(t, []byte(output)).Markdown()
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "cold ÷ warm distroless cell") {
		t.Fatalf("err = %v, want ErrMalformed naming the cold ÷ warm cell ratio", err)
	}
}

const freshSection = "## On a fresh machine\n" +
	"\n" +
	"The README's two commands, cold, on a brand-new minimal Debian 12.\n" +
	"\n" +
	"```\n" +
	"## a shell comment inside a fence, not a heading\n" +
	"```\n" +
	"\n" +
	"| commit | date | `scripts/demo.sh` | `scripts/test.sh` | together |\n" +
	"|---|---|---|---|---|\n" +
	"| 6c31dd6 | 2026-12-06 | 698 s | 2387 s | 3086 s |"

func TestFreshSectionPreserved(t *testing.T) {
	for name, old := range map[string]string{
		"last":            "# Benchmarks\n\n## Ratios\n\nold\n\n## Raw output\n\n```\nBenchmarkX-2 1 1 ns/op\n```\n\n" + freshSection + "\n\n\n",
		"before raw":      "# Benchmarks\n\n## Ratios\n\nold\n\n" + freshSection + "\n\n## Raw output\n\n```\nBenchmarkX-2 1 1 ns/op\n```\n",
		"no trailing EOL": "# Benchmarks\n\n" + freshSection,
	} {
		t.Run(name, func(t *testing.T) {
			fresh := FreshSection([]byte(old))
			if fresh != freshSection {
				t.Fatalf("FreshSection:\n%s\nwant:\n%s", fresh, freshSection)
			}
			rep := testReport(t, readBench(t))
			rep.Fresh = fresh
			page, err := rep.Markdown()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(string(page), "```\n\n"+freshSection+"\n") {
				t.Errorf("page does not end with the raw output and the fresh-machine section:\n%s", page)
			}
			if strings.Count(string(page), "## On a fresh machine") != 1 {
				t.Error("fresh-machine section is not on the page exactly once")
			}
		})
	}
	if got := FreshSection([]byte("# Benchmarks\n\n## Ratios\n")); got != "" {
		t.Errorf("FreshSection of a page without one = %q", got)
	}
}

func TestFleetShape(t *testing.T) {
	// Fifty documents of 120 packages cannot have 611 distinct packages if
	// they share all but a fixed number each.
	output := strings.ReplaceAll(string(readBench(t)), "610.0 unique-packages/op", "611.0 unique-packages/op")
	_, err := testReport(t, []byte(output)).Markdown()
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "BenchmarkRescan/images=50: 6000 packages, 611 distinct") {
		t.Fatalf("err = %v, want ErrMalformed naming BenchmarkRescan/images=50's counts", err)
	}
}

func TestNightly(t *testing.T) {
	f := &Figures{Fleet500Ns: 60e9, Fleet500Signatures: 1250}
	// 60 s on 2 cores is 30 s on 4 vCPUs; 1250 signatures × 0.5 s over 4
	// workers is 156.25 s; 186.25 s in all, billed as 4 minutes.
	if got, want := f.Nightly(2), (Nightly{CPUSeconds: 30, NetworkSeconds: 156.25, Seconds: 186.25, Minutes: 4}); got != want {
		t.Errorf("Nightly(2) = %+v, want %+v", got, want)
	}
	if got := f.Nightly(0).CPUSeconds; got != 15 {
		t.Errorf("Nightly(0) scales from %v s, want one core's 15 s", got)
	}
}

func TestFleetMissingMetric(t *testing.T) {
	output := []byte(regexp.MustCompile(`\s+[0-9.]+ sigs/s`).ReplaceAllString(string(readBench(t)), ""))
	_, err := Compute(results(t, output), 3)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "BenchmarkRescanFleet500: sigs/s") {
		t.Fatalf("err = %v, want ErrMissing naming BenchmarkRescanFleet500's sigs/s", err)
	}
}
