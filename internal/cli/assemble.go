package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/stage"
)

type assembleFlags struct {
	runtime, tier   string
	archs           []string
	closures        string
	stage           string
	cache           string
	revision        string
	sourceDateEpoch int64
	asJSON          bool
}

// options resolves the flags: the timestamp from --source-date-epoch or
// $SOURCE_DATE_EPOCH, the layer cache from the user cache directory.
func (fl assembleFlags) options(g *globals, f *fleet.File) (stage.AssembleOptions, error) {
	epoch, err := stage.SourceDateEpoch(fl.sourceDateEpoch, os.Getenv("SOURCE_DATE_EPOCH"), f)
	if err != nil {
		return stage.AssembleOptions{}, err
	}
	cache, err := layerCache(fl.cache)
	if err != nil {
		return stage.AssembleOptions{}, err
	}
	return stage.AssembleOptions{Runtime: fl.runtime, Tier: fl.tier, Archs: fl.archs, Closures: fl.closures, Stage: fl.stage,
		Cache: cache, Revision: fl.revision, SourceDateEpoch: epoch, Progress: g}, nil
}

// layerCache is --cache, else clearcutt/layers in the user cache directory.
func layerCache(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: pass --cache: %w", err)
	}
	return filepath.Join(d, "clearcutt", "layers"), nil
}

// sourceDateEpoch is --source-date-epoch, else $SOURCE_DATE_EPOCH, else
// build.sourceDateEpoch of the fleet (f may be nil).
func sourceDateEpoch(flag int64, f *fleet.File) (int64, error) {
	return stage.SourceDateEpoch(flag, os.Getenv("SOURCE_DATE_EPOCH"), f)
}

func newAssembleCmd(g *globals) *cobra.Command {
	var fl assembleFlags
	cmd := &cobra.Command{
		Use:   "assemble",
		Short: "Turn the closure manifests of one image into OCI images per architecture and an index",
		Long: `assemble reads the closure manifest of every architecture of one image
(written by 'clearcutt build'), lays the store paths out in stable layers within
the fleet's layer budget, and writes one image per architecture plus the index
over them into the staging layout. The same closures always give the same
digest. It prints the index digest; later stages take it by digest.

With --arch, only that architecture's closure manifest is read and the index
holds just its image (a native runner per architecture); the platform image is
byte-identical to the one assembled together with the other architectures.

Exit status: 0 assembled, 2 bad flags, fleet file or closure manifest, 3 could
not run (I/O, the layer cache).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			o, err := fl.options(g, f)
			if err != nil {
				return err
			}
			res, err := stage.Assemble(cmd.Context(), f, o)
			g.report(assembleStep(res))
			if err != nil {
				return err
			}
			if fl.asJSON {
				return writeJSON(g.stdout, res)
			}
			return renderAssemble(g, res)
		},
	}
	cmd.Flags().StringVar(&fl.runtime, "runtime", "", "runtime id (required)")
	cmd.Flags().StringVar(&fl.tier, "tier", "", "tier: distroless, slim or dev (required)")
	cmd.Flags().StringSliceVar(&fl.archs, "arch", nil, "assemble only these architectures (repeatable; default: every architecture of build.architectures); the index then holds just them, and 'clearcutt index' combines the platform images later")
	cmd.Flags().StringVar(&fl.closures, "closures", "out/closures", "directory of closure manifests written by 'clearcutt build'")
	cmd.Flags().StringVar(&fl.stage, "stage", "out/stage", "staging OCI layout the index is written to")
	cmd.Flags().StringVar(&fl.cache, "cache", "", "compressed-layer cache (default: the user cache directory)")
	cmd.Flags().StringVar(&fl.revision, "revision", "", "source revision for org.opencontainers.image.revision (default: git HEAD of the fleet repository)")
	cmd.Flags().Int64Var(&fl.sourceDateEpoch, "source-date-epoch", -1, "timestamp of every file and of the image (default: $SOURCE_DATE_EPOCH, else build.sourceDateEpoch)")
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagRequired("runtime")
	_ = cmd.MarkFlagRequired("tier")
	return cmd
}

func renderAssemble(g *globals, r stage.AssembleReport) error {
	head := table{}
	head.add(r.Image, r.Reference)
	if err := head.write(g.stdout, tableWidth); err != nil {
		return err
	}
	// The platform digest, whole, is last; the base it was laid on is
	// shortened.
	t := table{header: []string{"ARCH", "LAYERS", "SIZE", "BASE", "DIGEST"}}
	for _, p := range r.Platforms {
		t.add(p.Arch, strconv.Itoa(p.Layers), humanize.IBytes(uint64(p.Size)), orDash(shortDigest(p.BaseDigest)), p.Digest)
	}
	t.add(fmt.Sprintf("layers from cache: %d, built: %d", r.CacheHits, r.Built))
	for _, c := range r.Candidates {
		t.add(fmt.Sprintf("pruning candidate: %s (%s, %s) required by %s", c.Pname, c.Feature, humanize.IBytes(uint64(c.NarSize)), strings.Join(c.RequiredBy, ", ")))
	}
	return t.write(g.stdout, tableWidth)
}
