package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/sbom"
)

func init() { extraCommands = append(extraCommands, newSBOMCmd) }

// SBOMFile is the evidence file name of a platform's SPDX document.
const SBOMFile = "sbom.spdx.json"

type sbomFlags struct {
	closures        string
	evidence        string
	name            string
	noClosure       bool
	sourceDateEpoch int64
	asJSON          bool
}

func newSBOMCmd(g *globals) *cobra.Command {
	var fl sbomFlags
	cmd := &cobra.Command{
		Use:   "sbom IMAGE@sha256:DIGEST",
		Short: "Write the SPDX 2.3 SBOM of every platform image, enriched from its Nix closure",
		Long: `sbom reads the image index by digest (oci:DIR@sha256:… or a registry
reference), catalogs each platform image with Syft and adds every store path of
the image's closure manifest (CLOSURES/<runtime>-<tier>-<arch>.json, found from
the image labels) as a package with a pkg:nix purl, its narHash, upstream CPEs
and the closure's dependency edges. For each platform it writes
EVIDENCE/sha256-<hex>/sbom.spdx.json. The document's creation time is
--source-date-epoch, else $SOURCE_DATE_EPOCH, else build.sourceDateEpoch of
the fleet: the same image always gives the same bytes. An image ClearCutt did
not build has no closure manifest: --no-closure writes Syft's findings only.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil && !fl.noClosure {
				return err
			}
			rep, err := runSBOM(cmd.Context(), g, f, args[0], fl)
			g.report(rep)
			if err != nil {
				return err
			}
			if fl.asJSON {
				return writeJSON(g.stdout, rep)
			}
			return renderSBOM(g, rep)
		},
	}
	cmd.Flags().StringVar(&fl.closures, "closures", "out/closures", "directory of closure manifests written by 'clearcutt build'")
	cmd.Flags().StringVar(&fl.evidence, "evidence", "out/evidence", "directory the SBOMs are written to")
	cmd.Flags().StringVar(&fl.name, "name", "", "image name recorded in the SBOM (default: <registry.repository>/<runtime>:<tier> from the fleet)")
	cmd.Flags().BoolVar(&fl.noClosure, "no-closure", false, "catalog with Syft only (an image without a ClearCutt closure manifest)")
	cmd.Flags().Int64Var(&fl.sourceDateEpoch, "source-date-epoch", -1, "document creation time (default: $SOURCE_DATE_EPOCH, else build.sourceDateEpoch)")
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the result as JSON")
	return cmd
}

type sbomReport struct {
	Image     string         `json:"image"`
	Reference string         `json:"reference"`
	Platforms []sbomPlatform `json:"platforms"`
}

type sbomPlatform struct {
	sbom.Result
	// Closure is the closure manifest used ("" with --no-closure).
	Closure string `json:"closure,omitempty"`
	// File is the SBOM written.
	File string `json:"file"`
}

func runSBOM(ctx context.Context, g *globals, f *fleet.File, refStr string, fl sbomFlags) (sbomReport, error) {
	epoch, err := sbomEpoch(fl.sourceDateEpoch, f)
	if err != nil {
		return sbomReport{}, err
	}
	ref, idx, err := openIndex(ctx, refStr, "")
	if err != nil {
		return sbomReport{}, err
	}
	plats, err := platformImages(ref, idx)
	if err != nil {
		return sbomReport{}, err
	}
	rep := sbomReport{Reference: ref.String()}
	// Every document is made before any is written: a failing platform
	// leaves the evidence directory as it was.
	for _, p := range plats {
		d, img, cf := p.desc, p.img, p.cfg
		rtID, tier := cf.Config.Labels[oci.LabelRuntime], cf.Config.Labels[oci.LabelTier]
		name, err := sbomName(f, ref, rtID, tier, fl.name)
		if err != nil {
			return rep, err
		}
		var m *closure.Manifest
		var mpath string
		if !fl.noClosure {
			if rtID == "" || tier == "" {
				return rep, usageError{fmt.Errorf("%s: platform %s has no %s/%s labels: not a ClearCutt image (use --no-closure)", ref, d.Platform, oci.LabelRuntime, oci.LabelTier)}
			}
			mpath = filepath.Join(fl.closures, fmt.Sprintf("%s-%s-%s.json", rtID, tier, d.Platform.Architecture))
			if m, err = closure.ReadManifest(mpath); err != nil {
				return rep, usageError{fmt.Errorf("closure manifest of %s:%s %s: %w", rtID, tier, d.Platform.Architecture, err)}
			}
		}
		work, err := os.MkdirTemp("", "clearcutt-sbom-")
		if err != nil {
			return rep, err
		}
		res, err := sbom.Generate(ctx, sbom.Options{
			Image:    img,
			Digest:   d.Digest,
			Name:     name,
			Platform: d.Platform.String(),
			Manifest: m,
			Created:  time.Unix(epoch, 0),
			TempDir:  work,
			Progress: g.progressLine(fmt.Sprintf("sbom %s %s", name, d.Platform.Architecture)),
		})
		g.progressDone()
		os.RemoveAll(work)
		if err != nil {
			if errors.Is(err, sbom.ErrClosureMismatch) || errors.Is(err, sbom.ErrInvalidManifest) || errors.Is(err, sbom.ErrInvalidOptions) {
				err = usageError{err}
			}
			return rep, fmt.Errorf("%s: platform %s: %w", ref, d.Platform, err)
		}
		rep.Image = name
		rep.Platforms = append(rep.Platforms, sbomPlatform{Result: res, Closure: mpath})
	}
	for i, p := range rep.Platforms {
		d := plats[i].desc.Digest
		file, err := writeEvidence(fl.evidence, d, SBOMFile, p.Document)
		if err != nil {
			return rep, err
		}
		rep.Platforms[i].File = file
	}
	return rep, nil
}

// sbomName is the image name an SBOM records: --name, else the fleet's
// <repository>/<runtime>:<tier>, else the registry reference's repository.
func sbomName(f *fleet.File, ref oci.Ref, runtime, tier, flagName string) (string, error) {
	if flagName != "" {
		return flagName, nil
	}
	if f != nil && runtime != "" && tier != "" {
		img, err := f.Image(runtime, tier)
		if err != nil {
			return "", usageError{fmt.Errorf("%s: image labels name %s:%s: %w", ref, runtime, tier, err)}
		}
		return img.Repository + ":" + tier, nil
	}
	if !ref.IsLayout() {
		if ref.Tag != "" {
			return ref.Repo.String() + ":" + ref.Tag, nil
		}
		return ref.Repo.String(), nil
	}
	return "", usageError{fmt.Errorf("%s: name the image with --name", ref)}
}

// sbomEpoch is sourceDateEpoch, also without a fleet file (--no-closure).
func sbomEpoch(flag int64, f *fleet.File) (int64, error) {
	if f == nil {
		f = &fleet.File{}
	}
	return sourceDateEpoch(flag, f)
}

func renderSBOM(g *globals, r sbomReport) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PLATFORM\tDIGEST\tPACKAGES\tNIX PACKAGES\tFILE")
	for _, p := range r.Platforms {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", p.Platform, p.Digest, p.Packages, p.NixPackages, p.File)
	}
	return tw.Flush()
}
