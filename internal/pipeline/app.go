package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/appimage"
	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/stage"
)

// The application-image flows: an application built on a verified fleet
// base, the difference a newer base makes, and a rebase onto it. Package
// appimage makes the images; these flows open the references, verify, publish
// and sign.

// AppDestination is where an application image goes: a registry
// repository with tags, or an OCI layout whose index.json entry is named
// by the one tag.
func AppDestination(to string, tags []string) (oci.PublishOptions, error) {
	ref, err := oci.ParseRef(to)
	if err != nil {
		return oci.PublishOptions{}, outcome.Usage(fmt.Errorf("--to: %w", err))
	}
	if ref.Digest != "" {
		return oci.PublishOptions{}, outcome.Usage(fmt.Errorf("--to %s: name a repository or oci:DIR, not a digest", to))
	}
	o := oci.PublishOptions{Dest: ref, Keychain: authn.DefaultKeychain}
	if ref.IsLayout() {
		if len(tags) > 1 {
			return oci.PublishOptions{}, outcome.Usage(fmt.Errorf("--to %s: a layout entry has one name; give at most one --tag", to))
		}
		if len(tags) == 1 {
			o.RefName = tags[0]
		}
		return o, nil
	}
	o.Tags = tags
	return o, nil
}

// BuildOnlyTiers are the tiers of f that are never deployed (dev always).
func BuildOnlyTiers(f *fleet.File) []string {
	out := []string{"dev"}
	for _, t := range []string{"distroless", "slim"} {
		if !f.Tier(t).Deployable {
			out = append(out, t)
		}
	}
	return out
}

// appRefusal turns the refusals of package appimage into a failed check
// and bad input into a usage error.
func appRefusal(err error) error {
	switch {
	case errors.Is(err, appimage.ErrBaseRejected), errors.Is(err, appimage.ErrBuildOnlyBase), errors.Is(err, appimage.ErrNotFleetBase),
		errors.Is(err, appimage.ErrIncompatible), errors.Is(err, appimage.ErrNoBoundary), errors.Is(err, appimage.ErrAppSignature):
		return fmt.Errorf("%w: %w", outcome.ErrGateFailed, err)
	case errors.Is(err, appimage.ErrBadOptions), errors.Is(err, appimage.ErrBadArtifact), errors.Is(err, oci.ErrNotByDigest), errors.Is(err, oci.ErrBadRef):
		return outcome.Usage(err)
	}
	return err
}

// AppBuildOptions configure AppBuild.
type AppBuildOptions struct {
	Fleet *fleet.File
	// Base is the fleet base image index, by digest.
	Base      string
	Artifacts []appimage.Artifact
	// Dest is the directory the artifacts are placed under.
	Dest            string
	Config          appimage.Config
	SourceDateEpoch int64
	// AllowBuildOnlyBaseUnsafe builds on a tier that is never deployed.
	AllowBuildOnlyBaseUnsafe bool
	// Verifier verifies the base under the fleet's policy.
	Verifier stage.Verifier
	// Publish is where the image goes (AppDestination).
	Publish oci.PublishOptions
	// Log receives warnings (nil: none).
	Log      io.Writer
	Progress stage.Progress
}

// AppBuildReport is a built application image.
type AppBuildReport struct {
	appimage.BuildResult
	// Reference is the written index by digest; Refs every reference
	// written.
	Reference string   `json:"reference,omitempty"`
	Refs      []string `json:"refs,omitempty"`
}

