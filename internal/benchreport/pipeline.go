package benchreport

import (
	"fmt"
	"slices"
	"strings"

	"github.com/clearcutt/clearcutt/internal/pipeline"
)

// PipelineRuns are `clearcutt pipeline --json` reports of one fleet: three
// run one after another with the same work directory, layer cache and
// destination (the first into empty ones, the second with nothing
// changed, the third with one package of the package set changed), and a
// first run again with one image gated at a time (--jobs 1), into empty
// ones of its own.
type PipelineRuns struct {
	Cold, Unchanged, Changed pipeline.Report
	// Serial is the first run again, one image at a time.
	Serial pipeline.Report
	// Change says what the third run changed, in Markdown
	// ("`nodejs-slim_24` (revision `node-docs`)").
	Change string
}

// reusingStages are the stages whose results a re-run takes again when
// what they consumed is unchanged (ADR 0020); the others always run.
var reusingStages = []string{"build", "assemble", "test", "sbom"}

// stageOf returns the timing of stage name in r (zero when it did not run).
func stageOf(r pipeline.Report, name string) pipeline.StageTiming {
	for _, s := range r.Timings.Stages {
		if s.Stage == name {
			return s
		}
	}
	return pipeline.StageTiming{}
}

// check fails, wrapping ErrMalformed, unless the three runs released the
// same images, all verified, the first reused nothing and the second
// ran every reusing stage.
func (p *PipelineRuns) check() error {
	names := func(r pipeline.Report) []string {
		var out []string
		for _, im := range r.Images {
			out = append(out, im.Image)
		}
		slices.Sort(out)
		return out
	}
	want := names(p.Cold)
	for _, r := range []struct {
		name string
		rep  pipeline.Report
	}{{"first", p.Cold}, {"unchanged", p.Unchanged}, {"changed", p.Changed}, {"one-at-a-time", p.Serial}} {
		switch {
		case len(r.rep.Images) == 0:
			return fmt.Errorf("the %s pipeline run released no image: %w", r.name, ErrMalformed)
		case !r.rep.Verified || !r.rep.Tagged:
			return fmt.Errorf("the %s pipeline run did not verify and tag every image: %w", r.name, ErrMalformed)
		case !slices.Equal(names(r.rep), want):
			return fmt.Errorf("the %s pipeline run released %v, the first %v: %w", r.name, names(r.rep), want, ErrMalformed)
		case r.rep.Timings.Seconds <= 0:
			return fmt.Errorf("the %s pipeline run has no wall time: %w", r.name, ErrMalformed)
		}
	}
	for _, r := range []struct {
		name string
		rep  pipeline.Report
	}{{"first", p.Cold}, {"one-at-a-time", p.Serial}} {
		for _, s := range r.rep.Timings.Stages {
			if s.Reused > 0 {
				return fmt.Errorf("the %s pipeline run reused %d %s steps: it was not cold: %w", r.name, s.Reused, s.Stage, ErrMalformed)
			}
		}
	}
	if p.Serial.Jobs != 1 || p.Cold.Jobs < 2 {
		return fmt.Errorf("the first pipeline run gated %d images at once, the one-at-a-time run %d: want several and 1: %w", p.Cold.Jobs, p.Serial.Jobs, ErrMalformed)
	}
	for _, st := range reusingStages {
		if stageOf(p.Unchanged, st).Steps == 0 {
			return fmt.Errorf("the unchanged pipeline run has no %s step: %w", st, ErrMalformed)
		}
	}
	return nil
}

// steps returns the reusing stages' steps and reused steps of r.
func steps(r pipeline.Report) (n, reused int) {
	for _, st := range reusingStages {
		s := stageOf(r, st)
		n += s.Steps
		reused += s.Reused
	}
	return n, reused
}

// redone describes, per reusing stage, what the changed run did again.
func (p *PipelineRuns) redone() string {
	var parts []string
	for _, st := range reusingStages {
		s := stageOf(p.Changed, st)
		what := "all"
		if s.Reused > 0 {
			what = "none"
			if len(s.Redone) > 0 {
				what = strings.Join(s.Redone, ", ")
			}
		}
		parts = append(parts, fmt.Sprintf("%s %d of %d (%s)", st, s.Steps-s.Reused, s.Steps, what))
	}
	return strings.Join(parts, "; ")
}

// changedImages are the images whose digest the changed run changed.
func (p *PipelineRuns) changedImages() []string {
	before := map[string]string{}
	for _, im := range p.Unchanged.Images {
		before[im.Image] = im.Digest
	}
	var out []string
	for _, im := range p.Changed.Images {
		if before[im.Image] != im.Digest {
			out = append(out, im.Image)
		}
	}
	return out
}

// rows are the pipeline's rows of the table of ratios.
func (p *PipelineRuns) rows() ([]Row, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	cold, unchanged, changed, serial := p.Cold.Timings.Seconds, p.Unchanged.Timings.Seconds, p.Changed.Timings.Seconds, p.Serial.Timings.Seconds
	n, reused := steps(p.Unchanged)
	assemble := stageOf(p.Changed, "assemble")
	changedImages := p.changedImages()
	return []Row{{
		fmt.Sprintf("example fleet pipeline, first run: %d images at once ÷ one at a time", p.Cold.Jobs),
		fmt.Sprintf("**%.2f×**", cold/serial),
		fmt.Sprintf("%.1f s with --jobs %d vs %.1f s with --jobs 1, each into empty work directories (the one-at-a-time run second, with the Nix store holding the closures)", cold, p.Cold.Jobs, serial),
	}, {
		"example fleet pipeline, unchanged re-run ÷ first run",
		fmt.Sprintf("**%.3f×**", unchanged/cold),
		fmt.Sprintf("%.1f s vs %.1f s; %d of %d build, assemble, test and SBOM steps reused; scan, publish, attest and verify done afresh", unchanged, cold, reused, n),
	}, {
		"example fleet pipeline, unchanged re-run: wall time",
		fmt.Sprintf("**%.1f s**", unchanged),
		fmt.Sprintf("%d images, %d platform images", len(p.Unchanged.Images), stageOf(p.Unchanged, "build").Steps),
	}, {
		"example fleet pipeline after one package changed (" + p.Change + "): images assembled again",
		fmt.Sprintf("**%d of %d**", assemble.Steps-assemble.Reused, assemble.Steps),
		fmt.Sprintf("%s; digests changed: %s; %.1f s (%.2f× the first run)", p.redone(), orNone(changedImages), changed, changed/cold),
	}}, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
