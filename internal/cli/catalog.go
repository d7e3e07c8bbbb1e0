package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/site"
	"github.com/clearcutt/clearcutt/internal/verify"
)

type catalogFlags struct {
	out    string
	site   string
	from   string
	images string
	failed string
	verify verifyFlags
	asJSON bool
}

func newCatalogCmd(g *globals) *cobra.Command {
	var fl catalogFlags
	cmd := &cobra.Command{
		Use:   "catalog --out DIR [--from oci:DIR | --images FILE [--failed FILE]]",
		Short: "Describe the published fleet, as verification observes it, in DIR/catalog.json",
		Long: `catalog finds the fleet's images, verifies every evidence channel of each
exactly as 'clearcutt verify' does, reads each platform image (sizes, layers,
and from the layers' tar headers the closure size and pruning candidates) and
writes DIR/catalog.json with the verified SPDX documents as
DIR/sbom/<platform digest hex>.spdx.json.

The images come from the registry of clearcutt.yaml (each image's tags are
resolved to a digest once; the tags that point at it are recorded), from an
OCI layout (--from oci:DIR: every index.json entry named <runtime>:<tier>),
or from an images file (--images FILE: a JSON object of <runtime>:<tier> to
REFERENCE@sha256:…, as the publish jobs write it). After that everything is
by digest. Only images of this fleet are catalogued: one whose
<runtime>:<tier> is not an image of clearcutt.yaml, or whose
dev.clearcutt.fleet label names another fleet, is a stray — warned about,
listed after the table, neither verified nor catalogued. --json prints the
catalog document itself, which has no strays.

--failed FILE (with --images) names the images of the fleet whose release
failed in this run, as a JSON object of <runtime>:<tier> to the reason. Their
tags were not moved: where the tags of clearcutt.yaml still name an index in
the registry, that earlier release is catalogued and verified like the
others; where none exists, the image is recorded with no release served and
the status missing. Either way the image records the failed release and its
reason, and the catalog does not pass.

Package counts, vulnerability counts and findings come only from verified
evidence. Each image's scan history is carried over from the catalog already
in DIR, with a point added when its newest scan is newer than the last one.
catalog.json is replaced atomically, and only when every image could be
read: a registry error leaves the previous catalog as it was.

--site DIR then writes the static site of the new catalog, as 'clearcutt
site' does.

Exit status: 0 every image has every required channel verified and no
release failed, 1 the catalog was written but an image is not verified or its
release failed, 2 usage, 3 the catalog could not be built.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			o, err := fl.catalog(cmd.Context(), g, f)
			if err != nil {
				return err
			}
			res, err := pipeline.Catalog(cmd.Context(), o)
			rep := catalogReport{Path: res.Path, Passed: res.Passed, Catalog: res.Catalog, Strays: res.Strays}
			if err == nil && fl.site != "" {
				// The site shows what was just written, failures included.
				var res site.Result
				if res, err = site.Build(site.Options{CatalogDir: fl.out, OutDir: fl.site}); err == nil {
					rep.Site = &res
				} else if errors.Is(err, site.ErrNotASite) {
					err = usageErr(fmt.Errorf("--site: %w", err))
				}
			}
			g.report(rep)
			if err != nil {
				return err
			}
			return g.emit(fl.asJSON, rep.Catalog, func() error { return renderCatalog(g, rep) }, rep.Passed, rep.failure())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&fl.out, "out", "", "catalog directory: catalog.json and sbom/ are written here (required)")
	fs.StringVar(&fl.site, "site", "", "also write the static site of the catalog to this directory (as 'clearcutt site' does)")
	fs.StringVar(&fl.from, "from", "", "read the images from this OCI layout (oci:DIR) instead of the registry")
	fs.StringVar(&fl.images, "images", "", "read the images from this JSON file: {\"<runtime>:<tier>\": \"REFERENCE@sha256:…\"}")
	fs.StringVar(&fl.failed, "failed", "", "with --images: the images whose release failed, from this JSON file: {\"<runtime>:<tier>\": \"reason\"}")
	addVerifyFlags(cmd, &fl.verify)
	fs.BoolVar(&fl.asJSON, "json", false, "print the catalog as JSON")
	_ = cmd.MarkFlagRequired("out")
	cmd.MarkFlagsMutuallyExclusive("from", "images")
	return cmd
}

// catalogReport is what catalog produced: the catalog and where it is.
type catalogReport struct {
	Path    string          `json:"path"`
	Passed  bool            `json:"passed"`
	Catalog catalog.Catalog `json:"catalog"`
	// Strays are the images found that are not of the fleet: not catalogued.
	Strays []pipeline.Stray `json:"strays"`
	// Site is what --site wrote.
	Site *site.Result `json:"site,omitempty"`
}

// failure says why the catalog does not pass.
func (r catalogReport) failure() string {
	var failing, releases int
	for _, im := range r.Catalog.Images {
		if im.Status != catalog.StatusVerified {
			failing++
		}
		if im.ReleaseFailed() {
			releases++
		}
	}
	msg := fmt.Sprintf("%d of %d images have a required evidence channel that is not verified", failing, len(r.Catalog.Images))
	if releases > 0 {
		msg += fmt.Sprintf(", the release of %d failed", releases)
	}
	return msg + " (" + r.Path + ")"
}

// catalog translates the flags into the options of pipeline.Catalog.
func (fl catalogFlags) catalog(ctx context.Context, g *globals, f *fleet.File) (pipeline.CatalogOptions, error) {
	o := pipeline.CatalogOptions{Fleet: f, Out: fl.out, From: fl.from, KeyPath: fl.verify.key, Log: g.stderr, Progress: g}
	if fl.failed != "" && fl.images == "" {
		return o, usageErr(errors.New("--failed needs --images: it names the images of a release that failed"))
	}
	var err error
	if fl.images != "" {
		if o.Images, err = pipeline.ReadImagesFile(fl.images); err != nil {
			return o, err
		}
		if fl.failed != "" {
			if o.Failed, err = pipeline.ReadFailedFile(f, fl.failed, fl.images, o.Images); err != nil {
				return o, err
			}
		}
	}
	o.Verifier, err = newVerifier(ctx, f, fl.verify)
	return o, err
}

// catalogIcon marks a status in step summaries.
func catalogIcon(s catalog.Status) string { return verifyIcon(verify.Status(s)) }

func (r catalogReport) stage(key string) (step, bool) {
	if key != "catalog" {
		return step{}, false
	}
	var md strings.Builder
	md.WriteString(gha.Heading(3, fmt.Sprintf("%s clearcutt catalog: %d images", passIcon(r.Passed), len(r.Catalog.Images))))
	header := []string{"Image", "Status"}
	for _, c := range verify.AllChannels() {
		header = append(header, string(c))
	}
	header = append(header, "Vulns (active/suppressed/excepted)")
	t := gha.Table{Header: header, Limit: -1}
	var failed []string
	for _, im := range r.Catalog.Images {
		row := []string{im.Name, catalogIcon(im.Status) + " " + string(im.Status)}
		if im.ReleaseFailed() {
			row[1] += " · " + gha.IconFail + " release failed"
			failed = append(failed, im.Name+": "+releaseLine(im))
		}
		for _, c := range verify.AllChannels() {
			cell := ""
			for _, cs := range im.Channels {
				if cs.Channel == string(c) {
					cell = catalogIcon(cs.Status)
					if !cs.Required {
						cell += " (not required)"
					}
				}
			}
			row = append(row, cell)
		}
		a, s, e := vulnTotals(im)
		row = append(row, fmt.Sprintf("%d/%d/%d", a, s, e))
		t.Rows = append(t.Rows, row)
	}
	md.WriteString(t.Markdown())
	if len(failed) > 0 {
		md.WriteString(gha.Heading(4, fmt.Sprintf("%s Failed releases: %d", gha.IconFail, len(failed))))
		md.WriteString(gha.List(failed, -1))
	}
	if len(r.Strays) > 0 {
		md.WriteString(gha.Heading(4, fmt.Sprintf("Strays, not catalogued: %d", len(r.Strays))))
		md.WriteString(gha.List(strayLines(r.Strays), -1))
	}
	md.WriteString(gha.Paragraph("Written to " + r.Path))
	return step{outputs: map[string]string{
		"passed": strconv.FormatBool(r.Passed), "catalog": r.Path, "images": strconv.Itoa(len(r.Catalog.Images)),
	}, summary: md.String()}, true
}

// releaseLine says why an image's release failed and what is served instead.
func releaseLine(im catalog.Image) string {
	reason := im.Release.Reason
	if reason == "" {
		reason = "no reason recorded"
	}
	if im.Served() {
		return reason + " (its tags still name the earlier release " + im.IndexDigest + ")"
	}
	return reason + " (no release of it is served)"
}

// strayLines are the strays, one line each: name, reference and reason.
func strayLines(strays []pipeline.Stray) []string {
	out := make([]string, 0, len(strays))
	for _, s := range strays {
		out = append(out, s.Name+" ("+s.Reference+"): "+s.Reason)
	}
	return out
}

// vulnTotals sums an image's findings over its platforms.
func vulnTotals(im catalog.Image) (active, suppressed, excepted int) {
	for _, p := range im.Platforms {
		if v := p.Vulnerabilities; v != nil {
			active, suppressed, excepted = active+v.Active.Total(), suppressed+v.Suppressed.Total(), excepted+v.Excepted.Total()
		}
	}
	return
}

func renderCatalog(g *globals, r catalogReport) error {
	t := table{header: []string{"IMAGE", "VERSION", "STATUS", "ARCH", "PACKAGES", "CLOSURE", "VULNS A/S/E", "CHANNELS NOT VERIFIED"}}
	for _, im := range r.Catalog.Images {
		status := strings.ToUpper(string(im.Status))
		if im.ReleaseFailed() {
			status += ", RELEASE FAILED"
		}
		if len(im.Platforms) == 0 {
			t.add(im.Name, im.Version, status, "-", "-", "-", "-", "no platform observed")
		}
		for i, p := range im.Platforms {
			name, version, st := "", "", ""
			if i == 0 {
				name, version, st = im.Name, im.Version, status
			}
			var open []string
			for _, cs := range p.Channels {
				if cs.Status != catalog.StatusVerified && cs.Status != catalog.StatusNotApplicable {
					open = append(open, cs.Channel+" "+string(cs.Status))
				}
			}
			channels := "-"
			if len(open) > 0 {
				channels = strings.Join(open, ", ")
			}
			pkgs, vulns := "-", "-"
			if p.Packages != nil {
				pkgs = strconv.Itoa(*p.Packages)
			}
			if v := p.Vulnerabilities; v != nil {
				vulns = fmt.Sprintf("%d/%d/%d", v.Active.Total(), v.Suppressed.Total(), v.Excepted.Total())
			}
			t.add(name, version, st, p.Platform, pkgs, humanize.IBytes(uint64(p.ClosureSize)), vulns, channels)
		}
	}
	if err := t.write(g.stdout, tableWidth); err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, "VULNS A/S/E: findings active / suppressed by VEX / excepted (exceptions.yaml)")
	verified, failed := 0, 0
	for _, im := range r.Catalog.Images {
		if im.Status == catalog.StatusVerified {
			verified++
		}
		if im.ReleaseFailed() {
			if failed == 0 {
				fmt.Fprintln(g.stdout)
			}
			failed++
			writeParagraph(g.stdout, fmt.Sprintf("release failed: %s: %s", im.Name, releaseLine(im)))
		}
	}
	if len(r.Strays) > 0 {
		fmt.Fprintln(g.stdout)
		for _, l := range strayLines(r.Strays) {
			writeParagraph(g.stdout, "stray, not catalogued: "+l)
		}
	}
	releases := ""
	if failed > 0 {
		releases = fmt.Sprintf(", %d release(s) failed", failed)
	}
	if len(r.Strays) > 0 {
		releases += fmt.Sprintf(", %d stray(s) not catalogued", len(r.Strays))
	}
	_, err := fmt.Fprintf(g.stdout, "\n%d images, %d verified%s; written to %s\n", len(r.Catalog.Images), verified, releases, r.Path)
	return err
}
