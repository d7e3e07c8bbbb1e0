package benchreport

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/pipeline"
)

// testPipeline are the pipeline runs of a fleet of three images, one
// build each: two images at once, the third after node's package changed;
// and the first again, one image at a time.
func testPipeline() *PipelineRuns {
	images := func(nodeDigest string) []pipeline.Image {
		return []pipeline.Image{{Image: "python:distroless", Digest: "sha256:p"}, {Image: "node:slim", Digest: nodeDigest}, {Image: "static:distroless", Digest: "sha256:s"}}
	}
	run := func(seconds float64, nodeDigest string, reused int, redone ...string) pipeline.Report {
		r := pipeline.Report{Images: images(nodeDigest), Verified: true, Tagged: true, Jobs: 2, Timings: pipeline.Timings{Seconds: seconds}}
		for _, st := range []string{"build", "assemble", "test", "sbom", "scan", "publish", "attest", "verify", "tag"} {
			s := pipeline.StageTiming{Stage: st, Steps: 3}
			if slices.Contains(reusingStages, st) {
				s.Reused = reused
				if reused > 0 {
					s.Redone = redone
				}
			}
			r.Timings.Stages = append(r.Timings.Stages, s)
		}
		return r
	}
	serial := run(400, "sha256:n1", 0)
	serial.Jobs = 1
	return &PipelineRuns{
		Serial:    serial,
		Cold:      run(300, "sha256:n1", 0),
		Unchanged: run(6, "sha256:n1", 3),
		Changed:   run(45, "sha256:n2", 2, "node:slim"),
		Change:    "`nodejs-slim_24` (revision `node-docs`)",
	}
}

func TestPipelineRows(t *testing.T) {
	rows, err := testPipeline().rows()
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{{
		"example fleet pipeline, first run: 2 images at once ÷ one at a time", "**0.75×**",
		"300.0 s with --jobs 2 vs 400.0 s with --jobs 1, each into empty work directories (the one-at-a-time run second, with the Nix store holding the closures)",
	}, {
		"example fleet pipeline, unchanged re-run ÷ first run", "**0.020×**",
		"6.0 s vs 300.0 s; 12 of 12 build, assemble, test and SBOM steps reused; scan, publish, attest and verify done afresh",
	}, {
		"example fleet pipeline, unchanged re-run: wall time", "**6.0 s**", "3 images, 3 platform images",
	}, {
		"example fleet pipeline after one package changed (`nodejs-slim_24` (revision `node-docs`)): images assembled again", "**1 of 3**",
		"build 1 of 3 (node:slim); assemble 1 of 3 (node:slim); test 1 of 3 (node:slim); sbom 1 of 3 (node:slim); digests changed: node:slim; 45.0 s (0.15× the first run)",
	}}
	if len(rows) != len(want) {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, rows[i], want[i])
		}
	}
}

func TestPipelineRowsRefuseWhatIsNotAMeasurement(t *testing.T) {
	for name, spoil := range map[string]func(p *PipelineRuns){
		"a first run that reused":  func(p *PipelineRuns) { p.Cold = p.Unchanged },
		"a serial run that reused": func(p *PipelineRuns) { p.Serial.Timings.Stages = p.Unchanged.Timings.Stages },
		"a serial run of 2 jobs":   func(p *PipelineRuns) { p.Serial.Jobs = 2 },
		"a first run of 1 job":     func(p *PipelineRuns) { p.Cold.Jobs = 1 },
		"no serial run":            func(p *PipelineRuns) { p.Serial = pipeline.Report{} },
		"an unverified run":        func(p *PipelineRuns) { p.Changed.Verified = false },
		"other images":             func(p *PipelineRuns) { p.Unchanged.Images = p.Unchanged.Images[:2] },
		"no wall time":             func(p *PipelineRuns) { p.Changed.Timings.Seconds = 0 },
		"no images":                func(p *PipelineRuns) { p.Cold.Images = nil },
		"an unchanged run of none": func(p *PipelineRuns) { p.Unchanged.Timings.Stages = p.Unchanged.Timings.Stages[4:] },
	} {
		p := testPipeline()
		spoil(p)
		if _, err := p.rows(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestMarkdownNeedsThePipelineRuns(t *testing.T) {
	rep := testReport(t, readBench(t))
	rep.Pipeline = nil
	if _, err := rep.Markdown(); !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "pipeline") {
		t.Fatalf("Markdown without the pipeline runs: %v, want ErrMissing naming them", err)
	}
}
