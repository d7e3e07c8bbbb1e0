package benchreport

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"
)

//go:embed benchmarks.md.tmpl
var pageTemplate string

var page = template.Must(template.New("benchmarks.md").Parse(pageTemplate))

// FreshHeading is the heading of the page's hand-written section: figures
// of the README's commands on a brand-new machine, which no benchmark
// produces.
const FreshHeading = "## On a fresh machine"

// Machine describes the machine the benchmarks ran on.
type Machine struct {
	// CPU is the processor's model name ("" when unknown), NProc the number
	// of processors the benchmarks could use.
	CPU   string
	NProc int
	// MemTotal is the machine's memory in bytes.
	MemTotal int64
	// Kernel is the kernel's name and release ("Linux 6.1.0-18-amd64"), Go
	// the Go version the benchmarks were built with ("go1.26.8").
	Kernel string
	Go     string
}

// Closure describes the closure manifest the internal/oci benchmarks
// assembled and published.
type Closure struct {
	// Path is the manifest's path as the page shows it.
	Path string
	// NarSize is the closure's NAR size in bytes; StorePaths the number of
	// store paths it holds.
	NarSize    int64
	StorePaths int
}

// Report is everything docs/benchmarks.md is written from.
type Report struct {
	// Written is when the benchmarks ran; the page shows it in UTC to the
	// minute.
	Written time.Time
	Machine Machine
	Closure Closure
	// Benchtime and Count are go test's -benchtime and -count: every
	// benchmark must have Count results, and the page shows their means.
	Benchtime string
	Count     int
	// CosignVersion is the version of the cosign that
	// BenchmarkCosignEquivalent ran ("v3.1.3").
	CosignVersion string
	Results       *Results
	// Pipeline are the four runs of the example fleet's pipeline.
	Pipeline *PipelineRuns
	// Fresh is the section "On a fresh machine", heading included, as
	// FreshSection returns it from the page being replaced; "" for none.
	// The page ends with it.
	Fresh string
}

// Row is one row of the page's table of ratios, each cell in Markdown.
type Row struct {
	Figure, Value, From string
}

