package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

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
}

func (s *stages) call(format string, args ...any) error {
	c := fmt.Sprintf(format, args...)
	s.calls = append(s.calls, c)
	return s.fail[c]
}

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
	o := pipeline.Options{Fleet: "clearcutt.yaml", Images: fleetImages, Destination: "registry", Builder: s, Checker: s, Publisher: s, Log: &log}
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
	// 2 images: 2+4 and 1+4 steps, each begun and ended with its time.
	for _, l := range []string{"[1/11] build python:distroless amd64\n", "[11/11] scan node:slim\n", "[11/11] scan node:slim: "} {
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
	s.fail = map[string]error{"build python:distroless amd64": context.Canceled}
	cancel()
	_, err := pipeline.Release(ctx, pipeline.Options{Images: fleetImages, Builder: s, Checker: s, Publisher: s, Signer: s, Verifier: s})
	if !errors.Is(err, context.Canceled) || len(s.calls) != 1 {
		t.Fatalf("error %v after calls %v, want context.Canceled after the first", err, s.calls)
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
