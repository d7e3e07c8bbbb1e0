package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clearcutt/clearcutt/internal/appimage"
	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// githubIssuer is the OIDC issuer of GitHub Actions tokens.
const githubIssuer = "https://token.actions.githubusercontent.com"

func newAppCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Build application images on fleet bases, compare bases and rebase",
		Long: `app is the application team's side of the fleet: build an application image on
a verified fleet base (app build), see what moving to a newer base changes
(app diff-base), and move a signed application image onto it without
rebuilding (app rebase). Bases are verified with the fleet identity from
clearcutt.yaml (or --key/--base-key in key mode), exactly as 'clearcutt verify'
does; application images are signed under the application repository's own
identity.`,
	}
	cmd.AddCommand(newAppBuildCmd(g), newAppDiffCmd(g), newAppRebaseCmd(g))
	return cmd
}

// ---- app build

type appBuildFlags struct {
	base       string
	artifacts  []string
	dest       string
	entrypoint string
	cmd        string
	workdir    string
	env        []string
	labels     []string
	to         string
	tags       []string
	epoch      int64
	allowDev   bool
	verify     verifyFlags
	asJSON     bool
}

func newAppBuildCmd(g *globals) *cobra.Command {
	var fl appBuildFlags
	cmd := &cobra.Command{
		Use:   "build --base BASE@sha256:DIGEST --artifact PATH --to DEST",
		Short: "Build an application image on a verified fleet base",
		Long: `app build verifies the base index named by digest with the same code as
'clearcutt verify' (the fleet identity from clearcutt.yaml, or --key; every
required channel, every architecture): a base that fails, misses a channel or
is of a build-time tier (dev) stops the build and nothing is written.

It then adds each --artifact as a layer of its own on top of every platform
image of the base: a directory's contents, or a single file by its name, under
--dest (default /app), owned by the base's non-root user, with modes
normalised (0755 executables, 0644 other files), mtimes from
--source-date-epoch / $SOURCE_DATE_EPOCH and sorted entries, so the same
inputs always give the same digest. An artifact given as
linux/arm64=PATH goes into that platform's image only. The base's user is
kept; --entrypoint and --cmd (JSON arrays), --workdir, --env and --label are
applied over the base's configuration.

The image records its base: org.opencontainers.image.base.digest (the base
platform manifest), org.opencontainers.image.base.name (the base reference),
dev.clearcutt.app.base-layers and dev.clearcutt.app.base-top-layer (where the
base ends, for 'app rebase') and dev.clearcutt.app.config (the configuration
applied). The index, with the base's platforms, is written to --to by digest,
then tagged.

Exit status: 0 built and written, 1 the base was refused, 2 bad flags or
artifacts, 3 could not run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			o, err := fl.build(cmd.Context(), g, f)
			if err != nil {
				return err
			}
			res, err := pipeline.AppBuild(cmd.Context(), o)
			rep := appBuildReport{BuildResult: res.BuildResult, Reference: res.Reference, Refs: res.Refs}
			if errors.Is(err, ErrGateFailed) {
				rep.Refused = refusal(err)
			}
			g.report(rep)
			if err != nil && !errors.Is(err, ErrGateFailed) {
				return err
			}
			return g.emit(fl.asJSON, rep, func() error { return renderAppBuild(g, rep) }, err == nil, refusal(err))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&fl.base, "base", "", "the fleet base index, by digest (registry reference or oci:DIR@sha256:…) (required)")
	fs.StringArrayVar(&fl.artifacts, "artifact", nil, "a directory or file to add as a layer; PLATFORM=PATH (e.g. linux/arm64=dist/arm64) for one platform only (repeatable, required)")
	fs.StringVar(&fl.dest, "dest", appimage.DefaultDest, "image directory the artifacts are placed under")
	fs.StringVar(&fl.entrypoint, "entrypoint", "", `entrypoint as a JSON array, e.g. '["/app/server"]' (default: the base's)`)
	fs.StringVar(&fl.cmd, "cmd", "", `command (arguments) as a JSON array (default: the base's, cleared by --entrypoint)`)
	fs.StringVar(&fl.workdir, "workdir", "", "working directory (default: the base's)")
	fs.StringArrayVar(&fl.env, "env", nil, "environment variable KEY=VALUE (repeatable)")
	fs.StringArrayVar(&fl.labels, "label", nil, "image label KEY=VALUE, e.g. org.opencontainers.image.source=https://github.com/acme/app (repeatable)")
	fs.StringVar(&fl.to, "to", "", "destination: a registry repository or oci:DIR (required)")
	fs.StringArrayVar(&fl.tags, "tag", nil, "tag the index after it is written (repeatable; for oci:DIR, the one index.json entry name)")
	fs.Int64Var(&fl.epoch, "source-date-epoch", -1, "time of every file and of the image (default: $SOURCE_DATE_EPOCH, else build.sourceDateEpoch)")
	fs.BoolVar(&fl.allowDev, "allow-dev-base-unsafe", false, "build on a base of a build-time tier (dev), which is never deployed")
	addVerifyFlags(cmd, &fl.verify)
	fs.BoolVar(&fl.asJSON, "json", false, "print the report as JSON")
	_ = cmd.MarkFlagRequired("base")
	_ = cmd.MarkFlagRequired("artifact")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// appBuildReport is what app build prints.
type appBuildReport struct {
	appimage.BuildResult
	// Reference is the written index by digest; Refs every reference written.
	Reference string   `json:"reference,omitempty"`
	Refs      []string `json:"refs,omitempty"`
	// Refused is why the build was refused ("" when it was not).
	Refused string `json:"refused,omitempty"`
}

func refusal(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimPrefix(err.Error(), ErrGateFailed.Error()+": ")
}

// parseJSONArgv reads a JSON array of strings given to flag.
func parseJSONArgv(flag, s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil || len(out) == 0 {
		return nil, usageErr(fmt.Errorf("--%s %s: want a non-empty JSON array of strings, e.g. '[\"/app/server\"]'", flag, s))
	}
	return out, nil
}

func parseKeyValues(flag string, kvs []string) (map[string]string, []string, error) {
	m := map[string]string{}
	var list []string
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, usageErr(fmt.Errorf("--%s %q: want KEY=VALUE", flag, kv))
		}
		if _, dup := m[k]; dup {
			return nil, nil, usageErr(fmt.Errorf("--%s %s given twice", flag, k))
		}
		m[k] = v
		list = append(list, k+"="+v)
	}
	return m, list, nil
}

func appConfigFlags(fl appBuildFlags) (appimage.Config, error) {
	var c appimage.Config
	var err error
	if c.Entrypoint, err = parseJSONArgv("entrypoint", fl.entrypoint); err != nil {
		return c, err
	}
	if c.Cmd, err = parseJSONArgv("cmd", fl.cmd); err != nil {
		return c, err
	}
	if _, c.Env, err = parseKeyValues("env", fl.env); err != nil {
		return c, err
	}
	labels, _, err := parseKeyValues("label", fl.labels)
	if err != nil {
		return c, err
	}
	if len(labels) > 0 {
		c.Labels = labels
	}
	c.WorkingDir = fl.workdir
	if err := c.Validate(); err != nil {
		return c, usageErr(err)
	}
	return c, nil
}

// build translates the flags into the options of pipeline.AppBuild.
func (fl appBuildFlags) build(ctx context.Context, g *globals, f *fleet.File) (pipeline.AppBuildOptions, error) {
	o := pipeline.AppBuildOptions{Fleet: f, Base: fl.base, Dest: fl.dest, AllowBuildOnlyBaseUnsafe: fl.allowDev, Log: g.stderr, Progress: g}
	var err error
	if o.Config, err = appConfigFlags(fl); err != nil {
		return o, err
	}
	for _, s := range fl.artifacts {
		a, err := appimage.ParseArtifact(s)
		if err != nil {
			return o, usageErr(fmt.Errorf("--artifact: %w", err))
		}
		o.Artifacts = append(o.Artifacts, a)
	}
	if o.Publish, err = pipeline.AppDestination(fl.to, fl.tags); err != nil {
		return o, err
	}
	if o.SourceDateEpoch, err = sourceDateEpoch(fl.epoch, f); err != nil {
		return o, err
	}
	o.Verifier, err = newVerifier(ctx, f, fl.verify)
	o.Verifier.Progress = g
	return o, err
}

func renderAppBuild(g *globals, r appBuildReport) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	if r.Base.Reference != "" {
		fmt.Fprintf(tw, "base\t%s\t%s\n", r.Base.Reference, baseLine(r.Base))
	}
	if r.Refused != "" {
		fmt.Fprintf(tw, "REFUSED\t%s\n", r.Refused)
		if len(r.BaseVerification.Channels) > 0 {
			if err := tw.Flush(); err != nil {
				return err
			}
			return renderVerify(g, r.BaseVerification)
		}
		return tw.Flush()
	}
	fmt.Fprintf(tw, "app\t%s\n", r.Reference)
	fmt.Fprintln(tw, "PLATFORM\tDIGEST\tBASE DIGEST\tBASE LAYERS\tAPP LAYERS")
	for _, p := range r.Platforms {
		var ls []string
		for _, l := range p.AppLayers {
			ls = append(ls, fmt.Sprintf("%s (%s, %s)", shortDigest(l.Digest.String()), l.Describe, humanize.IBytes(uint64(l.Size))))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", p.Platform, p.Digest, shortDigest(p.BaseDigest.String()), p.BaseLayers, strings.Join(ls, ", "))
	}
	for _, ref := range r.Refs[1:] {
		fmt.Fprintf(tw, "tagged\t%s\n", ref)
	}
	return tw.Flush()
}

func baseLine(b appimage.Base) string {
	s := b.Line()
	if b.Version != "" {
		s += " version " + b.Version
	}
	return s
}

func (r appBuildReport) stage(key string) (step, bool) {
	if key != "app build" || r.Reference == "" {
		return step{}, false
	}
	var md strings.Builder
	md.WriteString(gha.Heading(3, "clearcutt app build "+r.Reference))
	md.WriteString(gha.Paragraph(fmt.Sprintf("On %s (%s), verified with every required channel.", r.Base.Reference, baseLine(r.Base))))
	t := gha.Table{Header: []string{"Platform", "Digest", "Base digest", "Base layers", "App layers"}, Code: map[int]bool{1: true, 2: true}}
	for _, p := range r.Platforms {
		t.Rows = append(t.Rows, []string{p.Platform, p.Digest.String(), p.BaseDigest.String(), strconv.Itoa(p.BaseLayers), strconv.Itoa(len(p.AppLayers))})
	}
	md.WriteString(t.Markdown())
	return step{outputs: map[string]string{"digest": r.Digest.String(), "reference": r.Reference, "refs": jsonString(r.Refs)}, summary: md.String()}, true
}

// ---- app diff-base

type appDiffFlags struct {
	candidate string
	verify    verifyFlags
	asJSON    bool
}

func newAppDiffCmd(g *globals) *cobra.Command {
	var fl appDiffFlags
	cmd := &cobra.Command{
		Use:   "diff-base APP@sha256:DIGEST --candidate BASE@sha256:DIGEST",
		Short: "Compare the base an application is on with a candidate base",
		Long: `app diff-base reads the base an application index was built on (its
org.opencontainers.image.base.name label) and compares it with --candidate,
per platform of the application: the packages added, removed and changed
between the two bases' SBOMs, and the vulnerabilities fixed, new and still
present between their vulnerability attestations. Both bases are verified
with the fleet identity (or --key), and only evidence whose signature
verified is read (a current base's scan that is merely stale is still read).

The candidate must be of the same runtime line: runtime and tier equal; the
runtime version may change, and the report says when it does.

Exit status: 0 compared, 1 the candidate is not of the same line, lacks a
platform, fails verification, or the evidence to compare is not verified,
2 bad flags, 3 could not run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			v, err := newVerifier(cmd.Context(), f, fl.verify)
			if err != nil {
				return err
			}
			v.Progress = g
			res, err := pipeline.AppDiff(cmd.Context(), pipeline.AppDiffOptions{App: args[0], Candidate: fl.candidate, Verifier: v})
			rep := appDiffReport{DiffReport: res}
			g.report(rep)
			if err != nil {
				return err
			}
			return g.emit(fl.asJSON, rep, func() error { return renderAppDiff(g, rep) }, rep.Passed, strings.Join(rep.Problems, "; "))
		},
	}
	cmd.Flags().StringVar(&fl.candidate, "candidate", "", "the candidate base index, by digest (required)")
	addVerifyFlags(cmd, &fl.verify)
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the report as JSON")
	_ = cmd.MarkFlagRequired("candidate")
	return cmd
}

// appDiffReport is what app diff-base prints.
type appDiffReport struct {
	appimage.DiffReport
}

func renderAppDiff(g *globals, r appDiffReport) error {
	w := g.stdout
	fmt.Fprintf(w, "app        %s\ncurrent    %s  %s\ncandidate  %s  %s\n", r.App, r.Current.Reference, baseLine(r.Current), r.Candidate.Reference, baseLine(r.Candidate))
	switch {
	case !r.SameLine:
		fmt.Fprintf(w, "line       NOT the same: %s -> %s\n", r.Current.Line(), r.Candidate.Line())
	case r.VersionChanged:
		fmt.Fprintf(w, "line       same (%s); runtime version %s -> %s\n", r.Current.Line(), orNone(r.Current.Version), orNone(r.Candidate.Version))
	default:
		fmt.Fprintf(w, "line       same (%s), same runtime version\n", r.Current.Line())
	}
	verified := "verified"
	if !r.CandidateVerified {
		verified = "NOT verified"
	}
	fmt.Fprintf(w, "candidate  %s\n", verified)
	for _, p := range r.Platforms {
		fmt.Fprintf(w, "\n%s  %s -> %s\n", p.Platform, shortDigest(p.Current.String()), shortDigest(p.Candidate.String()))
		pk := p.Packages
		fmt.Fprintf(w, "  packages: %d added, %d removed, %d changed, %d unchanged\n", len(pk.Added), len(pk.Removed), len(pk.Changed), pk.Unchanged)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range pk.Added {
			fmt.Fprintf(tw, "    +\t%s\t%s\n", c.Name, strings.Join(c.After, ", "))
		}
		for _, c := range pk.Removed {
			fmt.Fprintf(tw, "    -\t%s\t%s\n", c.Name, strings.Join(c.Before, ", "))
		}
		for _, c := range pk.Changed {
			fmt.Fprintf(tw, "    ~\t%s\t%s -> %s\n", c.Name, strings.Join(c.Before, ", "), strings.Join(c.After, ", "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		vd := p.Vulnerabilities
		fmt.Fprintf(w, "  vulnerabilities: %d fixed, %d new, %d still present\n", len(vd.Fixed), len(vd.New), len(vd.Still))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, group := range []struct {
			mark string
			vs   []appimage.VulnChange
		}{{"fixed", vd.Fixed}, {"new", vd.New}, {"still", vd.Still}} {
			for _, c := range group.vs {
				fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\n", group.mark, c.ID, c.Severity, c.Package, vulnStates(c))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "\nproblem: %s\n", p)
	}
	return nil
}

func vulnStates(c appimage.VulnChange) string {
	side := func(version, status string) string {
		if version == "" && status == "" {
			return "-"
		}
		return strings.TrimSpace(version + " " + status)
	}
	return side(c.BeforeVersion, c.BeforeStatus) + " -> " + side(c.AfterVersion, c.AfterStatus)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (r appDiffReport) stage(key string) (step, bool) {
	if key != "app diff-base" || r.App == "" {
		return step{}, false
	}
	var md strings.Builder
	md.WriteString(gha.Heading(3, fmt.Sprintf("%s clearcutt app diff-base %s", passIcon(r.Passed), r.App)))
	md.WriteString(gha.Paragraph(fmt.Sprintf("Current base %s (%s), candidate %s (%s).", r.Current.Reference, baseLine(r.Current), r.Candidate.Reference, baseLine(r.Candidate))))
	md.WriteString(gha.List(r.Problems, 0))
	t := gha.Table{Header: []string{"Platform", "Added", "Removed", "Changed", "Fixed", "New", "Still present"}}
	fixed, added := 0, 0
	for _, p := range r.Platforms {
		v := p.Vulnerabilities
		fixed, added = fixed+len(v.Fixed), added+len(v.New)
		t.Rows = append(t.Rows, []string{p.Platform, strconv.Itoa(len(p.Packages.Added)), strconv.Itoa(len(p.Packages.Removed)), strconv.Itoa(len(p.Packages.Changed)),
			strconv.Itoa(len(v.Fixed)), strconv.Itoa(len(v.New)), strconv.Itoa(len(v.Still))})
	}
	md.WriteString(t.Markdown())
	return step{outputs: map[string]string{
		"passed": strconv.FormatBool(r.Passed), "same-line": strconv.FormatBool(r.SameLine),
		"fixed": strconv.Itoa(fixed), "new": strconv.Itoa(added),
	}, summary: md.String()}, true
}

// ---- app rebase

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
	fs.StringVar(&fl.appIdentity.Issuer, "app-certificate-oidc-issuer", "", "OIDC issuer of the application's keyless signer (default: GitHub Actions', "+githubIssuer+")")
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
	p, err := verify.NewPolicy(verify.ApplicationSignature(githubIssuer), opts...)
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
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "app\t%s\n", r.App)
	if r.OldBase != "" {
		fmt.Fprintf(tw, "old base\t%s\n", r.OldBase)
	}
	if r.NewBase.Reference != "" {
		fmt.Fprintf(tw, "new base\t%s\t%s\n", r.NewBase.Reference, baseLine(r.NewBase))
	}
	if r.Refused != "" {
		fmt.Fprintf(tw, "REFUSED\t%s\n", r.Refused)
		return tw.Flush()
	}
	fmt.Fprintf(tw, "rebased\t%s\n", r.Reference)
	fmt.Fprintln(tw, "PLATFORM\tBEFORE\tAFTER\tOLD BASE\tNEW BASE\tAPP LAYERS KEPT")
	for _, p := range r.Platforms {
		var ls []string
		for _, l := range p.AppLayers {
			ls = append(ls, shortDigest(l.Digest.String()))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Platform, shortDigest(p.Before.String()), p.After, shortDigest(p.OldBase.String()),
			shortDigest(p.NewBase.String()), strings.Join(ls, ", "))
	}
	for _, ref := range r.Refs[1:] {
		fmt.Fprintf(tw, "tagged\t%s\n", ref)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(g.stdout, "%d bundles stored (signatures and the rebase attestation %s)\n", len(r.Attached), appimage.PredicateRebase)
	return err
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
