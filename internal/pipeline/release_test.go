package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
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

// stages is a Builder, Checker, Publisher, Signer and Verifier that
// records every call and fails where told to.
type stages struct {
	calls []string
	// fail maps a call ("build python:slim amd64", "test python:slim",
	// "verify python:slim", ...) to its error; a gate named in failGate
	// fails without an error.
	fail     map[string]error
	failGate map[string]bool
	// retag publishes another digest when the tags move.
	retag bool
	// clock is the release's time: each call takes a second, or what took
	// says.
	clock time.Time
	took  map[string]time.Duration
	// hook, when set, is called with every call as it is made.
	hook func(call string)
}

func (s *stages) call(format string, args ...any) error {
	c := fmt.Sprintf(format, args...)
	s.calls = append(s.calls, c)
	if s.hook != nil {
		s.hook(c)
	}
	d, ok := s.took[c]
	if !ok {
		d = time.Second
	}
	s.clock = s.clock.Add(d)
	return s.fail[c]
}

func (s *stages) now() time.Time { return s.clock }

func image(ref string) string {
	return strings.TrimSuffix(strings.TrimPrefix(ref, "oci:stage@sha256:"), "-index")
}

func (s *stages) Build(_ context.Context, img fleet.Image, arch string) error {
	return s.call("build %s %s", img.RefName, arch)
}

func (s *stages) Assemble(_ context.Context, img fleet.Image, archs []string) (stage.AssembleReport, error) {
	err := s.call("assemble %s %s", img.RefName, strings.Join(archs, ","))
	return stage.AssembleReport{Image: img.RefName, Reference: "oci:stage@sha256:" + img.RefName + "-index", Digest: "sha256:" + img.RefName}, err
}

func (s *stages) Test(_ context.Context, ref string) (stage.TestReport, error) {
	err := s.call("test %s", image(ref))
	return stage.TestReport{Image: image(ref), Passed: !s.failGate["test "+image(ref)]}, err
}

func (s *stages) SBOM(_ context.Context, ref string) (stage.SBOMReport, error) {
	return stage.SBOMReport{Image: image(ref)}, s.call("sbom %s", image(ref))
}

func (s *stages) Scan(_ context.Context, ref string) (stage.ScanReport, error) {
	err := s.call("scan %s", image(ref))
	return stage.ScanReport{Image: image(ref), Pass: !s.failGate["scan "+image(ref)]}, err
}

func (s *stages) Publish(_ context.Context, src string, digestOnly bool) (stage.PublishReport, error) {
	what := "tag"
	if digestOnly {
		what = "publish"
	}
	err := s.call("%s %s", what, image(src))
	d := "sha256:" + image(src)
	if s.retag && !digestOnly {
		d += "-other"
	}
	return stage.PublishReport{Image: image(src), Digest: d}, err
}

func (s *stages) Ref(refName, digest string) string { return "registry/" + refName + "@" + digest }

func published(ref string) string {
	return strings.TrimPrefix(ref[:strings.Index(ref, "@")], "registry/")
}

func (s *stages) Sign(_ context.Context, ref string) (attest.Result, error) {
	return attest.Result{}, s.call("sign %s", published(ref))
}

func (s *stages) Verify(_ context.Context, ref string) (verify.Report, error) {
	err := s.call("verify %s", published(ref))
	st := verify.StatusVerified
	if s.failGate["verify "+published(ref)] {
		st = verify.StatusFailed
	}
	return verify.Report{Channels: []verify.ChannelReport{{Channel: verify.ChannelSignature, Required: true, Status: st}}}, err
}

var fleetImages = []fleet.Image{
	{Runtime: "python", Tier: "distroless", RefName: "python:distroless", Architectures: []string{"amd64", "arm64"}},
	{Runtime: "node", Tier: "slim", RefName: "node:slim", Architectures: []string{"amd64"}},
}

func release(t *testing.T, s *stages, signed bool) (pipeline.Report, error, string) {
	t.Helper()
	var log bytes.Buffer
	o := pipeline.Options{Fleet: "clearcutt.yaml", Images: fleetImages, Destination: "registry", Builder: s, Checker: s, Publisher: s, Log: &log, Now: s.now}
	if signed {
		o.Signer, o.Verifier = s, s
	}
	rep, err := pipeline.Release(context.Background(), o)
	return rep, err, log.String()
}

func gated(img, archs string) []string {
	var out []string
	for _, a := range strings.Split(archs, ",") {
		out = append(out, "build "+img+" "+a)
	}
	return append(out, "assemble "+img+" "+archs, "test "+img, "sbom "+img, "scan "+img)
}

