package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/site"
)

func newSiteCmd(g *globals) *cobra.Command {
	var (
		catalogDir, out string
		asJSON          bool
	)
	cmd := &cobra.Command{
		Use:   "site --catalog DIR --out SITE",
		Short: "Render the catalog as a static web site",
		Long: `site renders the catalog directory written by clearcutt catalog (catalog.json
and the SBOMs beside it) as a static web site: an overview of the fleet with
each image's status, every evidence channel and its vulnerability counts, and
one page per image with its digests, per-architecture evidence, verification
commands pinned to the fleet's identity, the SBOM for download, the findings
and a trend chart of past scans.

The site is HTML and one stylesheet, without scripts or remote resources: it
works from any static host (GitHub Pages) and from file://. It is built beside
SITE and swapped in whole; a failed run leaves the previous site as it was.
SITE must not exist, be empty, or be a site this command wrote.

Exit status: 0 the site was written, 2 the catalog or SITE is unusable,
3 the site could not be written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := site.Build(site.Options{CatalogDir: catalogDir, OutDir: out})
			if err != nil {
				if errors.Is(err, catalog.ErrInvalidCatalog) || errors.Is(err, site.ErrNotASite) {
					return usageErr(err)
				}
				return err
			}
			return g.emit(asJSON, res, func() error {
				_, err := fmt.Fprintf(g.stdout, "wrote %d pages for %d images to %s (%d files)\n", len(res.Pages), res.Images, res.OutDir, len(res.Files))
				return err
			}, true, "")
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&catalogDir, "catalog", "", "the catalog directory (catalog.json and sbom/)")
	fs.StringVar(&out, "out", "", "the site directory to write")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	_ = cmd.MarkFlagRequired("catalog")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
