package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clearcutt/clearcutt/internal/appimage"
	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/verify"
)

type appRebaseFlags struct {
	onto        string
	to          string
	tags        []string
	sign        attestFlags
	appKey      string
	appIdentity verify.Identity
	base        verifyFlags
	allowDev    bool
	asJSON      bool
}

func newAppRebaseCmd(g *globals) *cobra.Command {
	var fl appRebaseFlags
	cmd := &cobra.Command{
		Use:   "rebase APP@sha256:DIGEST --onto BASE@sha256:DIGEST --to DEST",
		Short: "Move a signed application image onto a newer base without rebuilding it",
		Long: `app rebase verifies the application index's own signature (its signer is the
application repository: --app-key PUBLIC_KEY, or keyless --app-certificate-identity
and --app-source-repository, exact values), verifies --onto with the fleet
identity (or --base-key), and checks that the new base is of the
application's runtime line (runtime and tier; the version may change), has
each of its architectures and runs as the same user. It then lays the
application layers, byte for byte (same digests, same diff_ids), over the new
base's layers, applies the application's configuration (recorded at build
time) over the new base's, updates the base labels and writes the index to
--to by digest, then tags it.

The rebased index and its platform images are signed, and a rebase
attestation (predicate type https://clearcutt.dev/attestations/rebase/v1:
application, old and new base, and per platform the images before and after
and the application layers kept) is attached to the index, keyless in GitHub
Actions (the job's OIDC identity) or with --key (default
$XDG_CONFIG_HOME/clearcutt/signing.key, created on first use).

An image without the app boundary labels, a new base of another runtime or
tier, a missing architecture or an application signature that does not
verify is refused with the reason, and nothing is written.

Exit status: 0 rebased, written and signed, 1 refused, 2 bad flags, 3 could
not run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fl.sign.check(cmd); err != nil {
				return err
			}
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			o, err := fl.rebase(cmd, g, f, args[0])
			if err != nil {
				return err
			}
			res, err := pipeline.AppRebase(cmd.Context(), o)
			rep := appRebaseReport{RebaseResult: res.RebaseResult, Reference: res.Reference, Refs: res.Refs, Attached: res.Attached}
			if errors.Is(err, ErrGateFailed) {
				rep.Refused = refusal(err)
			}
			g.report(rep)
			if err != nil && !errors.Is(err, ErrGateFailed) {
				return err
			}
			return g.emit(fl.asJSON, rep, func() error { return renderAppRebase(g, rep) }, err == nil, refusal(err))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&fl.onto, "onto", "", "the new fleet base index, by digest (required)")
	fs.StringVar(&fl.to, "to", "", "destination: a registry repository or oci:DIR (required)")
	fs.StringArrayVar(&fl.tags, "tag", nil, "tag the rebased index after it is written (repeatable; for oci:DIR, the one index.json entry name)")
	fl.sign.signingFlags.addFlags(cmd, keyUsage)
	fs.StringVar(&fl.appKey, "app-key", "", "verify the application's signature against this public key (PEM)")
	fs.StringVar(&fl.appIdentity.SAN, "app-certificate-identity", "", "exact Build Signer URI of the application's signing workflow, e.g. https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main")
	fs.StringVar(&fl.appIdentity.Issuer, "app-certificate-oidc-issuer", "", "OIDC issuer of the application's keyless signer (default: GitHub Actions', "+attest.GitHubActionsIssuer+")")
	fs.StringVar(&fl.appIdentity.SourceRepositoryURI, "app-source-repository", "", "Source Repository URI of the application, e.g. https://github.com/acme/app")
	fs.StringVar(&fl.appIdentity.SourceRepositoryRef, "app-source-ref", "", "Source Repository Ref of the application's signing run, e.g. refs/heads/main (not checked when empty)")
	// The base's verification flags are verify's own (so the two cannot
	// drift); its --key is --base-key here, --key being the signing key.
	vf := &cobra.Command{}
	addVerifyFlags(vf, &fl.base)
	vf.Flags().VisitAll(func(src *pflag.Flag) {
		c := *src
		if c.Name == "key" {
			c.Name, c.Usage = "base-key", "verify the new base against this public key (PEM) instead of the keyless identity in clearcutt.yaml"
		}
		c.Shorthand = ""
		fs.AddFlag(&c)
	})
	fs.BoolVar(&fl.allowDev, "allow-dev-base-unsafe", false, "rebase onto a base of a build-time tier (dev), which is never deployed")
	fs.BoolVar(&fl.asJSON, "json", false, "print the report as JSON")
	_ = cmd.MarkFlagRequired("onto")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// appRebaseReport is what app rebase prints.
type appRebaseReport struct {
	appimage.RebaseResult
	Reference string            `json:"reference,omitempty"`
	Refs      []string          `json:"refs,omitempty"`
	Attached  []attest.Attached `json:"attached,omitempty"`
	Refused   string            `json:"refused,omitempty"`
}

// appSignatureVerifier verifies the application's own signature, by the
// signer the app flags name: --app-key, or the exact keyless identity
// (issuer GitHub Actions' unless --app-certificate-oidc-issuer).
func appSignatureVerifier(ctx context.Context, fl appRebaseFlags) (verifier, error) {
	id := fl.appIdentity
	opts := []verify.PolicyOption{
		verify.WithBuildSignerURI(id.SAN), verify.WithIssuer(id.Issuer),
		verify.WithSourceRepository(id.SourceRepositoryURI), verify.WithSourceRef(id.SourceRepositoryRef),
	}
	if fl.appKey != "" {
		pem, err := os.ReadFile(fl.appKey)
		if err != nil {
			return verifier{}, usageErr(fmt.Errorf("--app-key: %w", err))
		}
		opts = append(opts, verify.WithKey(pem))
	}
	p, err := verify.NewPolicy(verify.ApplicationSignature(attest.GitHubActionsIssuer), opts...)
	if err != nil {
		return verifier{}, usageErr(fmt.Errorf("the application's signer (--app-key PUBLIC_KEY, or --app-certificate-identity and --app-source-repository, exact values): %w", err))
	}
	v := verifier{Policy: p, WithoutSCTUnsafe: fl.base.withoutSCTUnsafe}
	if len(p.PublicKey) == 0 {
		if v.Trusted, err = trustedRoot(ctx, fl.base); err != nil {
			return verifier{}, err
		}
	}
	return v, nil
}

// rebase translates the flags into the options of pipeline.AppRebase.
func (fl appRebaseFlags) rebase(cmd *cobra.Command, g *globals, f *fleet.File, app string) (pipeline.AppRebaseOptions, error) {
	o := pipeline.AppRebaseOptions{Fleet: f, App: app, Onto: fl.onto, AllowBuildOnlyBaseUnsafe: fl.allowDev, Progress: g}
	var err error
	if o.Publish, err = pipeline.AppDestination(fl.to, fl.tags); err != nil {
		return o, err
	}
	if o.AppVerifier, err = appSignatureVerifier(cmd.Context(), fl); err != nil {
		return o, err
	}
	if o.BaseVerifier, err = newVerifier(cmd.Context(), f, fl.base); err != nil {
		return o, err
	}
	// The rebased application is signed under the application
	// repository's own identity, which clearcutt.yaml does not name.
	o.NewSigner = func() (attest.Signer, error) { return attestSigner(cmd, g, fl.sign, nil) }
	return o, nil
}

func renderAppRebase(g *globals, r appRebaseReport) error {
	// Labelled lines and the table of platforms are laid out apart: their
	// columns differ.
	head := table{}
	head.add("app", r.App)
	if r.OldBase != "" {
		head.add("old base", r.OldBase)
	}
	if r.NewBase.Reference != "" {
		head.add("new base", r.NewBase.Reference+"  "+baseLine(r.NewBase))
	}
	if r.Refused != "" {
		head.add("REFUSED", r.Refused)
		return head.write(g.stdout, tableWidth)
	}
	head.add("rebased", r.Reference)
	if err := head.write(g.stdout, tableWidth); err != nil {
		return err
	}
	t := table{header: []string{"PLATFORM", "BEFORE", "AFTER", "OLD BASE", "NEW BASE", "APP LAYERS KEPT"}}
	for _, p := range r.Platforms {
		var ls []string
		for _, l := range p.AppLayers {
			ls = append(ls, shortDigest(l.Digest.String()))
		}
		t.add(p.Platform, shortDigest(p.Before.String()), shortDigest(p.After.String()), shortDigest(p.OldBase.String()),
			shortDigest(p.NewBase.String()), strings.Join(ls, ", "))
	}
	if err := t.write(g.stdout, tableWidth); err != nil {
		return err
	}
	tail := table{}
	for _, ref := range r.Refs[1:] {
		tail.add("tagged", ref)
	}
	if err := tail.write(g.stdout, tableWidth); err != nil {
		return err
	}
	return writeParagraph(g.stdout, fmt.Sprintf("%d bundles stored (signatures and the rebase attestation %s)", len(r.Attached), appimage.PredicateRebase))
}

func (r appRebaseReport) stage(key string) (step, bool) {
	if key != "app rebase" || r.Reference == "" {
		return step{}, false
	}
	var md strings.Builder
	md.WriteString(gha.Heading(3, "clearcutt app rebase "+r.Reference))
	md.WriteString(gha.Paragraph(fmt.Sprintf("%s moved from %s to %s (%s).", r.App, r.OldBase, r.NewBase.Reference, baseLine(r.NewBase))))
	t := gha.Table{Header: []string{"Platform", "Before", "After", "App layers kept"}, Code: map[int]bool{1: true, 2: true}}
	for _, p := range r.Platforms {
		t.Rows = append(t.Rows, []string{p.Platform, p.Before.String(), p.After.String(), strconv.Itoa(len(p.AppLayers))})
	}
	md.WriteString(t.Markdown())
	return step{outputs: map[string]string{"digest": r.Digest.String(), "reference": r.Reference, "refs": jsonString(r.Refs)}, summary: md.String()}, true
}