func concat(xs ...[]string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x...)
	}
	return out
}

func TestReleasePublishesVerifiesThenTags(t *testing.T) {
	s := &stages{}
	rep, err, log := release(t, s, true)
	if err != nil {
		t.Fatal(err)
	}
	want := concat(gated("python:distroless", "amd64,arm64"), gated("node:slim", "amd64"),
		[]string{"publish python:distroless", "publish node:slim",
			"sign python:distroless", "verify python:distroless", "sign node:slim", "verify node:slim",
			"tag python:distroless", "tag node:slim"})
	if d := cmp.Diff(want, s.calls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	if !rep.Passed || !rep.Published || !rep.Verified || !rep.Tagged || rep.Fleet != "clearcutt.yaml" {
		t.Errorf("report %+v: want passed, published, verified and tagged", rep)
	}
	if got := rep.Images[1].Published; got != "registry/node:slim@sha256:node:slim" {
		t.Errorf("published reference %q, want the by-digest reference of the publisher", got)
	}
	// 2 images: 2+4 and 1+4 gate steps, then publish, attest, verify and
	// tag each; every step begun and ended with its time.
	for _, l := range []string{"[1/19] build python:distroless amd64\n", "[11/19] scan node:slim\n", "[11/19] scan node:slim  1.0s\n", "[19/19] tag node:slim  1.0s\n"} {
		if !strings.Contains(log, l) {
			t.Errorf("log lacks %q:\n%s", l, log)
		}
	}
}

func TestReleasePublishesNothingWhenAGateFails(t *testing.T) {
	for _, gate := range []string{"test python:distroless", "scan python:distroless"} {
		t.Run(gate, func(t *testing.T) {
			s := &stages{failGate: map[string]bool{gate: true}}
			rep, err, _ := release(t, s, true)
			if !errors.Is(err, outcome.ErrGateFailed) {
				t.Fatalf("error %v, want one wrapping outcome.ErrGateFailed", err)
			}
			for _, c := range s.calls {
				if strings.HasPrefix(c, "publish") || strings.HasPrefix(c, "tag") || strings.HasPrefix(c, "sign") {
					t.Errorf("%s after a failed gate", c)
				}
			}
			// The other image is still gated: one run reports every problem.
			if !contains(s.calls, "scan node:slim") {
				t.Errorf("node:slim was not gated after python's gate failed: %v", s.calls)
			}
			if rep.Passed || rep.Published || rep.Tagged || rep.Images[0].Error == "" || rep.Images[1].Error != "" {
				t.Errorf("report %+v: want failed, unpublished, the error on python only", rep)
			}
		})
	}
}

func TestReleaseGoesOnAfterABuildFailure(t *testing.T) {
	s := &stages{fail: map[string]error{"build python:distroless arm64": errors.New("nix build failed")}}
	rep, err, _ := release(t, s, true)
	if !errors.Is(err, outcome.ErrGateFailed) {
		t.Fatalf("error %v, want outcome.ErrGateFailed (nothing published)", err)
	}
	if contains(s.calls, "assemble python:distroless amd64,arm64") || !contains(s.calls, "scan node:slim") {
		t.Errorf("calls %v: want python stopped at its build and node gated", s.calls)
	}
	if !strings.Contains(rep.Images[0].Error, "nix build failed") {
		t.Errorf("python error %q, want the build's", rep.Images[0].Error)
	}
}

func TestReleaseStopsAtAUsageError(t *testing.T) {
	s := &stages{fail: map[string]error{"test python:distroless": outcome.Usage(errors.New("label names no runtime"))}}
	_, err, _ := release(t, s, true)
	if !outcome.IsUsage(err) {
		t.Fatalf("error %v, want a usage error", err)
	}
	if contains(s.calls, "build node:slim amd64") {
		t.Errorf("node:slim built after a usage error: %v", s.calls)
	}
}

func TestReleaseStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &stages{}
	s.hook = func(c string) {
		if c == "build python:distroless amd64" {
			cancel()
		}
	}
	s.fail = map[string]error{"build python:distroless amd64": context.Canceled}
	_, err := pipeline.Release(ctx, pipeline.Options{Images: fleetImages, Builder: s, Checker: s, Publisher: s, Signer: s, Verifier: s})
	if !errors.Is(err, context.Canceled) || len(s.calls) != 1 {
		t.Fatalf("error %v after calls %v, want context.Canceled after the first", err, s.calls)
	}
	// A context that ended before the run starts no image.
	s = &stages{}
	_, err = pipeline.Release(ctx, pipeline.Options{Images: fleetImages, Builder: s, Checker: s, Publisher: s, Signer: s, Verifier: s})
	if !errors.Is(err, context.Canceled) || len(s.calls) != 0 {
		t.Fatalf("error %v after calls %v, want context.Canceled and no call", err, s.calls)
	}
}

