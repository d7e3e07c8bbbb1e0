package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// parallelStages is the recording fake of release_test.go made safe for
// concurrent use. Every image's first build waits until together blocks
// of images are in flight at once (or the run could not start more), so a
// run that gates images one after another cannot pass for one that gates
// them together.
type parallelStages struct {
	mu       sync.Mutex
	inner    *stages
	inFlight map[string]bool // images between their first build and their scan
	most     int
	together int
	arrived  chan struct{}
	once     sync.Once
	// holdTest names images whose test waits until the run is cancelled.
	holdTest map[string]bool
}

func newParallelStages(together int) *parallelStages {
	return &parallelStages{inner: &stages{}, inFlight: map[string]bool{}, together: together, arrived: make(chan struct{})}
}

func (p *parallelStages) call(format string, args ...any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inner.call(format, args...)
}

func (p *parallelStages) calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.inner.calls)
}

func (p *parallelStages) Build(ctx context.Context, img fleet.Image, arch string) error {
	p.mu.Lock()
	first := !p.inFlight[img.RefName]
	p.inFlight[img.RefName] = true
	p.most = max(p.most, len(p.inFlight))
	full := len(p.inFlight) == p.together
	p.mu.Unlock()
	if first && full {
		p.once.Do(func() { close(p.arrived) })
	}
	if first {
		select {
		case <-p.arrived:
		case <-ctx.Done():
		case <-time.After(20 * time.Second):
			return fmt.Errorf("%s: no other image was gated at the same time", img.RefName)
		}
	}
	return p.call("build %s %s", img.RefName, arch)
}

func (p *parallelStages) Assemble(_ context.Context, img fleet.Image, archs []string) (stage.AssembleReport, error) {
	err := p.call("assemble %s %s", img.RefName, strings.Join(archs, ","))
	return stage.AssembleReport{Image: img.RefName, Reference: "oci:stage@sha256:" + img.RefName + "-index", Digest: "sha256:" + img.RefName}, err
}

func (p *parallelStages) Test(ctx context.Context, ref string) (stage.TestReport, error) {
	if p.holdTest[image(ref)] {
		select {
		case <-ctx.Done():
			return stage.TestReport{}, ctx.Err()
		case <-time.After(20 * time.Second):
			return stage.TestReport{}, fmt.Errorf("%s: the run was not cancelled", image(ref))
		}
	}
	p.mu.Lock()
	r, err := p.inner.Test(ctx, ref)
	p.mu.Unlock()
	return r, err
}

func (p *parallelStages) SBOM(ctx context.Context, ref string) (stage.SBOMReport, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inner.SBOM(ctx, ref)
}

func (p *parallelStages) Scan(ctx context.Context, ref string) (stage.ScanReport, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.inFlight, image(ref))
	return p.inner.Scan(ctx, ref)
}

func (p *parallelStages) Publish(ctx context.Context, src string, digestOnly bool) (stage.PublishReport, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inner.Publish(ctx, src, digestOnly)
}

func (p *parallelStages) Ref(refName, digest string) string { return p.inner.Ref(refName, digest) }

func (p *parallelStages) Sign(ctx context.Context, ref string) (attest.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inner.Sign(ctx, ref)
}

func (p *parallelStages) Verify(ctx context.Context, ref string) (verify.Report, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inner.Verify(ctx, ref)
}

var fourImages = []fleet.Image{
	{Runtime: "python", Tier: "distroless", RefName: "python:distroless", Architectures: []string{"amd64", "arm64"}},
	{Runtime: "python", Tier: "slim", RefName: "python:slim", Architectures: []string{"amd64", "arm64"}},
	{Runtime: "node", Tier: "slim", RefName: "node:slim", Architectures: []string{"amd64"}},
	{Runtime: "java", Tier: "dev", RefName: "java:dev", Architectures: []string{"arm64"}},
}

