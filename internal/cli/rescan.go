package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/rescan"
	"github.com/clearcutt/clearcutt/internal/site"
	"github.com/clearcutt/clearcutt/internal/stage"
)

type rescanFlags struct {
	catalog string
	scan    scanFlags
	sign    attestFlags
	verify  verifyFlags
	site    string
	asJSON  bool
}

// rescanVerifyFlags are the flags of verify the rescan takes, and the name
// each has here: --key is the signing key, so the verification key is
// --key-pub. --max-scan-age and --require decide nothing a rescan reads.
var rescanVerifyFlags = map[string]string{
	"key": "key-pub", "trusted-root": "trusted-root", "refresh-trusted-root": "refresh-trusted-root",
	"signer-digest": "signer-digest", "certificate-identity": "certificate-identity",
	"certificate-oidc-issuer": "certificate-oidc-issuer", "source-repository": "source-repository",
	"source-ref": "source-ref", "provenance-signer": "provenance-signer", "without-sct-unsafe": "without-sct-unsafe",
}

func newRescanCmd(g *globals) *cobra.Command {
	var fl rescanFlags
	cmd := &cobra.Command{
		Use:   "rescan --catalog DIR --db DIR",
		Short: "Match the published fleet's verified SBOMs against today's database and attach signed scan results",
		Long: `rescan reads DIR/catalog.json (written by 'clearcutt catalog') and, for every
image in it, by index digest: verifies every platform's SBOM attestation with
the identity policy of 'clearcutt verify' (the keyless identity of
clearcutt.yaml, or --key-pub), matches the verified SPDX documents against
the vulnerability database in --db (refused when older than --max-db-age)
with the fleet's VEX (--vex-dir) and exceptions (--exceptions) applied as
'clearcutt scan' applies them, and attaches a freshly signed vulns/v0.2
statement — and the OpenVEX statement, when VEX applied — to each platform
digest, in the layout or repository the image lives in.

Grype runs once per distinct package of the fleet: images that share
packages share the work. Nothing is rebuilt, pushed or retagged. Afterwards
every image is verified again and catalog.json is rewritten from what
verification observes, as 'clearcutt catalog' writes it (its scan history
gains a point per rescanned image); --site also rewrites the static site. An SBOM that is missing or does not verify is never
rescanned: that platform fails the rescan and keeps its previous scan, which
verify reports pending once it is older than its maximum scan age.

Signing is as in 'clearcutt attest': keyless in GitHub Actions, else with
--key (default $XDG_CONFIG_HOME/clearcutt/signing.key, which must exist).
Keyless, the job's OIDC token must name the rescan identity of
clearcutt.yaml (job_workflow_ref
identity.workflowRepository/rescanWorkflow@workflowRef, repository
identity.repository, ref identity.ref) and, unless --private-repository, a
public repository.

Exit status: 0 every platform was rescanned and passed the gate, 1 a platform
could not be rescanned or a gate failed, 2 usage, 3 the rescan could not run
(database missing or stale).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := fl.sign.check(cmd); err != nil {
				return err
			}
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			res, err := pipeline.Rescan(cmd.Context(), fl.rescan(cmd, g, f))
			rep := rescanReport{RescanReport: res}
			if err == nil && res.CatalogUpdated && fl.site != "" {
				var sr site.Result
				if sr, err = site.Build(site.Options{CatalogDir: fl.catalog, OutDir: fl.site}); err == nil {
					rep.Site = &sr
				} else {
					err = fmt.Errorf("--site: %w", err)
				}
			}
			g.report(rep)
			if err != nil {
				return err
			}
			return g.emit(fl.asJSON, rep, func() error { return renderRescan(g, rep) }, rep.Passed, rep.failure())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&fl.catalog, "catalog", "", "catalog directory holding catalog.json (required)")
	fl.scan.addFlags(fs, dbUsage)
	fl.sign.signingFlags.addFlags(cmd, "private signing key (PEM PKCS#8 ECDSA P-256; default $XDG_CONFIG_HOME/clearcutt/signing.key, which must exist)")
	// The verification flags are verify's own, so that the two cannot drift.
	vf := &cobra.Command{}
	addVerifyFlags(vf, &fl.verify)
	vf.Flags().VisitAll(func(src *pflag.Flag) {
		if name, ok := rescanVerifyFlags[src.Name]; ok {
			c := *src
			c.Name, c.Shorthand = name, ""
			if name == "key-pub" {
				c.Usage = "verify the SBOMs against this public key (PEM) instead of the keyless identity in clearcutt.yaml"
			}
			fs.AddFlag(&c)
		}
	})
	fs.StringVar(&fl.site, "site", "", "also rewrite the static site of the updated catalog in this directory")
	fs.BoolVar(&fl.asJSON, "json", false, "print the report as JSON")
	_ = cmd.MarkFlagRequired("catalog")
	_ = cmd.MarkFlagRequired("db")
	return cmd
}

// rescanReport is rescan's report; it renders the rescan step of a job.
type rescanReport struct {
	pipeline.RescanReport
	// Site is what --site wrote.
	Site *site.Result `json:"site,omitempty"`
}

func (r rescanReport) failure() string {
	var notRescanned, gateFailed int
	for _, im := range r.Images {
		for _, p := range im.Platforms {
			switch {
			case p.Status != rescan.StatusRescanned:
				notRescanned++
			case p.Gate != nil && !p.Gate.Pass:
				gateFailed++
			}
		}
	}
	return fmt.Sprintf("%d of %d platforms not rescanned, %d failed the vulnerability gate", notRescanned, r.Platforms, gateFailed)
}

// rescan translates the flags into the options of pipeline.Rescan.
func (fl rescanFlags) rescan(cmd *cobra.Command, g *globals, f *fleet.File) pipeline.RescanOptions {
	return pipeline.RescanOptions{
		Fleet: f, CatalogDir: fl.catalog, Scan: fl.scan.options(g), KeyPath: fl.verify.key, Log: g.stderr, Progress: g,
		NewVerifier: func() (stage.Verifier, error) {
			v, err := newVerifier(cmd.Context(), f, fl.verify)
			v.Progress = g
			return v, err
		},
		NewSigner: func() (attest.Signer, error) {
			if err := needSigningKey(cmd, fl.sign); err != nil {
				return nil, err
			}
			return attestSigner(cmd, g, fl.sign, attest.FleetTokenExpectation(f.Identity, attest.RescanWorkflow))
		},
	}
}

// needSigningKey refuses to sign rescans with a key created on the spot:
// verifiers trust the fleet's existing key, so in key mode it must exist.
func needSigningKey(cmd *cobra.Command, fl attestFlags) error {
	if fl.signsKeyless(cmd) {
		return nil
	}
	path := fl.key
	if path == "" {
		p, err := defaultKeyPath()
		if err != nil {
			return usageErr(fmt.Errorf("no --key given: %w", err))
		}
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		return usageErr(fmt.Errorf("signing key %s: %w (rescans are signed with the fleet's existing key: pass --key, or sign keyless)", path, err))
	}
	return nil
}

func renderRescan(g *globals, r rescanReport) error {
	stale := ""
	if r.StaleDBAccepted {
		stale = " (STALE, accepted unsafely)"
	}
	t := table{}
	t.add(fmt.Sprintf("%s: database %s built %s%s; %s signing; gate: %s", r.Catalog, r.DB.SchemaVersion,
		r.DB.Built.Format(time.RFC3339), stale, r.Mode, r.Gate))
	t.add(fmt.Sprintf("matched %d distinct packages once for %d packages in %d SBOMs (%d matcher runs, %d answered from earlier runs)",
		r.Work.UniquePackages, r.Work.Packages, r.Work.Scans, r.Work.Lookups, r.Work.Reused))
	// An image is named on a line of its own, its platforms under it: the
	// room left is the detail's, wrapped.
	t.add("IMAGE", "PLATFORM", "DIGEST", "STATUS", "A/S/E", "DETAIL")
	for _, im := range r.Images {
		t.add(im.Name)
		for _, p := range im.Platforms {
			status := string(p.Status)
			if p.Gate != nil && !p.Gate.Pass {
				status += " (gate failed)"
			}
			var detail []string
			if p.Reason != "" {
				detail = append(detail, p.Reason)
			} else if p.ScanFinishedOn != nil {
				d := "scanned " + p.ScanFinishedOn.Format(time.RFC3339)
				if p.PreviousScan != nil {
					d += ", previous scan " + p.PreviousScan.UTC().Format(time.RFC3339)
				}
				detail = append(detail, d)
			}
			if len(p.NewFindings) > 0 {
				detail = append(detail, "new: "+strings.Join(p.NewFindings, ", "))
			}
			counts := "-"
			if p.Status == rescan.StatusRescanned {
				counts = fmt.Sprintf("%d/%d/%d", p.Active, p.Suppressed, p.Excepted)
			}
			t.add("", p.Platform, shortDigest(p.Digest), strings.ToUpper(status), counts, strings.Join(detail, "; "))
		}
	}
	t.add("A/S/E: findings active / suppressed by VEX / excepted (exceptions.yaml)")
	t.add(fmt.Sprintf("%d of %d images rescanned (%d of %d platforms); new active findings: %s",
		r.Rescanned, len(r.Images), r.Platforms-r.Failed, r.Platforms, orDash(strings.Join(r.NewFindings, ", "))))
	return t.write(g.stdout, tableWidth)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// stage renders the rescan step: outputs passed, rescanned, new-findings.
func (r rescanReport) stage(key string) (step, bool) {
	if key != "rescan" {
		return step{}, false
	}
	var md strings.Builder
	md.WriteString(gha.Heading(3, fmt.Sprintf("%s clearcutt rescan: %d of %d images rescanned", passIcon(r.Passed), r.Rescanned, len(r.Images))))
	stale := ""
	if r.StaleDBAccepted {
		stale = " — " + gha.IconWarn + " stale database accepted unsafely"
	}
	md.WriteString(gha.Paragraph(fmt.Sprintf("Database %s built %s%s. %d distinct packages matched for %d packages in %d SBOMs. Gate: %s.",
		r.DB.SchemaVersion, r.DB.Built.Format(time.RFC3339), stale, r.Work.UniquePackages, r.Work.Packages, r.Work.Scans, r.Gate)))
	t := gha.Table{Header: []string{"Image", "Platform", "Digest", "Status", "Active", "Suppressed", "Excepted", "New findings", "Detail"},
		Code: map[int]bool{2: true}, Limit: -1}
	for _, im := range r.Images {
		for _, p := range im.Platforms {
			icon := passIcon(p.Status == rescan.StatusRescanned && (p.Gate == nil || p.Gate.Pass))
			counts := []string{"–", "–", "–"}
			if p.Status == rescan.StatusRescanned {
				counts = []string{strconv.Itoa(p.Active), strconv.Itoa(p.Suppressed), strconv.Itoa(p.Excepted)}
			}
			t.Rows = append(t.Rows, []string{im.Name, p.Platform, p.Digest, icon + " " + string(p.Status),
				counts[0], counts[1], counts[2], strings.Join(p.NewFindings, ", "), p.Reason})
		}
	}
	md.WriteString(t.Markdown())
	newIDs := r.NewFindings
	if newIDs == nil {
		newIDs = []string{}
	}
	return step{outputs: map[string]string{
		"passed":       strconv.FormatBool(r.Passed),
		"rescanned":    strconv.Itoa(r.Rescanned),
		"new-findings": jsonString(newIDs),
	}, summary: md.String()}, true
}