// Markdown returns the page. It fails, naming what is missing, if a
// benchmark or metric the page shows is not in the results (ErrMissing) or
// does not have Count results, and if a ratio would divide by zero
// (ErrMalformed).
func (rep *Report) Markdown() ([]byte, error) {
	if rep.Count < 1 {
		return nil, fmt.Errorf("count %d: must be at least 1", rep.Count)
	}
	if rep.Benchtime == "" || rep.CosignVersion == "" || rep.Closure.Path == "" {
		return nil, errors.New("the benchtime, the cosign version and the closure path are required")
	}
	f, err := Compute(rep.Results, rep.Count)
	if err != nil {
		return nil, err
	}
	rows, err := f.Rows(rep.CosignVersion)
	if err != nil {
		return nil, err
	}
	if rep.Pipeline == nil {
		return nil, fmt.Errorf("the pipeline runs are %w", ErrMissing)
	}
	prows, err := rep.Pipeline.rows()
	if err != nil {
		return nil, err
	}
	rows = append(prows, rows...)
	m := rep.Machine
	if m.CPU == "" {
		m.CPU = "unknown"
	}
	var buf bytes.Buffer
	err = page.Execute(&buf, map[string]any{
		"Written":      rep.Written.UTC().Format("2006-01-02T15:04Z"),
		"Machine":      m,
		"Memory":       fmt.Sprintf("%.1f GiB", float64(m.MemTotal)/(1<<30)),
		"Closure":      rep.Closure,
		"ClosureSize":  fmt.Sprintf("%.1f MB", float64(rep.Closure.NarSize)/1e6),
		"Benchtime":    rep.Benchtime,
		"Count":        rep.Count,
		"Rows":         rows,
		"Figures":      f,
		"Nightly":      f.Nightly(m.NProc),
		"RunnerVCPUs":  RunnerVCPUs,
		"RoundTrip":    SigstoreRoundTrip,
		"FleetSeconds": f.Fleet500Ns / 1e9,
		"Raw":          rep.Results.Raw(),
		"Pipeline":     rep.Pipeline,
		"Fresh":        strings.TrimRight(rep.Fresh, " \t\n"),
	})
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Rows returns the page's table of ratios; cosignVersion is the version of
// the cosign BenchmarkCosignEquivalent ran. A ratio whose denominator is 0
// is an error wrapping ErrMalformed.
func (f *Figures) Rows(cosignVersion string) ([]Row, error) {
	var errs []error
	ratio := func(a, b float64, what string) string {
		if b == 0 {
			errs = append(errs, fmt.Errorf("ratio %s: the denominator is 0: %w", what, ErrMalformed))
			return ""
		}
		return fmt.Sprintf("%.2f×", a/b)
	}
	bold := func(s string) string { return "**" + s + "**" }
	rows := []Row{{
		"cold assemble throughput ÷ `tar -c \\| gzip -6` throughput",
		bold(ratio(f.AssembleColdMBs, f.TarMBs, "cold assemble ÷ tar | gzip throughput")),
		fmt.Sprintf("%.1f MB/s vs %.1f MB/s (%s vs %s)", f.AssembleColdMBs, f.TarMBs, ms(f.AssembleColdNs), ms(f.TarNs)),
	}, {
		"unchanged rebuild speed-up (cold ÷ warm time)",
		bold(ratio(f.AssembleColdNs, f.AssembleWarmNs, "cold ÷ warm assemble")),
		ms(f.AssembleColdNs) + " vs " + ms(f.AssembleWarmNs),
	}, {
		"second publish of an unchanged image: blobs uploaded",
		fmt.Sprintf("**%s** (%s skipped)", count(f.PublishUnchangedBlobs), count(f.PublishUnchangedSkipped)),
		fmt.Sprintf("first publish: %s blobs", count(f.PublishColdBlobs)),
	}, {
		"second publish of an unchanged image: bytes uploaded",
		bold(count(f.PublishUnchangedBytes)),
		fmt.Sprintf("first publish: %s bytes", count(f.PublishColdBytes)),
	}, {
		"second publish speed-up (cold ÷ unchanged time)",
		ratio(f.PublishColdNs, f.PublishUnchangedNs, "cold ÷ unchanged publish"),
		ms(f.PublishColdNs) + " vs " + ms(f.PublishUnchangedNs),
	}, {
		"verify every channel of one image: cosign time ÷ `clearcutt verify` time",
		bold(ratio(f.CosignNs, f.VerifyNs, "cosign ÷ clearcutt verify")),
		fmt.Sprintf("%s for %s cosign %s invocations vs %s in one process", ms(f.CosignNs), count(f.CosignInvocations), cosignVersion, ms(f.VerifyNs)),
	}, {
		"rescan matching: 50-image fleet time ÷ 1-image fleet time",
		bold(ratio(f.Rescan50Ns, f.Rescan1Ns, "50-image ÷ 1-image rescan")),
		fmt.Sprintf("%s vs %s; %.0f packages (%.0f distinct, %.0f grype matcher runs) vs %.0f (%.0f runs)",
			ms(f.Rescan50Ns), ms(f.Rescan1Ns), f.Rescan50Packages, f.Rescan50Unique, f.Rescan50Runs, f.Rescan1Packages, f.Rescan1Runs),
	}, {
		"rescan matching of the 50 images: per-image scans ÷ one deduplicated batch",
		bold(ratio(f.PerImage50Ns, f.Rescan50Ns, "per-image ÷ batch rescan")),
		ms(f.PerImage50Ns) + " vs " + ms(f.Rescan50Ns),
	}, {
		fmt.Sprintf("rescan end to end of %s platform images (verify, match, sign keyless, attach): signatures per second", count(f.Fleet500Platforms)),
		bold(fmt.Sprintf("%.1f/s", f.Fleet500SigsPerSec)),
		fmt.Sprintf("%s signatures in %s; peak heap in use %.0f MiB", count(f.Fleet500Signatures), sec(f.Fleet500Ns), f.Fleet500PeakMiB),
	}, {
		"python distroless cell, cold: with the scrub ÷ the unscrubbed dev cell",
		bold(ratio(f.CellDistrolessColdNs, f.CellDevColdNs, "distroless ÷ dev cell")),
		sec(f.CellDistrolessColdNs) + " vs " + sec(f.CellDevColdNs),
	}, {
		"python distroless cell: cold ÷ warm",
		ratio(f.CellDistrolessColdNs, f.CellDistrolessWarmNs, "cold ÷ warm distroless cell"),
		sec(f.CellDistrolessColdNs) + " vs " + sec(f.CellDistrolessWarmNs) + " (warm: evaluation and a store query, nothing built)",
	}}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rows, nil
}

// ms formats nanoseconds as milliseconds, sec as seconds.
func ms(ns float64) string  { return fmt.Sprintf("%.1f ms", ns/1e6) }
func sec(ns float64) string { return fmt.Sprintf("%.2f s", ns/1e9) }

// count formats a per-op count: whole numbers without a fraction, others
// with up to twelve significant digits.
func count(x float64) string { return fmt.Sprintf("%.12g", x) }

// FreshSection returns the section of page whose heading line starts with
// FreshHeading, up to the next "## " heading outside a code fence or the end
// of the page, without trailing blank lines; "" if page has no such section.
func FreshSection(page []byte) string {
	var out []string
	fenced := false
	for _, line := range strings.Split(string(page), "\n") {
		switch {
		case len(out) == 0 && strings.HasPrefix(line, FreshHeading):
		case len(out) == 0:
			continue
		case !fenced && strings.HasPrefix(line, "## "):
			return strings.TrimRight(strings.Join(out, "\n"), " \t\n")
		case strings.HasPrefix(line, "```"):
			fenced = !fenced
		}
		out = append(out, line)
	}
	return strings.TrimRight(strings.Join(out, "\n"), " \t\n")
}
