package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/verify"
)

func init() { extraCommands = append(extraCommands, newVerifyCmd) }

type verifyFlags struct {
	identity           verify.Identity
	key                string
	trustedRoot        string
	refreshTrustedRoot bool
	signerDigest       string
	provenanceSigner   string
	maxScanAge         time.Duration
	maxDBAge           time.Duration
	failOn             string
	onlyFixable        bool
	require            []string
	withoutSCTUnsafe   bool
	noRescanIdentity   bool
	rescanIdentity     string
	asJSON             bool
}

func newVerifyCmd(g *globals) *cobra.Command {
	var fl verifyFlags
	cmd := &cobra.Command{
		Use:   "verify IMAGE@sha256:DIGEST",
		Short: "Verify every evidence channel of an image index on its own",
		Long: `verify fetches the evidence attached to the index named by digest (a registry
reference or oci:DIR@sha256:…) and verifies each channel independently —
signature, SBOM per architecture, SLSA provenance, test results, vulnerability
scan and VEX — with sigstore-go, and then judges what the evidence says. A scan
must pass the fleet's vulnerability gate (vulnerabilities in clearcutt.yaml;
--fail-on, --only-fixable and --max-db-age replace its values) whatever
verdict it records, claim no time in the future and name a database no older
than the maximum; the newest passing scan must be younger than --max-scan-age,
else the channel is pending. Keyless scans are ordered by their verified
signing time; with --key any failing scan fails. A failing test result, SBOM,
VEX or provenance statement is never hidden by a passing one.
It reads Sigstore bundles (OCI referrers, or the sha256-<hex> tag fallback) and
cosign's legacy sha256-<hex>.sig and .att tags, which slsa-github-generator
writes provenance to.

The identity is taken from clearcutt.yaml: the OIDC issuer, the exact Build
Signer URI of the publishing workflow, and the Fulcio extensions naming the
fleet repository and ref (--signer-digest pins the workflow commit too);
--certificate-identity, --certificate-oidc-issuer, --source-repository and
--source-ref replace single values, exactly (no patterns). Scans and VEX may
also be signed by the nightly rescan (identity.rescanWorkflow, same repository
and ref), which is trusted for those two channels only; --rescan-identity
names its Build Signer URI exactly, --no-rescan-identity trusts the
publishing workflow alone.

Without a fleet file, --key, or all of --certificate-identity,
--certificate-oidc-issuer, --source-repository and --source-ref, pin
everything (and only --rescan-identity adds the rescan workflow).
With --key PUBLIC_KEY, bundles are verified against that key instead
(the local default signer); provenance from slsa-github-generator exists only
in keyless mode and is then reported but not required.

Exit status: 0 every required channel verified, 1 a required channel failed,
is missing or pending, 3 verification could not run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			switch {
			case err == nil:
			case errors.Is(err, fs.ErrNotExist) && fl.standalone():
				// Everything is pinned by the flags: no fleet file needed.
				f = nil
			case errors.Is(err, fs.ErrNotExist):
				return usageError{fmt.Errorf("%w (without a fleet file, give --key, or all of --certificate-identity, --certificate-oidc-issuer, --source-repository and --source-ref)", err)}
			default:
				return err
			}
			rep, err := runVerify(cmd.Context(), g, f, args[0], fl)
			g.report(rep)
			if err != nil {
				return err
			}
			return g.emit(fl.asJSON, rep, func() error { return renderVerify(g, rep) }, rep.ExitCode() == verify.ExitPassed, args[0]+": a required evidence channel is not verified")
		},
	}
	addVerifyFlags(cmd, &fl)
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the report as JSON")
	return cmd
}

// addVerifyFlags registers the identity, trust and policy flags of
// verification (every flag of verify but --json).
func addVerifyFlags(cmd *cobra.Command, fl *verifyFlags) {
	fs := cmd.Flags()
	fs.StringVar(&fl.key, "key", "", "verify against this public key (PEM) instead of the keyless identity in clearcutt.yaml")
	fs.StringVar(&fl.trustedRoot, "trusted-root", "", "Sigstore trusted_root.json (default: the public-good root shipped with clearcutt)")
	fs.BoolVar(&fl.refreshTrustedRoot, "refresh-trusted-root", false, "fetch the current public-good trusted root through TUF (online)")
	fs.StringVar(&fl.signerDigest, "signer-digest", "", "also pin the Build Signer Digest (the publishing workflow's commit)")
	fs.StringVar(&fl.identity.SAN, "certificate-identity", "", "exact Build Signer URI (default: derived from identity in clearcutt.yaml)")
	fs.StringVar(&fl.identity.Issuer, "certificate-oidc-issuer", "", "OIDC issuer (default: identity.issuer)")
	fs.StringVar(&fl.identity.SourceRepositoryURI, "source-repository", "", "Source Repository URI, e.g. https://github.com/acme/fleet (default: identity.repository)")
	fs.StringVar(&fl.identity.SourceRepositoryRef, "source-ref", "", "Source Repository Ref, e.g. refs/heads/main (default: identity.ref)")
	fs.StringVar(&fl.provenanceSigner, "provenance-signer", "", "SAN of the SLSA provenance signer (default: slsa-github-generator's container workflow)")
	durationFlag(fs, &fl.maxScanAge, "max-scan-age", maxScanAgeUsage)
	durationFlag(fs, &fl.maxDBAge, "max-db-age", maxDBAgeUsage)
	fs.StringVar(&fl.failOn, "fail-on", "", failOnUsage)
	fs.BoolVar(&fl.onlyFixable, "only-fixable", false, onlyFixableUsage)
	fs.StringSliceVar(&fl.require, "require", nil, "channels that must verify (default: all; without provenance in key mode)")
	fs.BoolVar(&fl.withoutSCTUnsafe, "without-sct-unsafe", false, "accept Fulcio certificates without a certificate-transparency timestamp (private CAs)")
	fs.BoolVar(&fl.noRescanIdentity, "no-rescan-identity", false, "trust scans and VEX from the publishing workflow only, not from identity.rescanWorkflow")
	fs.StringVar(&fl.rescanIdentity, "rescan-identity", "", "exact Build Signer URI of the rescan workflow, trusted for scans and VEX only (default: derived from identity.rescanWorkflow)")
}

// bundleSource adapts attest's store to what verify reads.
type bundleSource struct{ s attest.Store }

func (b bundleSource) List(ctx context.Context, d v1.Hash) ([]verify.StoredBundle, error) {
	stored, err := b.s.List(ctx, d)
	if err != nil {
		return nil, err
	}
	out := make([]verify.StoredBundle, 0, len(stored))
	for _, s := range stored {
		out = append(out, verify.StoredBundle{Digest: s.Digest, PredicateType: s.PredicateType, Bundle: s.Bundle, Created: s.Created, Err: s.Err})
	}
	return out, nil
}

func runVerify(ctx context.Context, g *globals, f *fleet.File, refStr string, fl verifyFlags) (verify.Report, error) {
	ref, idx, err := openIndex(ctx, refStr, "")
	if err != nil {
		return verify.Report{}, err
	}
	v, err := newVerifier(ctx, f, fl)
	if err != nil {
		return verify.Report{}, err
	}
	return v.run(ctx, g, ref, idx)
}

// standalone reports whether the flags pin everything verification needs
// without clearcutt.yaml: a public key, or the whole keyless identity.
func (fl verifyFlags) standalone() bool {
	id := fl.identity
	return fl.key != "" || (id.SAN != "" && id.Issuer != "" && id.SourceRepositoryURI != "" && id.SourceRepositoryRef != "")
}

// verifier is the identity policy and trusted material verification uses,
// set up once from clearcutt.yaml and the verify flags.
type verifier struct {
	policy           verify.Policy
	trusted          root.TrustedMaterial
	withoutSCTUnsafe bool
}

func newVerifier(ctx context.Context, f *fleet.File, fl verifyFlags) (verifier, error) {
	required, err := parseChannels(fl.require)
	if err != nil {
		return verifier{}, usageError{err}
	}
	if fl.maxScanAge < 0 || fl.maxDBAge < 0 {
		return verifier{}, usageError{errors.New("--max-scan-age and --max-db-age must be positive durations")}
	}
	failOn, onlyFixable, err := gatePolicy(f, fl.failOn, fl.onlyFixable)
	if err != nil {
		return verifier{}, err
	}
	maxDBAge, maxScanAge := maxAges(f, fl.maxDBAge, fl.maxScanAge)
	gp := verify.GatePolicy{FailOn: failOn, OnlyFixable: onlyFixable}
	var policy verify.Policy
	if f != nil {
		policy, err = verify.PolicyFromFleet(f.Identity, verify.FleetPolicyOptions{
			ProvenanceSignerURI: fl.provenanceSigner, BuildSignerDigest: fl.signerDigest,
			MaxScanAge: maxScanAge, MaxDBAge: maxDBAge, Gate: gp, RequiredChannels: required, NoRescan: fl.noRescanIdentity,
		})
		if err != nil {
			return verifier{}, usageError{fmt.Errorf("%s: identity: %w", f.Path, err)}
		}
	} else {
		// No fleet file: the flags name every value (standalone), and
		// nothing else is trusted — no rescan identity.
		prov := fl.provenanceSigner
		if prov == "" {
			prov = verify.DefaultProvenanceSignerURI
		}
		policy = verify.Policy{
			Signer:              verify.Identity{BuildSignerDigest: fl.signerDigest},
			Provenance:          verify.Identity{SAN: prov},
			ProvenanceBuilderID: prov,
			MaxScanAge:          maxScanAge,
			MaxDBAge:            maxDBAge,
			Gate:                gp,
			RequiredChannels:    required,
		}
	}
	// Flags replace single values of the identity from the fleet file.
	for _, o := range []struct{ flag, dst *string }{
		{&fl.identity.SAN, &policy.Signer.SAN},
		{&fl.identity.Issuer, &policy.Signer.Issuer},
		{&fl.identity.SourceRepositoryURI, &policy.Signer.SourceRepositoryURI},
		{&fl.identity.SourceRepositoryRef, &policy.Signer.SourceRepositoryRef},
	} {
		if *o.flag != "" {
			*o.dst = *o.flag
		}
	}
	if fl.identity.Issuer != "" {
		policy.Provenance.Issuer = fl.identity.Issuer
	}
	if fl.identity.SourceRepositoryURI != "" {
		policy.Provenance.SourceRepositoryURI = fl.identity.SourceRepositoryURI
	}
	if fl.identity.SourceRepositoryRef != "" {
		policy.Provenance.SourceRepositoryRef = fl.identity.SourceRepositoryRef
	}
	switch {
	case fl.rescanIdentity != "" && fl.noRescanIdentity:
		return verifier{}, usageError{errors.New("--rescan-identity and --no-rescan-identity are exclusive")}
	case fl.rescanIdentity != "":
		// Same issuer, repository and ref as the publishing workflow.
		policy.Rescan = &verify.Identity{Issuer: policy.Signer.Issuer, SAN: fl.rescanIdentity,
			SourceRepositoryURI: policy.Signer.SourceRepositoryURI, SourceRepositoryRef: policy.Signer.SourceRepositoryRef}
	case policy.Rescan != nil:
		// A derived rescan identity follows the values the flags replaced.
		policy.Rescan.Issuer = policy.Signer.Issuer
		policy.Rescan.SourceRepositoryURI = policy.Signer.SourceRepositoryURI
		policy.Rescan.SourceRepositoryRef = policy.Signer.SourceRepositoryRef
	}
	v := verifier{withoutSCTUnsafe: fl.withoutSCTUnsafe}
	if fl.key != "" {
		pem, err := os.ReadFile(fl.key)
		if err != nil {
			return verifier{}, usageError{fmt.Errorf("--key: %w", err)}
		}
		if _, err := cryptoutils.UnmarshalPEMToPublicKey(pem); err != nil {
			return verifier{}, usageError{fmt.Errorf("--key %s: not a PEM public key: %v", fl.key, err)}
		}
		policy.PublicKey = pem
		if len(required) == 0 {
			policy.RequiredChannels = withoutChannel(verify.AllChannels(), verify.ChannelProvenance)
		}
	} else {
		v.trusted, err = trustedRoot(ctx, fl)
		if err != nil {
			return verifier{}, err
		}
	}
	if err := policy.Validate(); err != nil {
		return verifier{}, usageError{err}
	}
	v.policy = policy
	return v, nil
}

// run verifies every channel of the index idx named by ref.
func (v verifier) run(ctx context.Context, g *globals, ref oci.Ref, idx v1.ImageIndex) (verify.Report, error) {
	d, _ := ref.Hash()
	store, err := attest.Open(ref, attest.StoreOptions{Keychain: authn.DefaultKeychain})
	if err != nil {
		return verify.Report{}, err
	}
	sources := verify.Sources{Bundles: bundleSource{store}}
	if ref.IsLayout() {
		sources.Legacy = verify.NewLayoutLegacyReader(ref.Layout)
	} else {
		sources.Legacy = verify.NewRegistryLegacyReader(ref.Repo, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	rep, err := verify.Run(ctx, verify.Options{
		Image: ref.String(), Index: idx, IndexDigest: d, Sources: sources, Trusted: v.trusted,
		Policy: v.policy, WithoutSCTUnsafe: v.withoutSCTUnsafe,
		Progress: g.progressLine("verify " + ref.String()),
	})
	g.progressDone()
	if err != nil {
		return rep, fmt.Errorf("verify %s: %w", ref, err)
	}
	return rep, nil
}

func trustedRoot(ctx context.Context, fl verifyFlags) (root.TrustedMaterial, error) {
	switch {
	case fl.trustedRoot != "" && fl.refreshTrustedRoot:
		return nil, usageError{fmt.Errorf("--trusted-root and --refresh-trusted-root are exclusive")}
	case fl.trustedRoot != "":
		tr, err := verify.LoadTrustedRoot(fl.trustedRoot)
		if err != nil {
			// Verification cannot run without trusted material (exit 3).
			return nil, fmt.Errorf("--trusted-root %s: %w", fl.trustedRoot, err)
		}
		return tr, nil
	case fl.refreshTrustedRoot:
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, err
		}
		path, err := verify.RefreshTrustedRoot(ctx, cache+"/clearcutt/tuf")
		if err != nil {
			return nil, fmt.Errorf("refreshing the trusted root: %w", err)
		}
		return verify.LoadTrustedRoot(path)
	}
	return verify.PublicGoodTrustedRoot()
}

func parseChannels(names []string) ([]verify.Channel, error) {
	var out []verify.Channel
	for _, n := range names {
		ok := false
		for _, c := range verify.AllChannels() {
			if string(c) == n {
				out, ok = append(out, c), true
			}
		}
		if !ok {
			return nil, fmt.Errorf("--require: unknown channel %q (channels: %s)", n, channelNames())
		}
	}
	return out, nil
}

func channelNames() string {
	var s []string
	for _, c := range verify.AllChannels() {
		s = append(s, string(c))
	}
	return strings.Join(s, ", ")
}

func withoutChannel(cs []verify.Channel, drop verify.Channel) []verify.Channel {
	var out []verify.Channel
	for _, c := range cs {
		if c != drop {
			out = append(out, c)
		}
	}
	return out
}

func renderVerify(g *globals, r verify.Report) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	mode := "keyless identity from the fleet file"
	if r.KeyMode {
		mode = "public key"
	}
	fmt.Fprintf(tw, "%s  (%s)\n", r.Image, mode)
	fmt.Fprintln(tw, "CHANNEL\tSTATUS\tREQUIRED\tFOR\tSIGNER\tDETAIL")
	for _, c := range r.Channels {
		fmt.Fprintf(tw, "%s\t%s\t%t\t\t\t\n", c.Channel, strings.ToUpper(string(c.Status)), c.Required)
		for _, e := range c.Entries {
			detail := e.Reason
			if detail == "" && e.ScanTime != nil {
				detail = "scanned " + e.ScanTime.UTC().Format(time.RFC3339)
			}
			// The whole reason: a cut one can hide what failed.
			signer := e.Signer
			if len(signer) > 60 {
				signer = "…" + signer[len(signer)-59:]
			}
			fmt.Fprintf(tw, "  \t%s\t\t%s %s\t%s\t%s\n", e.Status, e.Arch, shortDigest(e.Digest), signer, detail)
		}
	}
	return tw.Flush()
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19] + "…"
	}
	return d
}