// AppBuild builds an application image on a verified fleet base and
// publishes it. A refused base is outcome.ErrGateFailed.
func AppBuild(ctx context.Context, o AppBuildOptions) (AppBuildReport, error) {
	var rep AppBuildReport
	for _, a := range o.Artifacts {
		if _, err := os.Stat(a.Path); err != nil {
			return rep, outcome.Usage(fmt.Errorf("--artifact %s: %w", a.Path, err))
		}
	}
	baseRef, baseIdx, err := stage.OpenIndex(ctx, o.Base, "")
	if err != nil {
		return rep, fmt.Errorf("--base: %w", err)
	}
	work, err := os.MkdirTemp("", "clearcutt-app-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(work)
	buildOnly := BuildOnlyTiers(o.Fleet)
	res, err := appimage.Build(ctx, appimage.BuildOptions{
		Base: baseRef, BaseIndex: baseIdx, VerifyBase: o.Verifier.VerifyIndex,
		Artifacts: o.Artifacts, Dest: o.Dest, Config: o.Config, SourceDateEpoch: o.SourceDateEpoch, WorkDir: work,
		BuildOnlyTiers: buildOnly, AllowBuildOnlyBaseUnsafe: o.AllowBuildOnlyBaseUnsafe,
	})
	rep.BuildResult = res
	if err != nil {
		return rep, appRefusal(err)
	}
	if o.AllowBuildOnlyBaseUnsafe && slices.Contains(buildOnly, res.Base.Tier) && o.Log != nil {
		fmt.Fprintf(o.Log, "clearcutt: warning: built on %s, a build-time tier (--allow-dev-base-unsafe)\n", res.Base.Line())
	}
	rep.Reference, rep.Refs, err = publishApp(ctx, res.Index, o.Publish, o.Progress, "app build")
	return rep, err
}

// AppDiffOptions configure AppDiff.
type AppDiffOptions struct {
	// App is the application image index, by digest; Candidate the newer
	// fleet base.
	App, Candidate string
	// Verifier verifies both bases under the fleet's policy.
	Verifier stage.Verifier
}

// AppDiff says what moving the application image to the candidate base
// changes, from the verified evidence of its current base and the
// candidate. A refused base is outcome.ErrGateFailed.
func AppDiff(ctx context.Context, o AppDiffOptions) (appimage.DiffReport, error) {
	appRef, appIdx, err := stage.OpenIndex(ctx, o.App, "")
	if err != nil {
		return appimage.DiffReport{}, err
	}
	candRef, candIdx, err := stage.OpenIndex(ctx, o.Candidate, "")
	if err != nil {
		return appimage.DiffReport{}, fmt.Errorf("--candidate: %w", err)
	}
	current, err := appimage.CurrentBase(appRef, appIdx)
	if err != nil {
		return appimage.DiffReport{}, appRefusal(err)
	}
	curRef, curIdx, err := stage.OpenIndex(ctx, current, "")
	if err != nil {
		return appimage.DiffReport{}, fmt.Errorf("the base %s is built on: %w", appRef, err)
	}
	rep, err := appimage.DiffBase(ctx, appimage.DiffOptions{
		App: appRef, AppIndex: appIdx, Current: curRef, CurrentIndex: curIdx,
		Candidate: candRef, CandidateIndex: candIdx, Verify: o.Verifier.VerifyIndex,
	})
	if err != nil {
		return rep, appRefusal(err)
	}
	return rep, nil
}

// AppRebaseOptions configure AppRebase.
type AppRebaseOptions struct {
	Fleet *fleet.File
	// App is the application image index, by digest; Onto the newer fleet
	// base.
	App, Onto string
	// AppVerifier verifies the application's own signature, BaseVerifier
	// the new base under the fleet's policy.
	AppVerifier, BaseVerifier stage.Verifier
	// NewSigner makes the signer of the rebased image, under the
	// application repository's own identity, once both references are
	// opened.
	NewSigner                func() (attest.Signer, error)
	AllowBuildOnlyBaseUnsafe bool
	// Publish is where the image goes (AppDestination).
	Publish  oci.PublishOptions
	Progress stage.Progress
}

// AppRebaseReport is a rebased application image and its signatures.
type AppRebaseReport struct {
	appimage.RebaseResult
	Reference string            `json:"reference,omitempty"`
	Refs      []string          `json:"refs,omitempty"`
	Attached  []attest.Attached `json:"attached,omitempty"`
}

// AppRebase moves a signed application image onto a newer verified base
// without rebuilding it, publishes it and signs the rebase. A refused
// image or base is outcome.ErrGateFailed.
func AppRebase(ctx context.Context, o AppRebaseOptions) (AppRebaseReport, error) {
	var rep AppRebaseReport
	appRef, appIdx, err := stage.OpenIndex(ctx, o.App, "")
	if err != nil {
		return rep, err
	}
	ontoRef, ontoIdx, err := stage.OpenIndex(ctx, o.Onto, "")
	if err != nil {
		return rep, fmt.Errorf("--onto: %w", err)
	}
	signer, err := o.NewSigner()
	if err != nil {
		return rep, err
	}
	res, err := appimage.Rebase(ctx, appimage.RebaseOptions{
		App: appRef, AppIndex: appIdx, VerifyApp: o.AppVerifier.VerifyIndex,
		Onto: ontoRef, OntoIndex: ontoIdx, VerifyBase: o.BaseVerifier.VerifyIndex,
		BuildOnlyTiers: BuildOnlyTiers(o.Fleet), AllowBuildOnlyBaseUnsafe: o.AllowBuildOnlyBaseUnsafe,
	})
	rep.RebaseResult = res
	if err != nil {
		return rep, appRefusal(err)
	}
	if rep.Reference, rep.Refs, err = publishApp(ctx, res.Index, o.Publish, o.Progress, "app rebase"); err != nil {
		return rep, err
	}
	written, err := oci.RequireDigest(rep.Reference)
	if err != nil {
		return rep, err
	}
	store, err := attest.Open(written, attest.StoreOptions{Keychain: o.Publish.Keychain, Created: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return rep, err
	}
	name := ""
	if !written.IsLayout() {
		name = written.Repo.String()
	}
	rep.Attached, err = appimage.SignRebase(ctx, store, signer, name, res)
	if err != nil {
		return rep, fmt.Errorf("%s was written but not signed: %w", rep.Reference, err)
	}
	return rep, nil
}

// publishApp publishes idx with pub and returns the reference by digest
// and every reference written.
func publishApp(ctx context.Context, idx v1.ImageIndex, pub oci.PublishOptions, p stage.Progress, what string) (string, []string, error) {
	update, done := stage.ProgressOf(p).Status(what)
	pub.Progress = stage.Events(update)
	pr, err := oci.PublishIndex(ctx, idx, pub)
	done()
	if err != nil {
		return "", nil, err
	}
	return pr.Refs[0], pr.Refs, nil
}
