package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/spf13/cobra"
)

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
combined index.

Exit status: 0 published, 1 a platform lacks a passing test result (nothing
published), 2 bad flags, source or destination, 3 could not run (registry,
I/O).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := stage.Publish(cmd.Context(), f, args[0], stage.PublishOptions{To: fl.to, Evidence: fl.evidence, DigestOnly: fl.digestOnly, Progress: g})
			g.report(publishStep(rep))
			if err != nil {
				return err
			}
			if fl.asJSON {
				return writeJSON(g.stdout, rep)
			}
			return renderPublish(g, []stage.PublishReport{rep})
		},
	}
	cmd.Flags().StringVar(&fl.to, "to", "oci:out/oci", "destination: oci:DIR, or a registry repository prefix such as ghcr.io/acme/fleet")
	cmd.Flags().StringVar(&fl.evidence, "evidence", "out/evidence", "directory holding the test-result statements")
	cmd.Flags().BoolVar(&fl.digestOnly, "digest-only", false, "store by digest only: move no tag and write no layout name")
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the result as JSON")
	return cmd
}

func renderPublish(g *globals, reps []stage.PublishReport) error {
	// The references are the free text, last; the digests, whole, go on
	// lines of their own under their image.
	t := table{header: []string{"IMAGE", "UPLOADED", "SKIPPED", "BYTES", "REFS"}}
	for _, r := range reps {
		t.add(r.Image, strconv.Itoa(r.BlobsUploaded), strconv.Itoa(r.BlobsSkipped), humanize.IBytes(uint64(r.BytesUploaded)), orDash(strings.Join(r.Refs, " ")))
		keys := make([]string, 0, len(r.Platforms))
		w := len("index")
		for k := range r.Platforms {
			keys = append(keys, k)
			w = max(w, len(k))
		}
		sort.Strings(keys)
		t.add(fmt.Sprintf("  %-*s  %s", w, "index", r.Digest))
		for _, k := range keys {
			t.add(fmt.Sprintf("  %-*s  %s", w, k, r.Platforms[k]))
		}
	}
	return t.write(g.stdout, tableWidth)
}
