package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/verify"
)

func init() { extraCommands = append(extraCommands, newPipelineCmd) }

type pipelineFlags struct {
	work     string
	to       string
	nixpkgs  string
	only     []string
	cache    string
	noSmoke  bool
	asJSON   bool
	scan     scanFlags
	attest   attestFlags
	noAttest bool
}

func newPipelineCmd(g *globals) *cobra.Command {
	var fl pipelineFlags
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Build, gate, publish, sign and verify every image of the fleet",
		Long: `pipeline runs, for every image of the fleet (or the images named by --only):
build, assemble, test (tier gates and smoke run), sbom and scan (the
vulnerability gate against --db). Only when every gate of every image passed
does it publish them to --to, by digest only — a failed gate publishes
nothing — then sign them and attach their evidence (attest) and verify every
channel of every published image (verify); only when every image verified do
its tags (layout names) move. It signs with the local key (default) or keyless in GitHub
Actions. Work files go under --work (closures/, stage/, evidence/).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := runPipeline(cmd, g, f, fl)
			g.report(rep)
			if fl.asJSON {
				if werr := writeJSON(g.stdout, rep); werr != nil && err == nil {
					err = werr
				}
			} else {
				if rerr := renderPipeline(g, rep); rerr != nil && err == nil {
					err = rerr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&fl.work, "work", "out", "work directory for closure manifests, the staging layout and evidence")
	cmd.Flags().StringVar(&fl.to, "to", "oci:out/oci", "destination: oci:DIR, or a registry repository prefix")
	cmd.Flags().StringVar(&fl.nixpkgs, "nixpkgs", "", "replace the locked nixpkgs input (e.g. nix/fixtures, the offline package set)")
	cmd.Flags().StringSliceVar(&fl.only, "only", nil, "build only these images: runtime or runtime:tier (repeatable)")
	cmd.Flags().StringVar(&fl.cache, "cache", "", "compressed-layer cache (default: the user cache directory)")
	cmd.Flags().BoolVar(&fl.noSmoke, "no-smoke", false, "do not execute images (smoke checks are reported as skipped)")
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the report as JSON")
	fs := cmd.Flags()
	fs.StringVar(&fl.scan.db, "db", "", "Grype v6 vulnerability database directory (required; 'clearcutt vulndb build' makes one)")
	fs.StringVar(&fl.scan.vexDir, "vex-dir", "", "OpenVEX documents (default: vex/ next to the fleet file, if present)")
	fs.StringVar(&fl.scan.exceptions, "exceptions", "", "exceptions file (default: exceptions.yaml next to the fleet file, if present)")
	fs.StringVar(&fl.scan.failOn, "fail-on", "", failOnUsage)
	fs.BoolVar(&fl.scan.onlyFixable, "only-fixable", false, onlyFixableUsage)
	durationFlag(fs, &fl.scan.maxDBAge, "max-db-age", maxDBAgeUsage)
	fs.BoolVar(&fl.scan.allowStaleUnsf, "allow-stale-db-unsafe", false, "accept a database older than --max-db-age")
	fs.StringVar(&fl.attest.key, "key", "", "signing key (default $XDG_CONFIG_HOME/clearcutt/signing.key, created on first use)")
	fs.BoolVar(&fl.attest.keyless, "keyless", false, "sign keyless with the job's OIDC identity (the default in GitHub Actions)")
	fs.StringVar(&fl.attest.fulcioURL, "fulcio-url", "https://fulcio.sigstore.dev", "Fulcio URL for keyless signing")
	fs.StringVar(&fl.attest.rekorURL, "rekor-url", "https://rekor.sigstore.dev", "Rekor URL for keyless signing")
	fs.BoolVar(&fl.attest.privateRepository, "private-repository", false, privateRepositoryUsage)
	fs.BoolVar(&fl.noAttest, "no-attest-unsafe", false, "publish without signing, attaching evidence or verifying")
	_ = cmd.MarkFlagRequired("db")
	return cmd
}

// pipelineImage is one image's outcome.
type pipelineImage struct {
	Image     string          `json:"image"`
	Reference string          `json:"reference,omitempty"`
	Digest    string          `json:"digest,omitempty"`
	Assemble  *assembleReport `json:"assemble,omitempty"`
	Test      *testReport     `json:"test,omitempty"`
	SBOM      *sbomReport     `json:"sbom,omitempty"`
	Scan      *scanReport     `json:"scan,omitempty"`
	Publish   *publishReport  `json:"publish,omitempty"`
	Published string          `json:"published,omitempty"`
	Attest    *attest.Result  `json:"attest,omitempty"`
	Verify    *verify.Report  `json:"verify,omitempty"`
	Error     string          `json:"error,omitempty"`
}

type pipelineReport struct {
	Fleet       string          `json:"fleet"`
	Destination string          `json:"destination"`
	Images      []pipelineImage `json:"images"`
	Passed      bool            `json:"passed"`
	Published   bool            `json:"published"`
	// Tagged is true once the tags (layout names) moved: after every
	// published image verified.
	Tagged   bool    `json:"tagged"`
	Verified bool    `json:"verified"`
	Seconds  float64 `json:"seconds"`
}

func selected(only []string, img fleet.Image) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if o == img.Runtime || o == img.RefName {
			return true
		}
	}
	return false
}

func runPipeline(cmd *cobra.Command, g *globals, f *fleet.File, fl pipelineFlags) (pipelineReport, error) {
	ctx := cmd.Context()
	start := time.Now()
	rep := pipelineReport{Fleet: f.Path, Destination: fl.to, Passed: true}
	var images []fleet.Image
	for _, img := range f.Images() {
		if selected(fl.only, img) {
			images = append(images, img)
		}
	}
	if len(images) == 0 {
		return rep, usageError{fmt.Errorf("--only %s matches no image of %s", strings.Join(fl.only, ","), f.Path)}
	}
	closures := filepath.Join(fl.work, "closures")
	stage := filepath.Join(fl.work, "stage")
	evidence := filepath.Join(fl.work, "evidence")
	total := 0
	for _, img := range images {
		total += len(img.Architectures) + 4
	}
	step := 0
	say := func(format string, args ...any) {
		step++
		fmt.Fprintf(g.stderr, "[%d/%d] %s\n", step, total, fmt.Sprintf(format, args...))
	}
	for _, img := range images {
		pi := pipelineImage{Image: img.RefName}
		err := func() error {
			for _, arch := range img.Architectures {
				say("build %s %s", img.RefName, arch)
				if _, _, err := runBuild(ctx, g, f, buildFlags{runtime: img.Runtime, tier: img.Tier, arch: arch, out: closures, nixpkgs: fl.nixpkgs}); err != nil {
					return err
				}
			}
			say("assemble %s", img.RefName)
			ar, err := runAssemble(ctx, g, f, assembleFlags{runtime: img.Runtime, tier: img.Tier, closures: closures, stage: stage, cache: fl.cache, sourceDateEpoch: -1})
			if err != nil {
				return err
			}
			pi.Assemble, pi.Reference, pi.Digest = &ar, ar.Reference, ar.Digest
			say("test %s", img.RefName)
			tr, err := runTest(ctx, g, f, ar.Reference, testFlags{evidence: evidence, noSmoke: fl.noSmoke})
			if err != nil {
				return err
			}
			pi.Test = &tr
			if !tr.Passed {
				return fmt.Errorf("%w: %s", ErrGateFailed, failedChecks(tr))
			}
			say("sbom %s", img.RefName)
			sr, err := runSBOM(ctx, g, f, ar.Reference, sbomFlags{closures: closures, evidence: evidence, sourceDateEpoch: -1})
			if err != nil {
				return err
			}
			pi.SBOM = &sr
			say("scan %s", img.RefName)
			sf := fl.scan
			sf.evidence = evidence
			vr, err := runScan(ctx, g, f, ar.Reference, sf)
			if err != nil {
				return err
			}
			pi.Scan = &vr
			if !vr.Pass {
				return fmt.Errorf("%w: vulnerability gate: %s", ErrGateFailed, scanReasons(vr))
			}
			return nil
		}()
		if err != nil {
			pi.Error = err.Error()
			rep.Passed = false
			rep.Images = append(rep.Images, pi)
			if ctx.Err() != nil || !errors.Is(err, ErrGateFailed) && !isBuildProblem(err) {
				rep.Seconds = time.Since(start).Seconds()
				return rep, err
			}
			continue
		}
		rep.Images = append(rep.Images, pi)
	}
	if !rep.Passed {
		rep.Seconds = time.Since(start).Seconds()
		return rep, fmt.Errorf("%w: nothing was published", ErrGateFailed)
	}
	// Unless signing is skipped, the images are published by digest only:
	// their tags (layout names) move once every one of them verified.
	for i := range rep.Images {
		pi := &rep.Images[i]
		fmt.Fprintf(g.stderr, "publish %s -> %s\n", pi.Image, fl.to)
		pr, err := runPublish(ctx, g, f, pi.Reference, publishFlags{to: fl.to, evidence: evidence, digestOnly: !fl.noAttest})
		if err != nil {
			pi.Error = err.Error()
			rep.Seconds = time.Since(start).Seconds()
			return rep, err
		}
		pi.Publish = &pr
		pi.Published = publishedRef(fl.to, pi.Image, pr.Digest)
	}
	rep.Published = true
	if fl.noAttest {
		fmt.Fprintln(g.stderr, "clearcutt: warning: published without signatures or attached evidence (--no-attest-unsafe)")
		rep.Tagged = true
		rep.Seconds = time.Since(start).Seconds()
		return rep, nil
	}
	af := fl.attest
	af.evidence = evidence
	vf := verifyFlags{failOn: fl.scan.failOn, onlyFixable: fl.scan.onlyFixable, maxDBAge: fl.scan.maxDBAge}
	if !af.keyless && !inGitHubActions() {
		key := af.key
		if key == "" {
			p, err := defaultKeyPath()
			if err != nil {
				return rep, usageError{err}
			}
			key = p
		}
		vf.key = key + ".pub"
	}
	rep.Verified = true
	for i := range rep.Images {
		pi := &rep.Images[i]
		fmt.Fprintf(g.stderr, "attest %s\n", pi.Published)
		ares, err := runAttest(cmd, g, pi.Published, af, f)
		if err != nil {
			pi.Error = err.Error()
			rep.Seconds = time.Since(start).Seconds()
			return rep, err
		}
		pi.Attest = &ares
		fmt.Fprintf(g.stderr, "verify %s\n", pi.Published)
		vrep, err := runVerify(ctx, g, f, pi.Published, vf)
		if err != nil {
			pi.Error = err.Error()
			rep.Seconds = time.Since(start).Seconds()
			return rep, err
		}
		pi.Verify = &vrep
		if vrep.ExitCode() != verify.ExitPassed {
			rep.Verified = false
			pi.Error = "a required evidence channel is not verified"
		}
	}
	if !rep.Verified {
		rep.Seconds = time.Since(start).Seconds()
		return rep, fmt.Errorf("%w: published images failed verification; their tags were not moved", ErrGateFailed)
	}
	// Every image verified: move the tags, to the same digests.
	for i := range rep.Images {
		pi := &rep.Images[i]
		fmt.Fprintf(g.stderr, "tag %s\n", pi.Published)
		pr, err := runPublish(ctx, g, f, pi.Reference, publishFlags{to: fl.to, evidence: evidence})
		if err == nil && pr.Digest != pi.Publish.Digest {
			err = fmt.Errorf("%s: tagging published %s, not the verified %s", pi.Image, pr.Digest, pi.Publish.Digest)
		}
		if err != nil {
			pi.Error = err.Error()
			rep.Seconds = time.Since(start).Seconds()
			return rep, err
		}
		pi.Publish = &pr
	}
	rep.Tagged = true
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// publishedRef is the by-digest reference of an image published to dest.
func publishedRef(dest, refName, digest string) string {
	if strings.HasPrefix(dest, oci.LayoutPrefix) {
		return dest + "@" + digest
	}
	runtime, _, _ := strings.Cut(refName, ":")
	return strings.TrimSuffix(dest, "/") + "/" + runtime + "@" + digest
}

// inGitHubActions reports a job that may request an OIDC token.
func inGitHubActions() bool {
	return os.Getenv("GITHUB_ACTIONS") == "true" && os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL") != ""
}

func scanReasons(r scanReport) string {
	var out []string
	for _, p := range r.Platforms {
		for _, reason := range p.Decision.Reasons {
			out = append(out, p.Platform+": "+reason)
		}
	}
	return strings.Join(out, "; ")
}

// isBuildProblem reports errors specific to one image (its build or
// assembly failed) after which the other images are still worth gating.
func isBuildProblem(err error) bool {
	var ue usageError
	return !errors.As(err, &ue) && !errors.Is(err, context.Canceled)
}

func failedChecks(tr testReport) string {
	var out []string
	for _, p := range tr.Platforms {
		for _, c := range p.Checks {
			if c.Status == "failed" {
				out = append(out, fmt.Sprintf("%s %s: %s", p.Platform, c.ID, c.Detail))
			}
		}
	}
	return strings.Join(out, "; ")
}

func renderPipeline(g *globals, r pipelineReport) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tINDEX DIGEST\tARCH\tLAYERS\tSIZE\tTESTS\tVULNS (active/suppressed/excepted)\tPUBLISHED\tVERIFIED")
	for _, pi := range r.Images {
		pub, ver := "no", "-"
		if pi.Publish != nil {
			pub = "yes"
		}
		if pi.Verify != nil {
			ver = "yes"
			if pi.Verify.ExitCode() != verify.ExitPassed {
				ver = "NO"
			}
		}
		if pi.Assemble == nil {
			fmt.Fprintf(tw, "%s\t-\t\t\t\tERROR\t\t%s\t%s\n", pi.Image, pub, ver)
			continue
		}
		for i, p := range pi.Assemble.Platforms {
			name, d := pi.Image, shortDigest(pi.Digest)
			if i > 0 {
				name, d = "", ""
			}
			tests, vulns := "-", "-"
			if pi.Test != nil && i < len(pi.Test.Platforms) {
				tests = strings.ToLower(pi.Test.Platforms[i].Outcome())
			}
			if pi.Scan != nil && i < len(pi.Scan.Platforms) {
				c := pi.Scan.Platforms[i].Decision.Counts
				vulns = fmt.Sprintf("%d/%d/%d", c.Active, c.Suppressed, c.Excepted)
				if !pi.Scan.Platforms[i].Decision.Pass {
					vulns += " FAIL"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", name, d, p.Arch, p.Layers, humanBytes(p.Size), tests, vulns, pub, ver)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, pi := range r.Images {
		if pi.Error != "" {
			fmt.Fprintf(g.stdout, "\n%s: %s\n", pi.Image, pi.Error)
		}
	}
	status := "published to " + r.Destination
	switch {
	case !r.Published:
		status = "NOT published: a gate failed"
	case r.Verified && r.Tagged:
		status += ", signed, verified and tagged"
	case r.Verified:
		status += " by digest, signed and verified; tags NOT moved"
	case r.Images[0].Verify == nil && r.Tagged:
		status += ", not signed"
	case r.Images[0].Verify == nil:
		status += " by digest, NOT signed; tags not moved"
	default:
		status += " by digest, VERIFICATION FAILED; tags not moved"
	}
	_, err := fmt.Fprintf(g.stdout, "\n%d images, %s, %.1fs\n", len(r.Images), status, r.Seconds)
	return err
}
