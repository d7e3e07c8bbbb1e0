package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/stage"
)

var releaseStages = []string{"build", "assemble", "test", "sbom", "scan", "publish", "attest", "verify", "tag"}

// timedReport is a passed, signed release of two wide-named images whose
// timings list every stage.
func timedReport() pipeline.Report {
	tm := pipeline.Timings{Seconds: 12345.6}
	for i, st := range releaseStages {
		subject := "python-debian:distroless-debug"
		if st == "build" {
			subject += " arm64"
		}
		tm.Stages = append(tm.Stages, pipeline.StageTiming{Stage: st, Steps: 22, Reused: i, Seconds: 1234.5 * float64(i+1),
			Longest: pipeline.StepTiming{Subject: subject, Seconds: 123.4 * float64(i+1)}})
	}
	asm := &stage.AssembleReport{Platforms: []stage.AssemblePlatform{{Arch: "amd64", Layers: 12, Size: 123456789}}}
	return pipeline.Report{Destination: "ghcr.io/acme/base-images-with-a-long-organisation-name", Passed: true, Published: true, Signed: true,
		Verified: true, Tagged: true, Seconds: tm.Seconds, Timings: tm, Images: []pipeline.Image{
			{Image: "python-debian:distroless-debug", Digest: wideDigest, Assemble: asm, Publish: &stage.PublishReport{}},
		}}
}

func TestRenderPipelineEndsWithTheTimeTable(t *testing.T) {
	var out bytes.Buffer
	if err := renderPipeline(&globals{stdout: &out}, timedReport()); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), "signed, verified and tagged, 3h25m46s", "STAGE STEPS REUSED TIME LONGEST STEP", "build 22 0 20m35s 2m3s python-debian:distroless-debug arm64",
		"total 198 36 3h25m46s wall time of the run")
	// After the images and their status: the header, every stage in
	// order, then the totals, last.
	text := out.String()
	status := strings.Index(text, "signed, verified and tagged")
	lines := strings.Split(strings.TrimSuffix(text[status:], "\n"), "\n")
	var first []string
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			first = append(first, f[0])
		}
	}
	want := append(append([]string{"STAGE"}, releaseStages...), "total")
	if strings.Join(first, " ") != strings.Join(want, " ") {
		t.Errorf("rows after the status %q, want %q:\n%s", first, want, text)
	}
}

func TestRenderPipelineWithoutStepsHasNoTimeTable(t *testing.T) {
	var out bytes.Buffer
	rep := timedReport()
	rep.Timings = pipeline.Timings{}
	if err := renderPipeline(&globals{stdout: &out}, rep); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "STAGE") {
		t.Errorf("a time table without steps:\n%s", out.String())
	}
}

func TestPipelineSummaryHasTheTimeTable(t *testing.T) {
	sum := pipelineStage(timedReport()).summary
	for _, want := range []string{"#### Time: 3h25m46s", "| Stage | Steps | Reused | Time | Longest step |",
		"| tag | 22 | 8 | 3h5m11s | 18m31s python-debian:distroless-debug |", "| total | 198 | 36 | 3h25m46s | wall time of the run |"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}
