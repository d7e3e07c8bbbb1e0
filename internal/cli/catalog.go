package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/oci"
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
by digest.

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
			rep, err := runCatalog(cmd.Context(), g, f, fl)
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

// catalogTarget is one image found, by digest.
type catalogTarget struct {
	name    string
	ref     oci.Ref
	tags    []string
	idx     v1.ImageIndex
	version string
}

func runCatalog(ctx context.Context, g *globals, f *fleet.File, fl catalogFlags) (catalogReport, error) {
	rep := catalogReport{Path: filepath.Join(fl.out, catalog.FileName)}
	if fl.failed != "" && fl.images == "" {
		return rep, usageErr(errors.New("--failed needs --images: it names the images of a release that failed"))
	}
	prev, err := catalog.Read(fl.out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return rep, usageErr(fmt.Errorf("--out: %w", err))
	}
	var images map[string]oci.Ref
	var failed []failedImage
	if fl.images != "" {
		if images, err = readImagesFile(fl.images); err != nil {
			return rep, err
		}
		if fl.failed != "" {
			if failed, err = readFailedFile(f, fl.failed, fl.images, images); err != nil {
				return rep, err
			}
		}
	}
	v, err := newVerifier(ctx, f, fl.verify)
	if err != nil {
		return rep, err
	}
	var targets []catalogTarget
	registry := f.Registry.Repository
	switch {
	case fl.from != "":
		registry = fl.from
		targets, err = layoutTargets(ctx, f, fl.from)
	case fl.images != "":
		targets, err = imagesFileTargets(ctx, g, f, images)
	default:
		targets, err = registryTargets(ctx, g, f)
	}
	if err != nil {
		return rep, err
	}
	var failures []catalog.FailedRelease
	for _, fi := range failed {
		failures = append(failures, catalog.FailedRelease{Name: fi.img.RefName, Reason: fi.reason, Version: fi.img.Version})
		t, served, err := servedTarget(ctx, g, f, fi.img)
		if err != nil {
			return rep, err
		}
		if served {
			targets = append(targets, t)
		} else {
			fmt.Fprintf(g.stderr, "clearcutt: %s: its release failed and none of its tags (%s) exists: no release of it is served\n", fi.img.RefName, strings.Join(fi.img.Tags, ", "))
		}
	}
	var observed []catalog.Observed
	for i, t := range targets {
		fmt.Fprintf(g.stderr, "[%d/%d] catalog %s %s\n", i+1, len(targets), t.name, t.ref)
		vrep, err := v.run(ctx, g, t.ref, t.idx)
		if err != nil {
			return rep, err
		}
		observed = append(observed, catalog.Observed{Name: t.name, Reference: t.ref.String(), Tags: t.tags,
			Index: t.idx, Report: vrep, Version: t.version})
	}
	res, err := catalog.Build(ctx, catalog.Options{
		Fleet: catalogFleet(f, v, fl.verify.key, registry), Images: observed, Failed: failures, Previous: prev,
		Progress: g.progressLine("catalog"),
	})
	g.progressDone()
	if err != nil {
		return rep, err
	}
	if err := catalog.Write(fl.out, res); err != nil {
		return rep, fmt.Errorf("writing the catalog to %s: %w", fl.out, err)
	}
	rep.Catalog, rep.Passed = res.Catalog, res.Passed()
	return rep, nil
}

// catalogFleet is who publishes the fleet and what verification pinned.
func catalogFleet(f *fleet.File, v verifier, keyPath, registry string) catalog.Fleet {
	out := catalog.Fleet{
		Name: f.Metadata.Name, Repository: f.Identity.Repository, Registry: registry,
		ProvenanceBuilderID: v.policy.ProvenanceBuilderID, RequiredChannels: []string{},
	}
	if len(v.policy.PublicKey) > 0 {
		out.PublicKey = keyPath
	} else {
		s := v.policy.Signer
		out.Identity = &catalog.Identity{Issuer: s.Issuer, BuildSignerURI: s.SAN,
			SourceRepositoryURI: s.SourceRepositoryURI, SourceRepositoryRef: s.SourceRepositoryRef}
		if r := v.policy.Rescan; r != nil {
			out.Identity.RescanSignerURI = r.SAN
		}
	}
	required := v.policy.RequiredChannels
	if len(required) == 0 {
		required = verify.AllChannels()
	}
	for _, c := range required {
		out.RequiredChannels = append(out.RequiredChannels, string(c))
	}
	return out
}

// fleetVersion is the version clearcutt.yaml declares for image name.
func fleetVersion(f *fleet.File, imageName string) string {
	for _, img := range f.Images() {
		if img.RefName == imageName {
			return img.Version
		}
	}
	return ""
}

