package cli

import (
	"errors"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/stage"
)

// The flag groups several commands share. Each group registers its flags
// with addFlags, so a flag has one name, default and help wherever it
// appears.

// addFlags registers the vulnerability scan and gate flags: the database,
// VEX documents, exceptions and the gate. dbUsage is the help of --db.
func (fl *scanFlags) addFlags(fs *pflag.FlagSet, dbUsage string) {
	fs.StringVar(&fl.db, "db", "", dbUsage)
	fs.StringVar(&fl.vexDir, "vex-dir", "", "directory of OpenVEX documents (*.json; default: vex/ next to the fleet file, if present)")
	fs.StringVar(&fl.exceptions, "exceptions", "", "exceptions file (default: exceptions.yaml next to the fleet file, if present)")
	fs.StringVar(&fl.failOn, "fail-on", "", failOnUsage)
	fs.BoolVar(&fl.onlyFixable, "only-fixable", false, onlyFixableUsage)
	durationFlag(fs, &fl.maxDBAge, "max-db-age", maxDBAgeUsage)
	fs.BoolVar(&fl.allowStaleUnsf, "allow-stale-db-unsafe", false, "accept a database older than --max-db-age (the results record it)")
}

// options are the scan flags as stage options.
func (fl scanFlags) options(g *globals) stage.ScanOptions {
	return stage.ScanOptions{Gate: stage.GateOptions{FailOn: fl.failOn, OnlyFixable: fl.onlyFixable, MaxDBAge: fl.maxDBAge},
		DB: fl.db, Evidence: fl.evidence, VEXDir: fl.vexDir, Exceptions: fl.exceptions, AllowStaleDBUnsafe: fl.allowStaleUnsf, Progress: g}
}

// signingFlags choose how a command signs: with a key pair, or keyless
// with the job's OIDC identity (Fulcio, Rekor and optionally a timestamp
// authority).
type signingFlags struct {
	key       string
	keyless   bool
	fulcioURL string
	rekorURL  string
	tsaURL    string
	// privateRepository accepts keyless signing in a repository that is
	// not public (--private-repository).
	privateRepository bool
}

// addFlags registers the signing flags; keyUsage is the help of --key.
// --key and --keyless exclude each other.
func (fl *signingFlags) addFlags(cmd *cobra.Command, keyUsage string) {
	fs := cmd.Flags()
	fs.StringVar(&fl.key, "key", "", keyUsage)
	fs.BoolVar(&fl.keyless, "keyless", false, "sign keyless with Fulcio and Rekor (default in GitHub Actions with id-token: write)")
	fs.StringVar(&fl.fulcioURL, "fulcio-url", attest.DefaultFulcioURL, "Fulcio URL for keyless signing")
	fs.StringVar(&fl.rekorURL, "rekor-url", attest.DefaultRekorURL, "Rekor URL for keyless signing")
	fs.StringVar(&fl.tsaURL, "tsa-url", "", "RFC 3161 timestamp authority URL for keyless signing (optional)")
	fs.BoolVar(&fl.privateRepository, "private-repository", false, privateRepositoryUsage)
}

// check refuses --key together with --keyless.
func (fl signingFlags) check(cmd *cobra.Command) error {
	if fl.keyless && cmd.Flags().Changed("key") {
		return usageErr(errors.New("--key and --keyless are mutually exclusive"))
	}
	return nil
}

// signsKeyless reports whether the flags select keyless signing: asked
// for, or the default in a GitHub Actions job that may request an OIDC
// token and was given no --key.
func (fl signingFlags) signsKeyless(cmd *cobra.Command) bool {
	return fl.keyless || (inGitHubActions() && !cmd.Flags().Changed("key"))
}

// inGitHubActions reports a job that may request an OIDC token.
func inGitHubActions() bool {
	return os.Getenv("GITHUB_ACTIONS") == "true" && os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL") != ""
}
