package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/vulndb"
)

type vulndbFetchFlags struct {
	out, url, caCert   string
	maxAge             time.Duration
	allowStale, asHTTP bool
	asJSON             bool
}

func newVulndbFetchCmd(g *globals) *cobra.Command {
	var fl vulndbFetchFlags
	cmd := &cobra.Command{
		Use:   "fetch --out DIR [--url LISTING_URL]",
		Short: "Download the current Grype v6 database for scans",
		Long: `fetch installs the current Grype v6 vulnerability database in DIR the way
'grype db update' does: it reads the listing (latest.json) at --url, refuses
a database built longer ago than --max-age, downloads the archive the listing
names, checks it against the listing's sha256 checksum, extracts and
hydrates it and writes grype's import.json. DIR is then what 'clearcutt scan
--db' and 'clearcutt vulndb info' read.

Everything is prepared in a temporary directory next to DIR and moved into
place only once it is checked; on failure DIR is left as it was. An existing
DIR is replaced whole, and only if it holds nothing but a database.

--url takes the listing itself or a distribution root (ROOT/v6/latest.json
is read then). HTTPS is required; --ca-cert trusts a private mirror's CA.

Exit status: 0 installed, 2 bad flags or an --out that holds more than a
database, 3 could not fetch, or the database is older than --max-age or
fails its checksum (DIR is left as it was).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line := g.progressLine("vulndb fetch")
			res, err := vulndb.Fetch(cmd.Context(), vulndb.FetchOptions{
				ListingURL:       fl.url,
				Dir:              fl.out,
				MaxAge:           fl.maxAge,
				AllowStaleUnsafe: fl.allowStale,
				CACert:           fl.caCert,
				AllowHTTPUnsafe:  fl.asHTTP,
				Progress: func(msg string) {
					g.progressDone()
					fmt.Fprintf(g.stderr, "vulndb fetch: %s\n", msg)
				},
				Transfer: func(done, total int64) {
					if total > 0 {
						line(fmt.Sprintf("downloaded %s of %s", humanize.IBytes(uint64(done)), humanize.IBytes(uint64(total))))
						return
					}
					line("downloaded " + humanize.IBytes(uint64(done)))
				},
			})
			g.progressDone()
			if err != nil {
				if errors.Is(err, vulndb.ErrInvalidFetchOptions) || errors.Is(err, vulndb.ErrNotDBDir) {
					return usageErr(err)
				}
				return err
			}
			if res.StaleDBAccepted {
				fmt.Fprintf(g.stderr, "clearcutt: warning: installed a database built %s, older than --max-age %s (--allow-stale-db-unsafe)\n",
					res.DB.Built.Format(time.RFC3339), fl.maxAge)
			}
			return g.emit(fl.asJSON, res, func() error { return renderVulndbFetch(g, res) }, true, res.Dir)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&fl.out, "out", "", "the database directory to install (created or replaced)")
	flags.StringVar(&fl.url, "url", vulndb.DefaultListingURL, "the listing (latest.json), or a distribution root holding v6/latest.json")
	flags.DurationVar(&fl.maxAge, "max-age", scan.DefaultMaxDBAge, "oldest database build accepted")
	flags.BoolVar(&fl.allowStale, "allow-stale-db-unsafe", false, "install a database older than --max-age")
	flags.StringVar(&fl.caCert, "ca-cert", "", "PEM file of the CAs to trust for --url instead of the system roots")
	flags.BoolVar(&fl.asHTTP, "allow-http-unsafe", false, "accept a plain-HTTP --url (the checksum is then unauthenticated)")
	flags.BoolVar(&fl.asJSON, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func renderVulndbFetch(g *globals, r vulndb.FetchResult) error {
	t := table{}
	stale := ""
	if r.StaleDBAccepted {
		stale = " (STALE, accepted unsafely)"
	}
	t.add("database", r.DB.Path)
	t.add("built", fmt.Sprintf("%s, %s ago%s", r.DB.Built.Format(time.RFC3339), time.Since(r.DB.Built).Round(time.Minute), stale))
	t.add("schema", r.DB.SchemaVersion)
	t.add("checksum", fmt.Sprintf("%s (archive, matches the listing)", r.Checksum))
	t.add("source", r.ArchiveURL)
	t.add("listing", fmt.Sprintf("%s (status %s)", r.ListingURL, r.Status))
	t.add("sha256", fmt.Sprintf("%s (database file)", r.DB.Digest))
	if r.Replaced != nil {
		t.add("replaced", fmt.Sprintf("the database built %s", r.Replaced.Built.Format(time.RFC3339)))
	}
	return t.write(g.stdout, tableWidth)
}
