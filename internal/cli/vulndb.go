package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/vulndb"
)

func newVulndbCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "vulndb", Short: "Build and inspect Grype v6 vulnerability databases"}
	var advisories, out, builtAt string
	var buildJSON bool
	build := &cobra.Command{
		Use:   "build --advisories FILE --out DIR",
		Short: "Write a Grype v6 database from an advisories file",
		Long: `build writes DIR/vulnerability.db, a Grype v6 database made with grype's own
writer from the advisories in FILE (apiVersion clearcutt.dev/v1alpha1, kind
VulnerabilityAdvisories; see testdata/README.md). Nix packages are matched
by pname through rows of ecosystem "nix", upstream software through CPEs.
--built-at sets the build time recorded in the database (default: now),
which scans compare against their maximum database age. --json prints the
database's path, schema version, build time, sha256 and advisory count.

Exit status: 0 written, 2 bad flags or an unusable advisories file, 3 the
database could not be written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			at := time.Now().UTC()
			if builtAt != "" {
				t, err := time.Parse(time.RFC3339, builtAt)
				if err != nil {
					return usageErr(fmt.Errorf("--built-at: %w", err))
				}
				at = t
			}
			f, err := vulndb.Load(advisories)
			if err != nil {
				return usageErr(err)
			}
			if err := f.Build(cmd.Context(), out, at); err != nil {
				return err
			}
			info, err := vulndb.Describe(out)
			if err != nil {
				return err
			}
			if buildJSON {
				return writeJSON(g.stdout, struct {
					vulndb.Info
					Advisories int `json:"advisories"`
				}{info, len(f.Advisories)})
			}
			fmt.Fprintf(g.stdout, "%s: %d advisories, schema %s, built %s\n", info.Path, len(f.Advisories), info.SchemaVersion, info.Built.Format(time.RFC3339))
			return nil
		},
	}
	build.Flags().BoolVar(&buildJSON, "json", false, "print the database's path, schema version, build time, digest and advisory count as JSON")
	build.Flags().StringVar(&advisories, "advisories", "", "the advisories file (YAML)")
	build.Flags().StringVar(&out, "out", "", "the database directory")
	build.Flags().StringVar(&builtAt, "built-at", "", "build time to record (RFC 3339; default now)")
	_ = build.MarkFlagRequired("advisories")
	_ = build.MarkFlagRequired("out")

	var asJSON bool
	info := &cobra.Command{
		Use:   "info DIR",
		Short: "Print the schema version, build time and digest of a database",
		Long: `info reads the Grype v6 database in DIR (written by 'clearcutt vulndb build'
or 'clearcutt vulndb fetch') and prints its file, schema version, the build
time recorded in it and how long ago that was, and the sha256 of the file.

Exit status: 0 printed, 2 bad flags or DIR holds no readable database, 3 the
report could not be written.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			i, err := vulndb.Describe(args[0])
			if err != nil {
				return usageErr(err)
			}
			if asJSON {
				return writeJSON(g.stdout, i)
			}
			fmt.Fprintf(g.stdout, "%s: schema %s, built %s (%s ago), sha256 %s\n", i.Path, i.SchemaVersion,
				i.Built.Format(time.RFC3339), time.Since(i.Built).Round(time.Minute), i.Digest)
			return nil
		},
	}
	info.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.AddCommand(build, info, newVulndbFetchCmd(g))
	return cmd
}
