package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/stage"
)

type indexFlags struct {
	runtime, tier string
	platforms     []string
	to            string
	evidence      string
	allowPartial  bool
	digestOnly    bool
	expectDigest  string
	asJSON        bool
}

func newIndexCmd(g *globals) *cobra.Command {
	var fl indexFlags
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Combine platform images published by digest into one image index and publish it",
		Long: `index builds the image index of one runtime and tier over platform images
that were assembled, gated and published separately (one native runner per
architecture). Each --platform names, by digest, a platform image manifest or
a one-platform index ('clearcutt assemble --arch'), in a registry or an
oci:DIR layout. Every image must carry the runtime and tier labels given, the
architectures must be distinct and cover build.architectures, and every
platform must have a passing test result in the evidence directory. The index
is the one 'clearcutt assemble' of all architectures at once would make (same
digest), and is published like 'clearcutt publish' does: by digest first,
then the tags of registry.tags (a layout entry is named <runtime>:<tier>).

A release can hold the tags back until the index is signed and verified:
--digest-only stores the index by digest and moves nothing; running index
again later with --expect-digest set to that digest moves the tags, and
refuses, before writing anything, if the platforms now combine into any
other index.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := runIndex(cmd.Context(), g, f, fl)
			g.report(rep)
			if err != nil {
				return err
			}
			if fl.asJSON {
				return writeJSON(g.stdout, rep)
			}
			return renderPublish(g, []stage.PublishReport{rep.PublishReport})
		},
	}
	cmd.Flags().StringVar(&fl.runtime, "runtime", "", "runtime id (required)")
	cmd.Flags().StringVar(&fl.tier, "tier", "", "tier: distroless, slim or dev (required)")
	cmd.Flags().StringArrayVar(&fl.platforms, "platform", nil, "platform image or one-platform index by digest: REF@sha256:… or oci:DIR@sha256:… (repeatable, required)")
	cmd.Flags().StringVar(&fl.to, "to", "", "destination: oci:DIR, or a registry repository prefix such as ghcr.io/acme/fleet (required)")
	cmd.Flags().StringVar(&fl.evidence, "evidence", "out/evidence", "directory holding the test-result statements of the platform images")
	cmd.Flags().BoolVar(&fl.allowPartial, "allow-partial-unsafe", false, "publish an index that lacks some of build.architectures")
	cmd.Flags().BoolVar(&fl.digestOnly, "digest-only", false, "store the index by digest only: move no tag and write no layout name")
	cmd.Flags().StringVar(&fl.expectDigest, "expect-digest", "", "refuse, before writing anything, unless the index is this digest (sha256:…)")
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the result as JSON")
	for _, n := range []string{"runtime", "tier", "platform", "to"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// indexReport is what index prints: the publish report, plus the
// architectures of build.architectures the index lacks (only with
// --allow-partial-unsafe).
type indexReport struct {
	stage.PublishReport
	Missing []string `json:"missingArchitectures,omitempty"`
}

func runIndex(ctx context.Context, g *globals, f *fleet.File, fl indexFlags) (indexReport, error) {
	img, err := f.Image(fl.runtime, fl.tier)
	if err != nil {
		return indexReport{}, usageErr(err)
	}
	ropts := []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	var ims []oci.PlatformImage
	from := map[string]string{} // architecture -> --platform value
	for _, s := range fl.platforms {
		ref, err := oci.RequireDigest(s)
		if err != nil {
			return indexReport{}, usageErr(fmt.Errorf("--platform: %w", err))
		}
		pi, err := oci.OpenPlatformImage(ctx, ref, ropts...)
		if err != nil {
			return indexReport{}, fmt.Errorf("--platform: %w", err)
		}
		cf, err := pi.Image.ConfigFile()
		if err != nil {
			return indexReport{}, fmt.Errorf("--platform %s: config: %w", s, err)
		}
		for _, l := range [][2]string{{oci.LabelRuntime, fl.runtime}, {oci.LabelTier, fl.tier}} {
			if got := cf.Config.Labels[l[0]]; got != l[1] {
				return indexReport{}, usageErr(fmt.Errorf("--platform %s: image label %s=%q, want %q", s, l[0], got, l[1]))
			}
		}
		arch := pi.Platform.Architecture
		if prev, ok := from[arch]; ok {
			return indexReport{}, usageErr(fmt.Errorf("--platform %s and %s are both %s", prev, s, arch))
		}
		if !containsString(img.Architectures, arch) {
			return indexReport{}, usageErr(fmt.Errorf("--platform %s is %s, not in build.architectures %v", s, arch, img.Architectures))
		}
		from[arch] = s
		ims = append(ims, pi)
	}
	var missing []string
	for _, a := range img.Architectures {
		if _, ok := from[a]; !ok {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 && !fl.allowPartial {
		return indexReport{}, usageErr(fmt.Errorf("%s: no --platform for architecture %s of build.architectures (--allow-partial-unsafe publishes without it)", img.RefName, strings.Join(missing, ", ")))
	}
	idx, err := oci.NewIndex(ims)
	if err != nil {
		return indexReport{}, usageErr(fmt.Errorf("%s: %w", img.RefName, err))
	}
	if err := stage.RequireTestEvidence(idx, fl.evidence); err != nil {
		return indexReport{}, fmt.Errorf("%w: %w", ErrGateFailed, err)
	}
	if fl.expectDigest != "" {
		want, err := v1.NewHash(fl.expectDigest)
		if err != nil {
			return indexReport{}, usageErr(fmt.Errorf("--expect-digest: %w", err))
		}
		got, err := idx.Digest()
		if err != nil {
			return indexReport{}, err
		}
		if got != want {
			return indexReport{}, fmt.Errorf("%w: %s: the platforms combine into %s, not the expected %s", ErrGateFailed, img.RefName, got, want)
		}
	}
	opts := oci.PublishOptions{RefName: img.RefName, Keychain: authn.DefaultKeychain, Progress: g.progressEvent("index " + img.RefName)}
	if strings.HasPrefix(fl.to, oci.LayoutPrefix) {
		opts.Dest, err = oci.ParseRef(fl.to)
	} else {
		opts.Dest, err = oci.ParseRef(strings.TrimSuffix(fl.to, "/") + "/" + img.Runtime)
		opts.Tags = img.Tags
	}
	if err != nil {
		return indexReport{}, usageErr(fmt.Errorf("--to: %w", err))
	}
	if fl.digestOnly {
		opts.Tags, opts.RefName = nil, ""
	}
	res, err := oci.PublishIndex(ctx, idx, opts)
	g.progressDone()
	if err != nil {
		return indexReport{}, fmt.Errorf("index %s to %s: %w", img.RefName, opts.Dest, err)
	}
	rep := indexReport{PublishReport: stage.PublishReport{
		Image: img.RefName, Destination: opts.Dest.String(), Digest: res.Digest.String(),
		Platforms: map[string]string{}, Refs: res.Refs,
		BlobsUploaded: res.BlobsUploaded, BlobsSkipped: res.BlobsSkipped, BytesUploaded: res.BytesUploaded,
	}, Missing: missing}
	for p, d := range res.Platforms {
		rep.Platforms[p] = d.String()
	}
	sort.Strings(rep.Missing)
	return rep, nil
}
