package pipeline

import (
	"context"
	"io"
	"path/filepath"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/stage"
)

// Stages are the real stages of package stage for one fleet. They
// implement Builder, Checker and Publisher. Work files go under Work:
// closures/, stage/ (the staging layout) and evidence/.
type Stages struct {
	Fleet *fleet.File
	Work  string
	// Nixpkgs replaces the locked nixpkgs input ("": the lock's).
	Nixpkgs string
	// Env is the environment nix runs in.
	Env []string
	// Cache is the compressed-layer cache directory.
	Cache string
	// SourceDateEpoch is the timestamp of the images and their SBOMs.
	SourceDateEpoch int64
	// Runc runs the smoke commands ("": smoke runs are skipped).
	Runc string
	// Scanning says how images are scanned and gated; its Evidence is Work's.
	Scanning stage.ScanOptions
	// To is the destination of Publish.
	To       string
	Progress stage.Progress
}

// Closures is the directory of closure manifests.
func (s Stages) Closures() string { return filepath.Join(s.Work, "closures") }

// Stage is the staging layout.
func (s Stages) Stage() string { return filepath.Join(s.Work, "stage") }

// Evidence is the evidence directory.
func (s Stages) Evidence() string { return filepath.Join(s.Work, "evidence") }

// Build implements Builder.
func (s Stages) Build(ctx context.Context, img fleet.Image, arch string) error {
	_, _, err := stage.Build(ctx, s.Fleet, stage.BuildOptions{Runtime: img.Runtime, Tier: img.Tier, Arch: arch, Out: s.Closures(), Nixpkgs: s.Nixpkgs, Env: s.Env, Log: io.Discard})
	return err
}

// Assemble implements Builder.
func (s Stages) Assemble(ctx context.Context, img fleet.Image, archs []string) (stage.AssembleReport, error) {
	return stage.Assemble(ctx, s.Fleet, stage.AssembleOptions{Runtime: img.Runtime, Tier: img.Tier, Archs: archs, Closures: s.Closures(), Stage: s.Stage(),
		Cache: s.Cache, SourceDateEpoch: s.SourceDateEpoch, Progress: s.Progress})
}

// Test implements Checker.
func (s Stages) Test(ctx context.Context, ref string) (stage.TestReport, error) {
	return stage.Test(ctx, s.Fleet, ref, stage.TestOptions{Evidence: s.Evidence(), Runc: s.Runc, Progress: s.Progress})
}

// SBOM implements Checker.
func (s Stages) SBOM(ctx context.Context, ref string) (stage.SBOMReport, error) {
	return stage.SBOM(ctx, s.Fleet, ref, stage.SBOMOptions{Closures: s.Closures(), Evidence: s.Evidence(), SourceDateEpoch: s.SourceDateEpoch, Progress: s.Progress})
}

// Scan implements Checker.
func (s Stages) Scan(ctx context.Context, ref string) (stage.ScanReport, error) {
	o := s.Scanning
	o.Evidence = s.Evidence()
	o.Progress = s.Progress
	return stage.Scan(ctx, s.Fleet, ref, o)
}

// Publish implements Publisher.
func (s Stages) Publish(ctx context.Context, src string, digestOnly bool) (stage.PublishReport, error) {
	return stage.Publish(ctx, s.Fleet, src, stage.PublishOptions{To: s.To, Evidence: s.Evidence(), DigestOnly: digestOnly, Progress: s.Progress})
}

// Ref implements Publisher.
func (s Stages) Ref(refName, digest string) string { return stage.PublishedRef(s.To, refName, digest) }
