package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/stage"
)

type attestFlags struct {
	signingFlags
	evidence     string
	allowMissing bool
	asJSON       bool
}

func newAttestCmd(g *globals) *cobra.Command {
	var fl attestFlags
	cmd := &cobra.Command{
		Use:   "attest IMAGE@sha256:DIGEST",
		Short: "Sign an image index and its platform images and attach their evidence as Sigstore bundles",
		Long: `attest signs the index named by digest and each of its platform images (the
statement cosign v3 signs) and attaches, per platform, the SBOM, test result,
vulnerability scan and VEX found in EVIDENCE/sha256-<hex>/ as in-toto
attestations. The index digest, the one a Pod names and admission controllers
check, also gets an SBOM and a test result: those found in
EVIDENCE/sha256-<index hex>/, else ones derived from the platforms' (an SPDX
document listing the platform images and pinning each platform's SBOM by
SHA256; a test result that is PASSED only when every platform's is), shown
as "(index, derived)" in the table.

Every signature is a Sigstore bundle (v0.3) stored next to the
image as an OCI referrer, the layout cosign v3 writes: in the same OCI layout
(oci:DIR@sha256:…) or the same registry repository, with the sha256-<hex> tag
fallback where the registry has no referrers API.

Signing is keyless (Fulcio certificate for the job's OIDC identity, Rekor
entry) by default in GitHub Actions when the job may request an OIDC token,
and with a key pair elsewhere: --key PATH, by default
$XDG_CONFIG_HOME/clearcutt/signing.key, generated on first use. Key
signatures carry no transparency-log entry.

Before any certificate is requested, the job's OIDC token must name the
identity of clearcutt.yaml that verify pins (when its issuer is GitHub's):
iss identity.issuer, repository identity.repository, ref identity.ref and
job_workflow_ref identity.workflowRepository/workflow@workflowRef; a run from
another branch or tag, repository or workflow is refused, as verification
would refuse what it signed. A token of another repository running its own
workflow (an application repository) signs under its own identity. A
repository that is not public is refused unless --private-repository: the
certificate, entered in the public Rekor log, names the repository, the
workflow, the ref, the commit and the run.

A platform without its SBOM, test result or vulnerability scan fails the run
(exit 1) before anything is signed.

Exit status: 0 signed and attached, 1 a platform lacks its SBOM, test result or
vulnerability scan (nothing signed), 2 bad flags, reference, key or evidence,
or a job whose OIDC token does not name the fleet's identity, 3 could not run
(registry, Fulcio, Rekor, I/O).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fl.check(cmd); err != nil {
				return err
			}
			// Keyless signing checks the job's token against the fleet's
			// identity; key signing needs no fleet file.
			var f *fleet.File
			if fl.signsKeyless(cmd) {
				var err error
				if f, err = g.loadFleet(); err != nil {
					return usageErr(fmt.Errorf("keyless signing checks the job's OIDC token against the identity in the fleet file: %w", err))
				}
			}
			res, err := runAttest(cmd, g, args[0], fl, f)
			g.report(attestStep(res))
			if err != nil {
				return err
			}
			if fl.asJSON {
				return writeJSON(g.stdout, res)
			}
			return renderAttest(g, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.evidence, "evidence", "out/evidence", "directory of per-digest evidence (sha256-<hex>/{sbom.spdx.json,test-result.json,vulns.json,vex.json})")
	fl.signingFlags.addFlags(cmd, keyUsage)
	f.BoolVar(&fl.allowMissing, "allow-missing-evidence-unsafe", false, "attach what exists when a platform lacks its SBOM, test result or vulnerability scan")
	f.BoolVar(&fl.asJSON, "json", false, "print the result as JSON")
	return cmd
}

// runAttest signs refStr and attaches its evidence; f, when set, is the
// fleet whose publish identity a keyless signer must have.
func runAttest(cmd *cobra.Command, g *globals, refStr string, fl attestFlags, f *fleet.File) (attest.Result, error) {
	// The reference is checked before a key is made or a token requested.
	if _, err := oci.RequireDigest(refStr); err != nil {
		return attest.Result{}, usageErr(err)
	}
	a, err := fl.attester(cmd, g, f)
	if err != nil {
		return attest.Result{}, err
	}
	res, err := a.Sign(cmd.Context(), refStr)
	if err != nil {
		return res, err
	}
	for _, m := range res.Missing {
		fmt.Fprintf(g.stderr, "clearcutt: warning: attested without %s (--allow-missing-evidence-unsafe)\n", m)
	}
	return res, nil
}

// attester is the signing stage the flags describe; f, when set, is the
// fleet whose publish identity a keyless signer must have.
func (fl attestFlags) attester(cmd *cobra.Command, g *globals, f *fleet.File) (stage.Attester, error) {
	var expect *attest.TokenExpectation
	if f != nil {
		expect = attest.FleetTokenExpectation(f.Identity, attest.PublishWorkflow)
	}
	signer, err := attestSigner(cmd, g, fl, expect)
	if err != nil {
		return stage.Attester{}, err
	}
	return stage.Attester{Signer: signer, Evidence: fl.evidence, AllowMissingEvidenceUnsafe: fl.allowMissing, Progress: g}, nil
}

// keyUsage is the help of --key on the commands that sign.
const keyUsage = "private signing key (PEM PKCS#8 ECDSA P-256; default $XDG_CONFIG_HOME/clearcutt/signing.key, created on first use)"

// privateRepositoryUsage is the help of --private-repository, on every
// command that signs keyless.
const privateRepositoryUsage = "sign keyless although the repository is not public (private or internal): the certificate, in the public Rekor log, names the repository, workflow, ref, commit and run"

// attestSigner picks keyless signing (signingFlags.signsKeyless) or a key pair. A
// keyless signer's tokens must name expect (nil: any identity) and be of a
// public repository unless --private-repository; one token is checked
// here, so that a job that may not sign stops before doing any work.
func attestSigner(cmd *cobra.Command, g *globals, fl attestFlags, expect *attest.TokenExpectation) (attest.Signer, error) {
	if fl.signsKeyless(cmd) {
		reqURL, reqTok := os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), os.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
		if reqURL == "" {
			return nil, usageErr(errors.New("--keyless needs an OIDC token: run in GitHub Actions with permissions id-token: write"))
		}
		s, err := attest.NewKeyless(attest.KeylessOptions{
			FulcioURL: fl.fulcioURL, RekorURL: fl.rekorURL, TSAURL: fl.tsaURL,
			IDToken: attest.GitHubActionsToken(reqURL, reqTok, nil),
			Expect:  expect, PrivateRepository: fl.privateRepository,
		})
		if err != nil {
			return nil, usageErr(err)
		}
		if err := s.CheckIdentity(cmd.Context()); err != nil {
			if errors.Is(err, attest.ErrTokenIdentity) || errors.Is(err, attest.ErrPrivateRepository) {
				return nil, usageErr(err)
			}
			return nil, err
		}
		return s, nil
	}
	path, create := fl.key, false
	if path == "" {
		p, err := defaultKeyPath()
		if err != nil {
			return nil, usageErr(fmt.Errorf("no --key given: %w", err))
		}
		path, create = p, true
	}
	s, err := attest.LoadOrCreateKey(path, create)
	if err != nil {
		return nil, usageErr(err)
	}
	if s.Created {
		fmt.Fprintf(g.stderr, "clearcutt: created signing key %s; verifiers need its public key %s\n", s.Path(), s.PublicKeyPath())
	}
	return s, nil
}

func renderAttest(g *globals, r attest.Result) error {
	// Each subject is named once, whole, on a line of its own; the bundles
	// stored for it follow.
	t := table{}
	t.add("SUBJECT", "PREDICATE TYPE", "ARTIFACT", "TRANSPARENCY")
	last := ""
	for _, a := range r.Attached {
		subj := a.Subject.String() + " (index)"
		if a.Derived {
			subj = a.Subject.String() + " (index, derived)"
		}
		if a.Platform != "" {
			subj = a.Subject.String() + " (" + a.Platform + ")"
		}
		if subj != last {
			t.add(subj)
			last = subj
		}
		tl := "none (key)"
		if len(a.LogIndexes) > 0 {
			var xs []string
			for _, i := range a.LogIndexes {
				xs = append(xs, fmt.Sprintf("rekor %d", i))
			}
			tl = strings.Join(xs, ", ")
		} else if r.Mode != attest.ModeKey {
			tl = "none"
		}
		t.add("", a.PredicateType, shortDigest(a.Artifact.String()), tl)
	}
	t.add(fmt.Sprintf("%d bundles stored in %s", len(r.Attached), r.Store))
	return t.write(g.stdout, tableWidth)
}

// defaultKeyPath is the local signing key: $XDG_CONFIG_HOME/clearcutt/signing.key.
func defaultKeyPath() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home directory: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "clearcutt", "signing.key"), nil
}
