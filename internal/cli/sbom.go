package cli

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/stage"
)

type sbomFlags struct {
	closures        string
	evidence        string
	name            string
	noClosure       bool
	sourceDateEpoch int64
	asJSON          bool
}

func (fl sbomFlags) options(g *globals, f *fleet.File) (stage.SBOMOptions, error) {
	epoch, err := sourceDateEpoch(fl.sourceDateEpoch, f)
	return stage.SBOMOptions{Closures: fl.closures, Evidence: fl.evidence, Name: fl.name, NoClosure: fl.noClosure, SourceDateEpoch: epoch, Progress: g}, err
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
not build has no closure manifest: --no-closure writes Syft's findings only.

Exit status: 0 every SBOM written, 2 bad flags, reference, image labels or
closure manifest, 3 could not run (Syft, registry, I/O).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil && !fl.noClosure {
				return err
			}
			o, err := fl.options(g, f)
			if err != nil {
				return err
			}
			rep, err := stage.SBOM(cmd.Context(), f, args[0], o)
			g.report(sbomStep(rep))
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

func renderSBOM(g *globals, r stage.SBOMReport) error {
	// The digest is the last column, whole; the file, which holds it in its
	// directory name, goes on a line of its own under its platform.
	t := table{header: []string{"PLATFORM", "PACKAGES", "NIX PACKAGES", "DIGEST"}}
	for _, p := range r.Platforms {
		t.add(p.Platform, strconv.Itoa(p.Packages), strconv.Itoa(p.NixPackages), p.Digest)
		t.add("  file " + p.File)
	}
	return t.write(g.stdout, tableWidth)
}
