package stage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/sbom"
)

// SBOMFile is the evidence file name of a platform's SPDX document.
const SBOMFile = "sbom.spdx.json"

// SBOMOptions says where an SBOM's inputs and evidence are.
type SBOMOptions struct {
	// Closures is the directory of closure manifests written by Build.
	Closures string
	// Evidence is the directory the documents are written to.
	Evidence string
	// Name is the image name the document records ("": the fleet's
	// <repository>:<tier>, else the registry reference's repository).
	Name string
	// NoClosure catalogs the image with Syft only: for an image ClearCutt
	// did not build.
	NoClosure bool
	// SourceDateEpoch is the document's creation time (see
	// SourceDateEpoch).
	SourceDateEpoch int64
	Progress        Progress
}

// SBOMReport is the SBOMs of every platform of an image index.
type SBOMReport struct {
	Image     string         `json:"image"`
	Reference string         `json:"reference"`
	Platforms []SBOMPlatform `json:"platforms"`
}

// SBOMPlatform is one platform's SBOM.
type SBOMPlatform struct {
	sbom.Result
	// Closure is the closure manifest used ("" with NoClosure).
	Closure string `json:"closure,omitempty"`
	// File is the SBOM written.
	File string `json:"file"`
}

// SBOM writes the SPDX 2.3 SBOM of every platform image of the index ref
// names, enriched from its Nix closure manifest (found from the image
// labels). Every document is made before any is written: a failing
// platform leaves the evidence directory as it was. f may be nil with
// NoClosure.
func SBOM(ctx context.Context, f *fleet.File, refStr string, o SBOMOptions) (SBOMReport, error) {
	ref, idx, err := OpenIndex(ctx, refStr, "")
	if err != nil {
		return SBOMReport{}, err
	}
	plats, err := PlatformImages(ref, idx)
	if err != nil {
		return SBOMReport{}, err
	}
	prog := ProgressOf(o.Progress)
	rep := SBOMReport{Reference: ref.String()}
	for _, p := range plats {
		d := p.Desc
		rtID, tier := p.Config.Config.Labels[oci.LabelRuntime], p.Config.Config.Labels[oci.LabelTier]
		name, err := sbomName(f, ref, rtID, tier, o.Name)
		if err != nil {
			return rep, err
		}
		var m *closure.Manifest
		var mpath string
		if !o.NoClosure {
			if rtID == "" || tier == "" {
				return rep, outcome.UsageError{Err: fmt.Errorf("%s: platform %s has no %s/%s labels: not a ClearCutt image (use --no-closure)", ref, d.Platform, oci.LabelRuntime, oci.LabelTier)}
			}
			mpath = filepath.Join(o.Closures, fmt.Sprintf("%s-%s-%s.json", rtID, tier, d.Platform.Architecture))
			if m, err = closure.ReadManifest(mpath); err != nil {
				return rep, outcome.UsageError{Err: fmt.Errorf("closure manifest of %s:%s %s: %w", rtID, tier, d.Platform.Architecture, err)}
			}
		}
		work, err := os.MkdirTemp("", "clearcutt-sbom-")
		if err != nil {
			return rep, err
		}
		update, done := prog.Status(fmt.Sprintf("sbom %s %s", name, d.Platform.Architecture))
		res, err := sbom.Generate(ctx, sbom.Options{
			Image:    p.Image,
			Digest:   d.Digest,
			Name:     name,
			Platform: d.Platform.String(),
			Manifest: m,
			Created:  time.Unix(o.SourceDateEpoch, 0),
			TempDir:  work,
			Progress: update,
		})
		done()
		os.RemoveAll(work)
		if err != nil {
			if errors.Is(err, sbom.ErrClosureMismatch) || errors.Is(err, sbom.ErrInvalidManifest) || errors.Is(err, sbom.ErrInvalidOptions) {
				err = outcome.UsageError{Err: err}
			}
			return rep, fmt.Errorf("%s: platform %s: %w", ref, d.Platform, err)
		}
		rep.Image = name
		rep.Platforms = append(rep.Platforms, SBOMPlatform{Result: res, Closure: mpath})
	}
	for i, p := range rep.Platforms {
		file, err := WriteEvidence(o.Evidence, plats[i].Desc.Digest, SBOMFile, p.Document)
		if err != nil {
			return rep, err
		}
		rep.Platforms[i].File = file
	}
	return rep, nil
}

// sbomName is the image name an SBOM records: flagName, else the fleet's
// <repository>:<tier>, else the registry reference's repository.
func sbomName(f *fleet.File, ref oci.Ref, runtime, tier, flagName string) (string, error) {
	if flagName != "" {
		return flagName, nil
	}
	if f != nil && runtime != "" && tier != "" {
		img, err := f.Image(runtime, tier)
		if err != nil {
			return "", outcome.UsageError{Err: fmt.Errorf("%s: image labels name %s:%s: %w", ref, runtime, tier, err)}
		}
		return img.Repository + ":" + tier, nil
	}
	if !ref.IsLayout() {
		if ref.Tag != "" {
			return ref.Repo.String() + ":" + ref.Tag, nil
		}
		return ref.Repo.String(), nil
	}
	return "", outcome.UsageError{Err: fmt.Errorf("%s: name the image with --name", ref)}
}
