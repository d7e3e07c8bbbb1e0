// Package pipeline chains the stages of a release: build, assemble, the
// gates (tier tests, SBOM, vulnerability scan), publish by digest, sign
// and attach the evidence, verify every channel, and only then move the
// tags. The stages are reached through small interfaces — a Builder, a
// Checker, a Publisher, a Signer and a Verifier — so that the flow itself
// is tested without Nix, registries or Sigstore. The real ones are Stages
// (stages.go: build, assemble, the gates and publish) and package stage's
// Attester and Verifier.
//
// GateImage is the part of the flow every image goes through before
// anything is published; the remediation draft uses it to rebuild and gate
// a changed fleet.
package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// Builder builds the closures of one image for the given architectures and
// assembles them into an index in the staging layout.
type Builder interface {
	Build(ctx context.Context, img fleet.Image, arch string) error
	Assemble(ctx context.Context, img fleet.Image, archs []string) (stage.AssembleReport, error)
}

// Checker runs the gates of an assembled index, named by digest.
type Checker interface {
	Test(ctx context.Context, ref string) (stage.TestReport, error)
	SBOM(ctx context.Context, ref string) (stage.SBOMReport, error)
	Scan(ctx context.Context, ref string) (stage.ScanReport, error)
}

// Publisher copies a gated index from the staging layout to the
// destination: by digest only, or with its tags (layout name).
type Publisher interface {
	Publish(ctx context.Context, src string, digestOnly bool) (stage.PublishReport, error)
	// Ref is the by-digest reference of the published image refName.
	Ref(refName, digest string) string
}

// Signer signs a published index and attaches its evidence.
type Signer interface {
	Sign(ctx context.Context, ref string) (attest.Result, error)
}

// Verifier verifies every evidence channel of a published index.
type Verifier interface {
	Verify(ctx context.Context, ref string) (verify.Report, error)
}

// Image is one image's way through the release. Its JSON is the
// pipeline's report format.
type Image struct {
	Image     string                `json:"image"`
	Reference string                `json:"reference,omitempty"`
	Digest    string                `json:"digest,omitempty"`
	Assemble  *stage.AssembleReport `json:"assemble,omitempty"`
	Test      *stage.TestReport     `json:"test,omitempty"`
	SBOM      *stage.SBOMReport     `json:"sbom,omitempty"`
	Scan      *stage.ScanReport     `json:"scan,omitempty"`
	Publish   *stage.PublishReport  `json:"publish,omitempty"`
	Published string                `json:"published,omitempty"`
	Attest    *attest.Result        `json:"attest,omitempty"`
	Verify    *verify.Report        `json:"verify,omitempty"`
	Error     string                `json:"error,omitempty"`
}

// GateSteps is the number of steps GateImage takes for an image of n
// architectures.
func GateSteps(n int) int { return n + 4 }

// GateImage builds img for archs, assembles it and runs its gates in
// order: tier tests, SBOM, scan. It stops at the first failed gate with an
// error wrapping outcome.ErrGateFailed that names the failed checks; the
// result holds every report made until then. Its steps run on a lane of
// their own of steps, so several images can be gated at once when b and c
// allow it.
func GateImage(ctx context.Context, b Builder, c Checker, img fleet.Image, archs []string, steps *Steps) (Image, error) {
	lane := steps.Lane()
	ctx = withSteps(ctx, lane)
	res := Image{Image: img.RefName}
	defer lane.End()
	for _, arch := range archs {
		lane.Begin("build", img.RefName+" "+arch)
		if err := b.Build(ctx, img, arch); err != nil {
			return res, err
		}
	}
	lane.Begin("assemble", img.RefName)
	ar, err := b.Assemble(ctx, img, archs)
	if err != nil {
		return res, err
	}
	res.Assemble, res.Reference, res.Digest = &ar, ar.Reference, ar.Digest
	lane.Begin("test", img.RefName)
	tr, err := c.Test(ctx, ar.Reference)
	if err != nil {
		return res, err
	}
	res.Test = &tr
	if !tr.Passed {
		return res, fmt.Errorf("%w: %s", outcome.ErrGateFailed, tr.FailedChecks())
	}
	lane.Begin("sbom", img.RefName)
	sr, err := c.SBOM(ctx, ar.Reference)
	if err != nil {
		return res, err
	}
	res.SBOM = &sr
	lane.Begin("scan", img.RefName)
	vr, err := c.Scan(ctx, ar.Reference)
	if err != nil {
		return res, err
	}
	res.Scan = &vr
	if !vr.Pass {
		return res, fmt.Errorf("%w: vulnerability gate: %s", outcome.ErrGateFailed, vr.Reasons())
	}
	return res, nil
}

// imageProblem reports errors specific to one image (its build, assembly
// or a gate failed) after which the other images are still worth gating.
func imageProblem(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !outcome.IsUsage(err) && !errors.Is(err, context.Canceled)
}
