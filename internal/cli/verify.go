package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/verify"
)

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
(the local default signer), and no keyless flag is taken with it; provenance
from slsa-github-generator exists only in keyless mode and is then reported
but not required.

Exit status: 0 every required channel verified, 1 a required channel failed,
is missing or pending, 3 verification could not run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			var noFleet error
			switch {
			case err == nil:
			case errors.Is(err, fs.ErrNotExist):
				// The flags may pin everything: the policy says whether they do.
				f, noFleet = nil, err
			default:
				return err
			}
			rep, err := runVerify(cmd.Context(), g, f, args[0], fl)
			if noFleet != nil && errors.Is(err, verify.ErrIncompleteIdentity) {
				return usageErr(fmt.Errorf("%w (without a fleet file, give --key, or all of --certificate-identity, --certificate-oidc-issuer, --source-repository and --source-ref): %w", noFleet, err))
			}
			g.report(verifyStep(rep))
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

// runVerify verifies the index named by refStr under the policy of
// clearcutt.yaml f (nil: the flags pin everything) and the flags fl.
func runVerify(ctx context.Context, g *globals, f *fleet.File, refStr string, fl verifyFlags) (verify.Report, error) {
	v, err := newVerifier(ctx, f, fl)
	if err != nil {
		return verify.Report{}, err
	}
	ref, idx, err := stage.OpenIndex(ctx, refStr, "")
	if err != nil {
		return verify.Report{}, err
	}
	v.Progress = g
	return v.VerifyIndex(ctx, ref, idx)
}

// verifier is the identity policy and trusted material verification uses,
// set up once from clearcutt.yaml and the verify flags.
type verifier = stage.Verifier

// newVerifier composes the policy of the fleet's evidence (verify.NewPolicy)
// from clearcutt.yaml f, or without it (nil) from the flags alone, each
// flag given an option, and loads the trusted root it verifies keyless
// evidence with.
func newVerifier(ctx context.Context, f *fleet.File, fl verifyFlags) (verifier, error) {
	required, err := parseChannels(fl.require)
	if err != nil {
		return verifier{}, usageErr(err)
	}
	failOn, onlyFixable, err := stage.GatePolicy(f, fl.failOn, fl.onlyFixable)
	if err != nil {
		return verifier{}, err
	}
	maxDBAge, maxScanAge := stage.MaxAges(f, fl.maxDBAge, fl.maxScanAge)
	ev := verify.PinnedFleetEvidence()
	if f != nil {
		ev = verify.FleetEvidence(f.Identity)
	}
	opts := []verify.PolicyOption{
		verify.WithBuildSignerURI(fl.identity.SAN), verify.WithIssuer(fl.identity.Issuer),
		verify.WithSourceRepository(fl.identity.SourceRepositoryURI), verify.WithSourceRef(fl.identity.SourceRepositoryRef),
		verify.WithBuildSignerDigest(fl.signerDigest), verify.WithProvenanceSigner(fl.provenanceSigner),
		verify.WithRescanIdentity(fl.rescanIdentity),
		verify.WithMaxScanAge(maxScanAge), verify.WithMaxDBAge(maxDBAge),
		verify.WithGate(verify.GatePolicy{FailOn: failOn, OnlyFixable: onlyFixable}),
		verify.WithRequiredChannels(required...),
	}
	if fl.noRescanIdentity {
		opts = append(opts, verify.WithoutRescanIdentity())
	}
	if fl.key != "" {
		pem, err := os.ReadFile(fl.key)
		if err != nil {
			return verifier{}, usageErr(fmt.Errorf("--key: %w", err))
		}
		opts = append(opts, verify.WithKey(pem))
	}
	policy, err := verify.NewPolicy(ev, opts...)
	if err != nil {
		return verifier{}, usageErr(err)
	}
	v := verifier{Policy: policy, WithoutSCTUnsafe: fl.withoutSCTUnsafe}
	if len(policy.PublicKey) == 0 {
		if v.Trusted, err = trustedRoot(ctx, fl); err != nil {
			return verifier{}, err
		}
	}
	return v, nil
}

// run verifies every channel of the index idx named by ref.

func trustedRoot(ctx context.Context, fl verifyFlags) (root.TrustedMaterial, error) {
	switch {
	case fl.trustedRoot != "" && fl.refreshTrustedRoot:
		return nil, usageErr(fmt.Errorf("--trusted-root and --refresh-trusted-root are exclusive"))
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

func renderVerify(g *globals, r verify.Report) error {
	mode := "keyless identity from the fleet file"
	if r.KeyMode {
		mode = "public key"
	}
	fmt.Fprintf(g.stdout, "%s  (%s)\n", r.Image, mode)
	// The signer of most entries is named once; an entry another signer
	// made (the rescan workflow's scan) names its own.
	count := map[string]int{}
	for _, c := range r.Channels {
		for _, e := range c.Entries {
			if e.Signer != "" {
				count[e.Signer]++
			}
		}
	}
	signer := ""
	for s, n := range count {
		if n > count[signer] || (n == count[signer] && s < signer) {
			signer = s
		}
	}
	if signer != "" {
		fmt.Fprintf(g.stdout, "signed by %s\n", signer)
	}
	t := table{header: []string{"CHANNEL", "STATUS", "FOR", "DETAIL"}}
	for _, c := range r.Channels {
		note := ""
		if !c.Required {
			note = "not required"
		}
		t.add(string(c.Channel), strings.ToUpper(string(c.Status)), "", note)
		for _, e := range c.Entries {
			var detail []string
			if e.Signer != "" && e.Signer != signer {
				detail = append(detail, "signed by "+e.Signer)
			}
			if e.Reason != "" {
				detail = append(detail, e.Reason)
			} else if e.ScanTime != nil {
				detail = append(detail, "scanned "+e.ScanTime.UTC().Format(time.RFC3339))
			}
			t.add("", string(e.Status), e.Arch+" "+shortDigest(e.Digest), strings.Join(detail, "; "))
		}
	}
	return t.write(g.stdout, tableWidth)
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19] + "…"
	}
	return d
}
