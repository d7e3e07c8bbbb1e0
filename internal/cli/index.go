package cli

import (
	"github.com/spf13/cobra"

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
other index.

Exit status: 0 published, 1 a platform lacks a passing test result or the
index is not --expect-digest (nothing written), 2 bad flags, fleet file or
platforms, 3 could not run (registry, I/O).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := stage.Index(cmd.Context(), f, stage.IndexOptions{Runtime: fl.runtime, Tier: fl.tier, Platforms: fl.platforms, AllowPartialUnsafe: fl.allowPartial,
				ExpectDigest: fl.expectDigest, To: fl.to, Evidence: fl.evidence, DigestOnly: fl.digestOnly, Progress: g})
			g.report(indexStep(rep))
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
