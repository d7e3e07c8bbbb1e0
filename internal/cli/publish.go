package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
)

func init() { extraCommands = append(extraCommands, newPublishCmd) }

type publishFlags struct {
	to         string
	evidence   string
	digestOnly bool
	asJSON     bool
}

func newPublishCmd(g *globals) *cobra.Command {
	var fl publishFlags
	cmd := &cobra.Command{
		Use:   "publish oci:STAGE@sha256:DIGEST",
		Short: "Copy a gated image index by digest to an OCI layout or a registry",
		Long: `publish copies the index named by digest from the staging layout, with every
platform image and blob, to the destination: an OCI layout (--to oci:DIR; the
index.json entry is named <runtime>:<tier>) or a registry repository prefix
(--to host/prefix; the image goes to host/prefix/<runtime> and gets the tags of
registry.tags). The default is the local layout oci:out/oci. Only missing blobs are uploaded, transient errors are
retried, and tags move only after the whole index is stored. Every platform
must have a passing test result (clearcutt test) in the evidence directory.

--digest-only stores the index by digest and nothing else: no tag moves and
no layout name is written. The per-architecture jobs of a fleet publish their
one-platform indexes this way, and 'clearcutt index' then names and tags the
combined index.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := runPublish(cmd.Context(), g, f, args[0], fl)
			g.report(rep)
			if err != nil {
				return err
			}
			if fl.asJSON {
				return writeJSON(g.stdout, rep)
			}
			return renderPublish(g, []publishReport{rep})
		},
	}
	cmd.Flags().StringVar(&fl.to, "to", "oci:out/oci", "destination: oci:DIR, or a registry repository prefix such as ghcr.io/acme/fleet")
	cmd.Flags().StringVar(&fl.evidence, "evidence", "out/evidence", "directory holding the test-result statements")
	cmd.Flags().BoolVar(&fl.digestOnly, "digest-only", false, "store by digest only: move no tag and write no layout name")
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the result as JSON")
	return cmd
}

type publishReport struct {
	Image         string            `json:"image"`
	Destination   string            `json:"destination"`
	Digest        string            `json:"digest"`
	Platforms     map[string]string `json:"platforms"`
	Refs          []string          `json:"refs"`
	BlobsUploaded int               `json:"blobsUploaded"`
	BlobsSkipped  int               `json:"blobsSkipped"`
	BytesUploaded int64             `json:"bytesUploaded"`
}

func runPublish(ctx context.Context, g *globals, f *fleet.File, src string, fl publishFlags) (publishReport, error) {
	ref, idx, err := openIndex(ctx, src, "")
	if err != nil {
		return publishReport{}, err
	}
	if !ref.IsLayout() {
		return publishReport{}, usageError{fmt.Errorf("%s: publish copies from a staging layout (oci:DIR@sha256:…)", src)}
	}
	// The image's identity comes from its own labels, so the tags and the
	// destination cannot disagree with what was built.
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) == 0 {
		return publishReport{}, fmt.Errorf("%s: empty or unreadable index: %v", src, err)
	}
	first, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return publishReport{}, fmt.Errorf("%s: %w", src, err)
	}
	cf, err := first.ConfigFile()
	if err != nil {
		return publishReport{}, fmt.Errorf("%s: %w", src, err)
	}
	img, err := f.Image(cf.Config.Labels[oci.LabelRuntime], cf.Config.Labels[oci.LabelTier])
	if err != nil {
		return publishReport{}, usageError{fmt.Errorf("%s: %w", src, err)}
	}
	if err := requireTestEvidence(idx, fl.evidence); err != nil {
		return publishReport{}, fmt.Errorf("%w: %w", ErrGateFailed, err)
	}
	to := fl.to
	opts := oci.PublishOptions{Source: ref, RefName: img.RefName, Keychain: authn.DefaultKeychain, Progress: g.progressEvent("publish " + img.RefName)}
	if strings.HasPrefix(to, oci.LayoutPrefix) {
		opts.Dest, err = oci.ParseRef(to)
	} else {
		opts.Dest, err = oci.ParseRef(strings.TrimSuffix(to, "/") + "/" + img.Runtime)
		opts.Tags = img.Tags
	}
	if err != nil {
		return publishReport{}, usageError{fmt.Errorf("--to: %w", err)}
	}
	if fl.digestOnly {
		opts.Tags, opts.RefName = nil, ""
	}
	res, err := oci.Publish(ctx, opts)
	g.progressDone()
	if err != nil {
		return publishReport{}, fmt.Errorf("publish %s to %s: %w", img.RefName, opts.Dest, err)
	}
	rep := publishReport{
		Image: img.RefName, Destination: opts.Dest.String(), Digest: res.Digest.String(),
		Platforms: map[string]string{}, Refs: res.Refs,
		BlobsUploaded: res.BlobsUploaded, BlobsSkipped: res.BlobsSkipped, BytesUploaded: res.BytesUploaded,
	}
	for p, d := range res.Platforms {
		rep.Platforms[p] = d.String()
	}
	return rep, nil
}

func renderPublish(g *globals, reps []publishReport) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tDIGEST\tUPLOADED\tSKIPPED\tBYTES\tREFS")
	for _, r := range reps {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", r.Image, r.Digest, r.BlobsUploaded, r.BlobsSkipped, humanBytes(r.BytesUploaded), strings.Join(r.Refs, " "))
		keys := make([]string, 0, len(r.Platforms))
		for k := range r.Platforms {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(tw, "  %s\t%s\t\t\t\t\n", k, r.Platforms[k])
		}
	}
	return tw.Flush()
}