// layoutTargets are the indexes of the layout named <runtime>:<tier>.
func layoutTargets(ctx context.Context, f *fleet.File, from string) ([]catalogTarget, error) {
	ref, err := oci.ParseRef(from)
	if err != nil || !ref.IsLayout() || ref.Digest != "" {
		return nil, usageErr(fmt.Errorf("--from %q: want an OCI layout, oci:DIR (without a digest)", from))
	}
	root, err := layout.ImageIndexFromPath(ref.Layout)
	if err != nil {
		return nil, usageErr(fmt.Errorf("--from %s: %w", from, err))
	}
	im, err := root.IndexManifest()
	if err != nil {
		return nil, usageErr(fmt.Errorf("--from %s: index.json: %w", from, err))
	}
	var out []catalogTarget
	seen := map[string]bool{}
	for _, d := range im.Manifests {
		n := d.Annotations[oci.AnnotationRefName]
		if !catalog.ValidName(n) {
			continue // evidence (sha256-<hex>) and entries that are no fleet image
		}
		if seen[n] {
			return nil, usageErr(fmt.Errorf("--from %s: index.json names %s twice", from, n))
		}
		seen[n] = true
		if !d.MediaType.IsIndex() {
			return nil, usageErr(fmt.Errorf("--from %s: %s (%s) is a %s, not an image index", from, n, d.Digest, d.MediaType))
		}
		r := oci.Ref{Layout: ref.Layout, Digest: d.Digest.String()}
		_, idx, err := openIndex(ctx, r.String(), "")
		if err != nil {
			return nil, err
		}
		out = append(out, catalogTarget{name: n, ref: r, tags: []string{}, idx: idx, version: fleetVersion(f, n)})
	}
	if len(out) == 0 {
		return nil, usageErr(fmt.Errorf("--from %s: index.json names no <runtime>:<tier> image", from))
	}
	return out, nil
}

// readImagesFile reads an images file: <runtime>:<tier> to a reference by
// digest.
func readImagesFile(file string) (map[string]oci.Ref, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usageErr(fmt.Errorf("--images: %w", err))
	}
	var m map[string]string
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, usageErr(fmt.Errorf("--images %s: want a JSON object of <runtime>:<tier> to REFERENCE@sha256:…: %w", file, err))
	}
	if dec.More() {
		return nil, usageErr(fmt.Errorf("--images %s: data after the JSON object", file))
	}
	if len(m) == 0 {
		return nil, usageErr(fmt.Errorf("--images %s: names no image", file))
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	refs := map[string]oci.Ref{}
	for _, n := range names {
		if !catalog.ValidName(n) {
			return nil, usageErr(fmt.Errorf("--images %s: key %q is not <runtime>:<tier>", file, n))
		}
		ref, err := oci.RequireDigest(m[n])
		if err != nil {
			return nil, usageErr(fmt.Errorf("--images %s: %s: %w", file, n, err))
		}
		refs[n] = ref
	}
	return refs, nil
}