func releaseJobs(t *testing.T, p *parallelStages, jobs int) (pipeline.Report, error, string) {
	t.Helper()
	var log syncBuffer
	rep, err := pipeline.Release(context.Background(), pipeline.Options{Fleet: "clearcutt.yaml", Images: fourImages, Destination: "registry",
		Builder: p, Checker: p, Publisher: p, Signer: p, Verifier: p, Log: &log, Jobs: jobs})
	return rep, err, log.String()
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestReleaseGatesUpToJobsImagesAtOnce(t *testing.T) {
	p := newParallelStages(2)
	rep, err, log := releaseJobs(t, p, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.most != 2 {
		t.Errorf("at most %d images gated at once, want 2 (Jobs)", p.most)
	}
	// Each image went through its gates in order, whatever the others did.
	calls := p.calls()
	for _, img := range fourImages {
		var mine []string
		for _, c := range calls {
			if f := strings.Fields(c); len(f) > 1 && f[1] == img.RefName && slices.Contains([]string{"build", "assemble", "test", "sbom", "scan"}, f[0]) {
				mine = append(mine, c)
			}
		}
		if d := cmp.Diff(gated(img.RefName, strings.Join(img.Architectures, ",")), mine); d != "" {
			t.Errorf("%s gate calls (-want +got):\n%s", img.RefName, d)
		}
	}
	// Publishing, signing, verification and tagging come after every
	// gate, in fleet order.
	var rest []string
	for _, w := range []string{"publish", "sign", "tag"} {
		for _, img := range fourImages {
			rest = append(rest, w+" "+img.RefName)
			if w == "sign" {
				rest = append(rest, "verify "+img.RefName)
			}
		}
	}
	if d := cmp.Diff(rest, calls[len(calls)-len(rest):]); d != "" {
		t.Errorf("calls after the gates (-want +got):\n%s", d)
	}
	var order []string
	for _, im := range rep.Images {
		order = append(order, im.Image)
	}
	if d := cmp.Diff([]string{"python:distroless", "python:slim", "node:slim", "java:dev"}, order); d != "" {
		t.Errorf("report's images (-want +got):\n%s", d)
	}
	if !rep.Passed || !rep.Tagged {
		t.Errorf("report %+v: want passed and tagged", rep)
	}
	// Every step is numbered once, begun and ended on a line of its own.
	total := 0
	for _, img := range fourImages {
		total += pipeline.GateSteps(len(img.Architectures)) + 4
	}
	begun, ended := map[string]string{}, map[string]string{}
	line := regexp.MustCompile(fmt.Sprintf(`^\[(\d+)/%d\] (\S+ \S+(?: \S+)?)(  [0-9.]+s)?$`, total))
	for _, l := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("log line %q is not a step line:\n%s", l, log)
		}
		into := begun
		if m[3] != "" {
			into = ended
		}
		if _, dup := into[m[1]]; dup {
			t.Fatalf("step %s logged twice:\n%s", m[1], log)
		}
		into[m[1]] = m[2]
	}
	if len(begun) != total || !cmp.Equal(begun, ended) {
		t.Errorf("%d steps begun, %d ended, want %d each with the same subjects:\n%s", len(begun), len(ended), total, log)
	}
	steps := 0
	for _, st := range rep.Timings.Stages {
		steps += st.Steps
	}
	if steps != total {
		t.Errorf("timings count %d steps, want %d", steps, total)
	}
}

func TestReleaseWithJobsGatesEveryImageDespiteAFailedGate(t *testing.T) {
	p := newParallelStages(2)
	p.inner.failGate = map[string]bool{"test python:distroless": true}
	rep, err, _ := releaseJobs(t, p, 2)
	if !errors.Is(err, outcome.ErrGateFailed) {
		t.Fatalf("error %v, want a failed gate", err)
	}
	if len(rep.Images) != 4 || rep.Passed || rep.Published {
		t.Fatalf("report %+v: want all 4 images gated, none published", rep)
	}
	for _, im := range rep.Images {
		if failed := im.Error != ""; failed != (im.Image == "python:distroless") {
			t.Errorf("%s error %q: only python:distroless failed", im.Image, im.Error)
		}
	}
	if slices.ContainsFunc(p.calls(), func(c string) bool { return strings.HasPrefix(c, "publish ") }) {
		t.Errorf("published after a failed gate: %v", p.calls())
	}
}

func TestReleaseWithJobsStopsAtAUsageError(t *testing.T) {
	p := newParallelStages(2)
	p.inner.fail = map[string]error{"assemble python:distroless amd64,arm64": outcome.Usage(errors.New("label names no runtime"))}
	// python:slim holds its slot until the run is cancelled: no other
	// image can start before the usage error, and none may after it.
	p.holdTest = map[string]bool{"python:slim": true}
	rep, err, _ := releaseJobs(t, p, 2)
	if !outcome.IsUsage(err) {
		t.Fatalf("error %v, want the usage error", err)
	}
	for _, c := range p.calls() {
		if strings.Contains(c, "node:slim") || strings.Contains(c, "java:dev") {
			t.Errorf("%q: an image was started after the usage error", c)
		}
	}
	if len(rep.Images) != 2 || !strings.Contains(rep.Images[0].Error, "label names no runtime") || !strings.Contains(rep.Images[1].Error, "canceled") {
		t.Errorf("report images %+v: want the two started, the first failed, the second cancelled", rep.Images)
	}
}