func TestReleaseMovesNoTagUnlessEveryImageVerified(t *testing.T) {
	s := &stages{failGate: map[string]bool{"verify node:slim": true}}
	rep, err, _ := release(t, s, true)
	if !errors.Is(err, outcome.ErrGateFailed) {
		t.Fatalf("error %v, want outcome.ErrGateFailed", err)
	}
	for _, c := range s.calls {
		if strings.HasPrefix(c, "tag") {
			t.Errorf("%s although node:slim failed verification", c)
		}
	}
	if !rep.Published || rep.Verified || rep.Tagged || rep.Images[1].Error == "" || rep.Images[1].Verify == nil {
		t.Errorf("report %+v: want published by digest, not verified, not tagged", rep)
	}
}

func TestReleaseRefusesToTagAnotherDigest(t *testing.T) {
	s := &stages{retag: true}
	rep, err, _ := release(t, s, true)
	if !errors.Is(err, pipeline.ErrDigestChanged) || !strings.Contains(err.Error(), "not the verified sha256:python:distroless") {
		t.Fatalf("error %v, want the tag refused for another digest", err)
	}
	if rep.Tagged {
		t.Error("report says tagged")
	}
}

func TestUnsignedReleaseTagsAtOnce(t *testing.T) {
	s := &stages{}
	rep, err, _ := release(t, s, false)
	if err != nil {
		t.Fatal(err)
	}
	want := concat(gated("python:distroless", "amd64,arm64"), gated("node:slim", "amd64"), []string{"tag python:distroless", "tag node:slim"})
	if d := cmp.Diff(want, s.calls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	if !rep.Tagged || rep.Verified {
		t.Errorf("report %+v: want tagged, not verified", rep)
	}
}

func TestSelect(t *testing.T) {
	f := &fleet.File{Path: "clearcutt.yaml"}
	if _, err := pipeline.Select(f, []string{"ruby"}); !outcome.IsUsage(err) || !strings.Contains(err.Error(), "--only ruby matches no image of clearcutt.yaml") {
		t.Errorf("Select(ruby) = %v, want a usage error naming the flag and the file", err)
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// stageOf is the stage of a recorded call: its first word (the fake
// records the publish that moves the tags as "tag"), "attest" for a
// signature.
func stageOf(call string) string {
	if w := strings.Fields(call)[0]; w != "sign" {
		return w
	}
	return "attest"
}

// timed is what the timings say of each stage: steps, reused, seconds.
func timed(t pipeline.Timings) map[string][3]float64 {
	out := map[string][3]float64{}
	for _, st := range t.Stages {
		out[st.Stage] = [3]float64{float64(st.Steps), float64(st.Reused), st.Seconds}
	}
	return out
}

func TestReleaseTimesEveryStage(t *testing.T) {
	s := &stages{took: map[string]time.Duration{"build python:distroless arm64": 5 * time.Second, "sbom node:slim": 3 * time.Second}}
	rep, err, _ := release(t, s, true)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, st := range rep.Timings.Stages {
		order = append(order, st.Stage)
	}
	if d := cmp.Diff([]string{"build", "assemble", "test", "sbom", "scan", "publish", "attest", "verify", "tag"}, order); d != "" {
		t.Errorf("stages (-want +got):\n%s", d)
	}
	// The steps of each stage are the calls made to it, and each took
	// what the fake clock says.
	want := map[string][3]float64{}
	for _, c := range s.calls {
		w := want[stageOf(c)]
		d, ok := s.took[c]
		if !ok {
			d = time.Second
		}
		want[stageOf(c)] = [3]float64{w[0] + 1, 0, w[2] + d.Seconds()}
	}
	if d := cmp.Diff(want, timed(rep.Timings)); d != "" {
		t.Errorf("timings (-want +got):\n%s", d)
	}
	longest := map[string]pipeline.StepTiming{}
	sum := 0.0
	for _, st := range rep.Timings.Stages {
		longest[st.Stage] = st.Longest
		sum += st.Seconds
	}
	if l := longest["build"]; l != (pipeline.StepTiming{Subject: "python:distroless arm64", Seconds: 5}) {
		t.Errorf("longest build %+v, want python:distroless arm64 (5s)", l)
	}
	if l := longest["sbom"]; l.Subject != "node:slim" {
		t.Errorf("longest sbom %+v, want node:slim", l)
	}
	if l := longest["tag"]; l.Subject != "python:distroless" {
		t.Errorf("longest tag %+v, want the first of equal steps, python:distroless", l)
	}
	// Nothing but the steps advanced the clock: the run's wall time is
	// their sum, and the report's time is the timings'.
	if rep.Timings.Seconds != sum || rep.Seconds != rep.Timings.Seconds {
		t.Errorf("run %.1fs, timings %.1fs, stages' sum %.1fs: want all equal", rep.Seconds, rep.Timings.Seconds, sum)
	}
}

func TestReleaseTimesOnlyTheStepsRun(t *testing.T) {
	s := &stages{failGate: map[string]bool{"test python:distroless": true}}
	rep, _, log := release(t, s, true)
	n := map[string]int{}
	for _, c := range s.calls {
		n[stageOf(c)]++
	}
	got := map[string]int{}
	for _, st := range rep.Timings.Stages {
		got[st.Stage] = st.Steps
	}
	if d := cmp.Diff(n, got); d != "" {
		t.Errorf("steps per stage (-calls +timings):\n%s", d)
	}
	if _, ok := got["publish"]; ok {
		t.Error("publish timed although nothing was published")
	}
	// The failed test step is ended with its time too.
	if !strings.Contains(log, "[4/19] test python:distroless  1.0s\n") {
		t.Errorf("log lacks the failed step's time:\n%s", log)
	}
}

func TestReleaseStepLinesEndWithTheirDuration(t *testing.T) {
	s := &stages{}
	_, err, log := release(t, s, false)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	if len(lines) != 2*len(s.calls) {
		t.Fatalf("%d log lines for %d steps, want a begin and an end line each:\n%s", len(lines), len(s.calls), log)
	}
	// Unsigned: 11 gate steps and 2 publishes (with the tags).
	end := regexp.MustCompile(`^\[(\d+)/13\] (\S+ \S+(?: \S+)?)  [0-9]+\.[0-9]s$`)
	for i := 0; i < len(lines); i += 2 {
		begin := fmt.Sprintf("[%d/13] ", i/2+1)
		if !strings.HasPrefix(lines[i], begin) || end.MatchString(lines[i]) {
			t.Errorf("line %d %q, want the start of step %d without a duration", i, lines[i], i/2+1)
		}
		if m := end.FindStringSubmatch(lines[i+1]); m == nil || lines[i+1][:len(lines[i])] != lines[i] {
			t.Errorf("line %d %q, want %q ended with its duration", i+1, lines[i+1], lines[i])
		}
	}
}

func TestStepsCountReusedSteps(t *testing.T) {
	var log bytes.Buffer
	clock := time.Unix(0, 0)
	steps := pipeline.NewSteps(&log, 4, func() time.Time { clock = clock.Add(time.Second); return clock })
	steps.Begin("assemble", "python:slim")
	steps.Reuse()
	steps.Begin("assemble", "node:slim")
	steps.Begin("scan", "python:slim")
	steps.Begin("scan", "node:slim")
	steps.End()
	tm := steps.Timings()
	if len(tm.Stages) != 2 || tm.Stages[0].Steps != 2 || tm.Stages[0].Reused != 1 {
		t.Errorf("timings %+v, want 2 assemble steps, 1 reused", tm)
	}
	// Redone names what a stage did again, only where it reused something.
	if got := tm.Stages[0].Redone; len(got) != 1 || got[0] != "node:slim" {
		t.Errorf("assemble redone %q, want [node:slim]", got)
	}
	if got := tm.Stages[1].Redone; got != nil {
		t.Errorf("scan, which reused nothing, lists redone %q", got)
	}
	if !strings.Contains(log.String(), "[1/4] assemble python:slim  1.0s, reused\n") || strings.Contains(log.String(), "node:slim  1.0s, reused") {
		t.Errorf("log marks the wrong step reused:\n%s", log.String())
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0.0s", 2345 * time.Millisecond: "2.3s", 59 * time.Second: "59.0s",
		245*time.Second + 400*time.Millisecond: "4m5s", 2*time.Hour + 3*time.Second: "2h0m3s"} {
		if got := pipeline.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