// imagesFileTargets are the images of an images file; a registry image
// also gets the tags of clearcutt.yaml that point at its digest.
func imagesFileTargets(ctx context.Context, g *globals, f *fleet.File, refs map[string]oci.Ref) ([]catalogTarget, error) {
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []catalogTarget
	for _, n := range names {
		ref := refs[n]
		_, idx, err := openIndex(ctx, ref.String(), "")
		if err != nil {
			return nil, err
		}
		t := catalogTarget{name: n, ref: ref, tags: []string{}, idx: idx, version: fleetVersion(f, n)}
		if !ref.IsLayout() {
			for _, img := range f.Images() {
				if img.RefName != n {
					continue
				}
				d, _ := ref.Hash()
				resolved, err := resolveTags(ctx, ref.Repo, img.Tags)
				if err != nil {
					return nil, err
				}
				t.tags = tagsOf(resolved, d)
				warnOtherTags(g, n, d, resolved)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// failedImage is an image of the fleet whose release failed, and why.
type failedImage struct {
	img    fleet.Image
	reason string
}

// readFailedFile reads a failed-releases file: <runtime>:<tier> to the
// reason, for images of the fleet that are not in the images file.
func readFailedFile(f *fleet.File, file, imagesFile string, images map[string]oci.Ref) ([]failedImage, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usageErr(fmt.Errorf("--failed: %w", err))
	}
	var m map[string]string
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil || m == nil {
		if err == nil {
			err = errors.New("null")
		}
		return nil, usageErr(fmt.Errorf("--failed %s: want a JSON object of <runtime>:<tier> to the reason its release failed: %w", file, err))
	}
	if dec.More() {
		return nil, usageErr(fmt.Errorf("--failed %s: data after the JSON object", file))
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []failedImage
	for _, n := range names {
		if !catalog.ValidName(n) {
			return nil, usageErr(fmt.Errorf("--failed %s: key %q is not <runtime>:<tier>", file, n))
		}
		if _, ok := images[n]; ok {
			return nil, usageErr(fmt.Errorf("--failed %s: key %s is also in --images %s: an image is released or failed, not both", file, n, imagesFile))
		}
		var img *fleet.Image
		for _, i := range f.Images() {
			if i.RefName == n {
				img = &i
			}
		}
		if img == nil {
			return nil, usageErr(fmt.Errorf("--failed %s: key %s is not an image of the fleet (%s)", file, n, f.Path))
		}
		out = append(out, failedImage{img: *img, reason: m[n]})
	}
	return out, nil
}

// servedTarget is the release of img its tags name in the registry: the
// first of its tags that exists names the digest, and every tag that points
// at that digest is recorded. served is false when none of its tags exists
// (or it has none).
func servedTarget(ctx context.Context, g *globals, f *fleet.File, img fleet.Image) (catalogTarget, bool, error) {
	if len(img.Tags) == 0 {
		return catalogTarget{}, false, nil
	}
	repo, err := name.NewRepository(img.Repository, name.StrictValidation)
	if err != nil {
		return catalogTarget{}, false, usageErr(fmt.Errorf("%s: registry.repository: %s: %w", f.Path, img.Repository, err))
	}
	resolved, err := resolveTags(ctx, repo, img.Tags)
	if err != nil || len(resolved) == 0 {
		return catalogTarget{}, false, err
	}
	d := resolved[0].digest
	warnOtherTags(g, img.RefName, d, resolved)
	ref := oci.Ref{Repo: repo, Digest: d.String()}
	_, idx, err := openIndex(ctx, ref.String(), "")
	if err != nil {
		return catalogTarget{}, false, err
	}
	return catalogTarget{name: img.RefName, ref: ref, tags: tagsOf(resolved, d), idx: idx, version: img.Version}, true, nil
}

// registryTargets resolves the tags of every image of clearcutt.yaml in its
// registry: the first tag that exists names the digest, and every tag that
// points at that digest is recorded.
func registryTargets(ctx context.Context, g *globals, f *fleet.File) ([]catalogTarget, error) {
	if len(f.Registry.Tags) == 0 {
		return nil, usageErr(fmt.Errorf("%s: registry.tags is empty, so no tag names an image: use --images or --from", f.Path))
	}
	var out []catalogTarget
	for _, img := range f.Images() {
		t, served, err := servedTarget(ctx, g, f, img)
		if err != nil {
			return nil, err
		}
		if !served {
			return nil, fmt.Errorf("%s: none of its tags (%s) exists in %s: the image is not published", img.RefName, strings.Join(img.Tags, ", "), img.Repository)
		}
		out = append(out, t)
	}
	return out, nil
}

// resolvedTag is a tag and the digest it points at.
type resolvedTag struct {
	tag    string
	digest v1.Hash
}

// resolveTags resolves each tag of repo, in order. A tag that does not
// exist is left out; any other registry error is returned.
func resolveTags(ctx context.Context, repo name.Repository, tags []string) ([]resolvedTag, error) {
	var out []resolvedTag
	for _, tag := range tags {
		desc, err := remote.Head(repo.Tag(tag), remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", repo.Tag(tag), err)
		}
		out = append(out, resolvedTag{tag, desc.Digest})
	}
	return out, nil
}

// tagsOf are the resolved tags that point at d.
func tagsOf(resolved []resolvedTag, d v1.Hash) []string {
	out := []string{}
	for _, r := range resolved {
		if r.digest == d {
			out = append(out, r.tag)
		}
	}
	return out
}

func warnOtherTags(g *globals, image string, d v1.Hash, resolved []resolvedTag) {
	for _, r := range resolved {
		if r.digest != d {
			fmt.Fprintf(g.stderr, "clearcutt: warning: %s: tag %s points at %s, not at the catalogued %s\n", image, r.tag, r.digest, d)
		}
	}
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
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	header := []string{"IMAGE", "VERSION", "STATUS"}
	for _, c := range verify.AllChannels() {
		header = append(header, strings.ToUpper(string(c)))
	}
	header = append(header, "ARCH", "PACKAGES", "CLOSURE", "VULNS (active/suppressed/excepted)")
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, im := range r.Catalog.Images {
		status := strings.ToUpper(string(im.Status))
		if im.ReleaseFailed() {
			status += ", RELEASE FAILED"
		}
		if len(im.Platforms) == 0 {
			cells := []string{im.Name, im.Version, status}
			for range verify.AllChannels() {
				cells = append(cells, "-")
			}
			fmt.Fprintln(tw, strings.Join(append(cells, "-", "-", "-", "-"), "\t"))
		}
		for i, p := range im.Platforms {
			cells := []string{"", "", ""}
			if i == 0 {
				cells = []string{im.Name, im.Version, status}
			}
			for _, cs := range p.Channels {
				cells = append(cells, string(cs.Status))
			}
			pkgs, vulns := "-", "-"
			if p.Packages != nil {
				pkgs = strconv.Itoa(*p.Packages)
			}
			if v := p.Vulnerabilities; v != nil {
				vulns = fmt.Sprintf("%d/%d/%d", v.Active.Total(), v.Suppressed.Total(), v.Excepted.Total())
			}
			cells = append(cells, p.Platform, pkgs, humanBytes(p.ClosureSize), vulns)
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
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
			fmt.Fprintf(g.stdout, "release failed: %s: %s\n", im.Name, releaseLine(im))
		}
	}
	releases := ""
	if failed > 0 {
		releases = fmt.Sprintf(", %d release(s) failed", failed)
	}
	_, err := fmt.Fprintf(g.stdout, "\n%d images, %d verified%s; written to %s\n", len(r.Catalog.Images), verified, releases, r.Path)
	return err
}
