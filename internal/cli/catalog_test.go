package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/catalog/catalogtest"
	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// catalogRuntimes are the images of the catalog tests' fleet.
const catalogRuntimes = `runtimes:
  - id: python
    version: "3.11"
    nix: {attribute: python3}
    tiers: [distroless]
    entrypoint: [/bin/python3]
  - id: static
    version: "1"
    nix: {attribute: tzdata}
    tiers: [distroless]
`

// fleetFileFor writes into dir the example fleet with two images
// (python:distroless and static:distroless), built from the repository's
// flake and published to registry.
func fleetFileFor(t *testing.T, repo, dir, registry string) string {
	t.Helper()
	example, err := os.ReadFile(filepath.Join(repo, "clearcutt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	head, _, ok := strings.Cut(string(example), "\nruntimes:\n")
	if !ok {
		t.Fatal("the example fleet has no runtimes")
	}
	src := strings.Replace(head, "  flake: nix\n", "  flake: "+filepath.Join(repo, "nix")+"\n", 1)
	src = regexp.MustCompile(`(?m)^  repository: ghcr\.io/clearcutt/fleet$`).ReplaceAllString(src, "  repository: "+registry)
	if !strings.Contains(src, "repository: "+registry) || !strings.Contains(src, filepath.Join(repo, "nix")) {
		t.Fatal("the example fleet has no registry.repository or nix.flake line to replace")
	}
	p := filepath.Join(dir, "clearcutt.yaml")
	writeFile(t, p, src+"\n"+catalogRuntimes)
	return p
}

// catalogRun runs `clearcutt catalog ... --json` and decodes the catalog
// it prints, which must be the catalog.json it wrote.
func catalogRun(t *testing.T, wantCode int, out string, args ...string) catalog.Catalog {
	t.Helper()
	code, stdout, errs := run(t, append(args, "catalog", "--out", out, "--json")...)
	if code != wantCode {
		t.Fatalf("catalog exit %d, want %d\nstderr: %s\nstdout: %s", code, wantCode, tail(errs, 3000), tail(stdout, 2000))
	}
	var c catalog.Catalog
	if err := json.Unmarshal([]byte(stdout), &c); err != nil {
		t.Fatalf("catalog --json: %v\n%s", err, tail(stdout, 2000))
	}
	written, err := os.ReadFile(filepath.Join(out, catalog.FileName))
	if err != nil {
		t.Fatal(err)
	}
	catalogtest.Validate(t, written)
	var w catalog.Catalog
	if err := json.Unmarshal(written, &w); err != nil {
		t.Fatal(err)
	}
	a, _ := catalog.Marshal(c)
	b, _ := catalog.Marshal(w)
	if !bytes.Equal(a, b) {
		t.Fatal("catalog --json printed another catalog than the catalog.json written")
	}
	return c
}

func imageNamed(t *testing.T, c catalog.Catalog, n string) catalog.Image {
	t.Helper()
	for _, im := range c.Images {
		if im.Name == n {
			return im
		}
	}
	t.Fatalf("catalog has no %s: %+v", n, c.Images)
	return catalog.Image{}
}

func channelIn(t *testing.T, cs []catalog.ChannelStatus, ch string) catalog.ChannelStatus {
	t.Helper()
	for _, c := range cs {
		if c.Channel == ch {
			return c
		}
	}
	t.Fatalf("no %s channel in %+v", ch, cs)
	return catalog.ChannelStatus{}
}

// storeFileBytes sums the regular files of the closure's store paths as
// they are in this machine's Nix store, but the root's, whose tree is the
// image's / rather than a store path.
func storeFileBytes(t *testing.T, m *closure.Manifest) int64 {
	t.Helper()
	var n int64
	for _, p := range m.Paths {
		if p.Path == m.Root {
			continue
		}
		err := filepath.WalkDir(p.Path, func(_ string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				fi, err := d.Info()
				if err != nil {
					return err
				}
				n += fi.Size()
			}
			return nil
		})
		if err != nil {
			t.Fatalf("store path %s: %v", p.Path, err)
		}
	}
	return n
}

// checkCatalog compares a catalog of the published fleet with what the
// pipeline built, scanned and published.
func checkCatalog(t *testing.T, c catalog.Catalog, prep pipeline.Report, work string, refPrefix func(runtime string) string, pub string) {
	t.Helper()
	// header is what a key mode catalog says of the fleet.
	type header struct {
		APIVersion, Name, Repository, PublicKey string
		Identity                                *catalog.Identity
		RequiredChannels                        []string
	}
	want := header{catalog.APIVersion, "clearcutt-example", "clearcutt/clearcutt", pub, nil, []string{"signature", "sbom", "tests", "vulnerabilities", "vex"}}
	if d := cmp.Diff(want, header{c.APIVersion, c.Fleet.Name, c.Fleet.Repository, c.Fleet.PublicKey, c.Fleet.Identity, c.Fleet.RequiredChannels}); d != "" {
		t.Errorf("catalog header (-want +got):\n%s", d)
	}
	var names []string
	for _, im := range c.Images {
		names = append(names, im.Name)
	}
	if d := cmp.Diff([]string{"python:distroless", "static:distroless"}, names); d != "" {
		t.Fatalf("images (-want +got):\n%s", d)
	}
	for _, pi := range prep.Images {
		im := imageNamed(t, c, pi.Image)
		runtime, tier, _ := strings.Cut(pi.Image, ":")
		if im.IndexDigest != pi.Digest || im.Reference != refPrefix(runtime)+"@"+pi.Digest {
			t.Errorf("%s: index %s reference %s, published %s", pi.Image, im.IndexDigest, im.Reference, pi.Digest)
		}
		if im.Runtime != runtime || im.Tier != tier || im.Version == "" {
			t.Errorf("%s: runtime %q tier %q version %q", pi.Image, im.Runtime, im.Tier, im.Version)
		}
		if im.Status != catalog.StatusVerified {
			t.Errorf("%s: status %s: %+v", pi.Image, im.Status, im.Channels)
		}
		for _, cs := range im.Channels {
			want, required := catalog.StatusVerified, true
			if cs.Channel == catalog.ChannelProvenance {
				// Key mode: slsa-github-generator's provenance is keyless.
				want, required = catalog.StatusNotApplicable, false
			}
			if cs.Status != want || cs.Required != required {
				t.Errorf("%s: channel %s is %s (required %v), want %s (required %v): %s", pi.Image, cs.Channel, cs.Status, cs.Required, want, required, cs.Reason)
			}
		}
		if len(im.History) != 1 {
			t.Errorf("%s: history %+v, want one point", pi.Image, im.History)
		}
		if len(im.Platforms) != len(pi.Assemble.Platforms) {
			t.Fatalf("%s: %d platforms, %d assembled", pi.Image, len(im.Platforms), len(pi.Assemble.Platforms))
		}
		var newest time.Time
		for _, p := range im.Platforms {
			if d := pi.Publish.Platforms[p.Platform]; p.Digest != d {
				t.Errorf("%s %s: digest %s, published %s", pi.Image, p.Platform, p.Digest, d)
			}
			h := mustHash(t, p.Digest)
			var asm stage.AssemblePlatform
			for _, a := range pi.Assemble.Platforms {
				if a.Digest == p.Digest {
					asm = a
				}
			}
			// Sizes: the assembled layers plus manifest and config.
			idx, err := oci.ReadLayoutIndex(filepath.Join(work, "stage"), mustHash(t, pi.Digest))
			if err != nil {
				t.Fatal(err)
			}
			im2, _ := idx.IndexManifest()
			var manifestSize int64
			for _, d := range im2.Manifests {
				if d.Digest == h {
					manifestSize = d.Size
				}
			}
			img, err := idx.Image(h)
			if err != nil {
				t.Fatal(err)
			}
			m, _ := img.Manifest()
			if p.Layers != asm.Layers || p.Size != asm.Size+manifestSize+m.Config.Size {
				t.Errorf("%s %s: %d layers, %d bytes; assembled %d layers, %d+%d+%d bytes", pi.Image, p.Platform, p.Layers, p.Size, asm.Layers, asm.Size, manifestSize, m.Config.Size)
			}
			// The closure size is the bytes of the regular files of the
			// closure's store paths.
			arch := strings.Split(p.Platform, "/")[1]
			cm, err := closure.ReadManifest(filepath.Join(work, "closures", runtime+"-"+tier+"-"+arch+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if want := storeFileBytes(t, cm); p.ClosureSize != want {
				t.Errorf("%s %s: closure size %d, the store paths hold %d bytes of files", pi.Image, p.Platform, p.ClosureSize, want)
			}
			if p.PruningCandidates == nil {
				t.Errorf("%s %s: pruning candidates null", pi.Image, p.Platform)
			}
			// The package count is the SBOM's, and the SBOM written is the
			// one the pipeline attested.
			var sb stage.SBOMPlatform
			for _, s := range pi.SBOM.Platforms {
				if s.Digest == p.Digest {
					sb = s
				}
			}
			if p.Packages == nil || *p.Packages != sb.Packages || sb.Packages == 0 {
				t.Errorf("%s %s: packages %v, the SBOM has %d", pi.Image, p.Platform, p.Packages, sb.Packages)
			}
			// The list is every package the count counts, each named,
			// sorted by name then version; the runtime's own is there with
			// its version.
			if p.Packages != nil && len(p.PackageList) != *p.Packages {
				t.Errorf("%s %s: %d packages listed, %d counted", pi.Image, p.Platform, len(p.PackageList), *p.Packages)
			}
			if !slices.IsSortedFunc(p.PackageList, func(a, b catalog.Package) int {
				if c := strings.Compare(a.Name, b.Name); c != 0 {
					return c
				}
				return strings.Compare(a.Version, b.Version)
			}) || slices.ContainsFunc(p.PackageList, func(pk catalog.Package) bool { return pk.Name == "" }) {
				t.Errorf("%s %s: package list not sorted, or a package without a name: %+v", pi.Image, p.Platform, p.PackageList)
			}
			if runtime == "python" && !slices.ContainsFunc(p.PackageList, func(pk catalog.Package) bool {
				return pk.Name == "python3" && pk.Version != "" && strings.HasPrefix(pk.PURL, "pkg:nix/python3@")
			}) {
				t.Errorf("%s %s: python3 is not listed with its version and purl: %+v", pi.Image, p.Platform, p.PackageList)
			}
			if p.SBOM != "sbom/"+h.Hex+".spdx.json" {
				t.Errorf("%s %s: sbom %q", pi.Image, p.Platform, p.SBOM)
			}
			// Vulnerabilities: the scan statement's findings, none dropped.
			var sp stage.ScanPlatform
			for _, s := range pi.Scan.Platforms {
				if s.Digest == p.Digest {
					sp = s
				}
			}
			v := p.Vulnerabilities
			if v == nil {
				t.Fatalf("%s %s: no vulnerabilities", pi.Image, p.Platform)
			}
			counts := sp.Decision.Counts
			if v.Active.Total() != counts.Active || v.Suppressed.Total() != counts.Suppressed || v.Excepted.Total() != counts.Excepted {
				t.Errorf("%s %s: %d/%d/%d findings, the scan counted %d/%d/%d", pi.Image, p.Platform,
					v.Active.Total(), v.Suppressed.Total(), v.Excepted.Total(), counts.Active, counts.Suppressed, counts.Excepted)
			}
			var got, want []string
			for _, f := range v.Findings {
				got = append(got, f.ID+" "+f.Package+" "+f.Severity+" "+f.Status)
			}
			for _, f := range sp.Result.Findings {
				want = append(want, f.ID+" "+f.Package.Name+" "+f.Severity+" "+string(f.Status))
			}
			sort.Strings(got)
			sort.Strings(want)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s %s: findings (-the scan's +the catalog's):\n%s", pi.Image, p.Platform, d)
			}
			if pi.Image == "python:distroless" && len(v.Findings) == 0 {
				t.Errorf("%s %s: no findings, but the test database has advisories for the python closure", pi.Image, p.Platform)
			}
			if v.ScanTime.After(newest) {
				newest = v.ScanTime
			}
			for _, cs := range p.Channels {
				if cs.Channel == catalog.ChannelProvenance {
					if cs.Digest != pi.Digest || cs.Status != catalog.StatusNotApplicable {
						t.Errorf("%s %s: provenance %+v", pi.Image, p.Platform, cs)
					}
					continue
				}
				if cs.Digest != p.Digest || cs.Status != catalog.StatusVerified || !strings.HasPrefix(cs.Signer, "key ") {
					t.Errorf("%s %s: channel %+v", pi.Image, p.Platform, cs)
				}
			}
		}
		if len(im.History) == 1 && !im.History[0].ScanTime.Equal(newest) {
			t.Errorf("%s: history point at %s, newest scan %s", pi.Image, im.History[0].ScanTime, newest)
		}
	}
}

// catalogTestFleet is the fleet the catalog tests read: python:distroless
// and static:distroless published by the pipeline (key mode) to an OCI
// layout, then copied and signed into a registry process. Tests read it; a
// test that changes a registry's content makes one of its own
// (ownRegistry).
type catalogTestFleet struct {
	repo string
	// configHome is the XDG_CONFIG_HOME holding the fleet's local signing
	// key, the default key of the tests that use the fleet.
	configHome string
	// fleetFile names the registry host/fleet as the fleet's repository.
	fleetFile, host string
	// work is the pipeline's work directory, evidence its evidence and
	// layoutDir the layout it published to.
	work, evidence, layoutDir string
	db, vexDir, exceptions    string
	prep                      pipeline.Report
	// pub is the fleet's public key.
	pub string
	// registryRef is each image in the registry, by digest.
	registryRef map[string]string
}

var catalogFleetFixture fixture[*catalogTestFleet]

// publishedCatalogFleet returns the catalog fleet, published once per test
// binary, with the fleet's signing key as the test's local default key.
func publishedCatalogFleet(t *testing.T) *catalogTestFleet {
	t.Helper()
	repo := needPipelineTools(t)
	fx := catalogFleetFixture.get(t, "the published catalog fleet", func(t *testing.T) *catalogTestFleet { return publishCatalogFleet(t, repo) })
	t.Setenv("XDG_CONFIG_HOME", fx.configHome)
	return fx
}

// publishCatalogFleet runs the pipeline and publishes its images into a
// registry process, in directories that last as long as the test binary.
func publishCatalogFleet(t *testing.T, repo string) *catalogTestFleet {
	t.Helper()
	start := time.Now()
	shared := sharedTB{t}
	dir := shared.TempDir()
	fx := &catalogTestFleet{repo: repo, host: ocitest.StartDistribution(shared), configHome: filepath.Join(dir, "config"),
		work: filepath.Join(dir, "work"), layoutDir: filepath.Join(dir, "published"), db: filepath.Join(dir, "db"),
		vexDir: filepath.Join(repo, "vex"), exceptions: filepath.Join(repo, "exceptions.yaml")}
	fx.evidence = filepath.Join(fx.work, "evidence")
	t.Setenv("XDG_CONFIG_HOME", fx.configHome)
	fx.fleetFile = fleetFileFor(t, repo, dir, fx.host+"/fleet")
	if code, _, errs := run(t, "vulndb", "build", "--advisories", filepath.Join(repo, "testdata/vulndb/advisories.yaml"), "--out", fx.db); code != 0 {
		t.Fatalf("vulndb build: %s", errs)
	}
	fx.prep = pipelineJSON(t, ExitOK, "-f", fx.fleetFile, "pipeline", "--nixpkgs", filepath.Join(repo, "nix/fixtures"), "--db", fx.db,
		"--vex-dir", fx.vexDir, "--exceptions", fx.exceptions, "--no-smoke",
		"--work", fx.work, "--cache", filepath.Join(dir, "cache"), "--to", "oci:"+fx.layoutDir)
	t.Logf("pipeline: %s", time.Since(start).Round(time.Second))
	key, err := defaultKeyPath()
	if err != nil {
		t.Fatal(err)
	}
	fx.pub = key + ".pub"
	// The same images, published and signed in the registry.
	fx.registryRef = fx.publishTo(t, fx.fleetFile, fx.host, fx.evidence)
	t.Logf("published the catalog fleet in %s", time.Since(start).Round(time.Second))
	return fx
}

// publishTo publishes the pipeline's images from the layout to host/fleet
// and signs them there with the fleet's key and the statements of evidence;
// it returns them by digest.
func (fx *catalogTestFleet) publishTo(t *testing.T, fleetFile, host, evidence string) map[string]string {
	t.Helper()
	refs := map[string]string{}
	for _, pi := range fx.prep.Images {
		if code, _, errs := run(t, "-f", fleetFile, "publish", pi.Reference, "--to", host+"/fleet", "--evidence", evidence); code != 0 {
			t.Fatalf("publish %s: %s", pi.Image, errs)
		}
		refs[pi.Image] = stage.PublishedRef(host+"/fleet", pi.Image, pi.Digest)
		if code, _, errs := run(t, "-f", fleetFile, "attest", refs[pi.Image], "--evidence", evidence); code != 0 {
			t.Fatalf("attest %s: %s", pi.Image, errs)
		}
	}
	return refs
}

// inRegistry returns where the fleet file names a runtime's images.
func (fx *catalogTestFleet) inRegistry(runtime string) string { return fx.host + "/fleet/" + runtime }

// catalogRegistry is a registry process of one test's own holding the
// fleet's published and signed images.
type catalogRegistry struct {
	host string
	// fleetFile names host/fleet as the fleet's repository.
	fleetFile string
	// evidence is a copy of the pipeline's evidence, the test's to change.
	evidence string
	// refs is each image in the registry, by digest.
	refs map[string]string
}

// ownRegistry publishes and signs the fleet's images into a new registry
// process that lasts as long as the calling test.
func (fx *catalogTestFleet) ownRegistry(t *testing.T) catalogRegistry {
	t.Helper()
	dir := t.TempDir()
	r := catalogRegistry{host: ocitest.StartDistribution(t), evidence: filepath.Join(dir, "evidence")}
	if err := os.CopyFS(r.evidence, os.DirFS(fx.evidence)); err != nil {
		t.Fatal(err)
	}
	r.fleetFile = fleetFileFor(t, fx.repo, dir, r.host+"/fleet")
	r.refs = fx.publishTo(t, r.fleetFile, r.host, r.evidence)
	return r
}

// TestCatalogFromLayout catalogs the fleet from the OCI layout the pipeline
// published to: every channel verified, the SBOMs the pipeline attested,
// no tags; the table names every image and channel, and --site writes the
// site of the catalog.
func TestCatalogFromLayout(t *testing.T) {
	fx := publishedCatalogFleet(t)
	out := t.TempDir()
	c := catalogRun(t, ExitOK, out, "-f", fx.fleetFile, "--from", "oci:"+fx.layoutDir, "--key", fx.pub)
	checkCatalog(t, c, fx.prep, fx.work, func(string) string { return "oci:" + fx.layoutDir }, fx.pub)
	if c.Fleet.Registry != "oci:"+fx.layoutDir {
		t.Errorf("registry %q", c.Fleet.Registry)
	}
	// sbomSummary is what the test compares of an SPDX document.
	type sbomSummary struct {
		Name     string
		Packages int
	}
	summarize := func(path string) sbomSummary {
		t.Helper()
		var doc struct {
			Name     string            `json:"name"`
			Packages []json.RawMessage `json:"packages"`
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		return sbomSummary{doc.Name, len(doc.Packages)}
	}
	for _, im := range c.Images {
		if len(im.Tags) != 0 {
			t.Errorf("%s: a layout has no tags, got %v", im.Name, im.Tags)
		}
		for _, p := range im.Platforms {
			// The SBOM written is the verified document the pipeline
			// attested for this digest.
			h := mustHash(t, p.Digest)
			written := summarize(filepath.Join(out, p.SBOM))
			attested := summarize(filepath.Join(fx.evidence, "sha256-"+h.Hex, "sbom.spdx.json"))
			if d := cmp.Diff(attested, written); d != "" {
				t.Errorf("%s %s: SBOM written (-attested +written):\n%s", im.Name, p.Platform, d)
			}
			if !strings.Contains(written.Name, h.Hex) {
				t.Errorf("%s %s: SBOM %q does not name %s", im.Name, p.Platform, written.Name, h.Hex)
			}
		}
	}
	// The table names every image and channel; --site writes the site
	// of the catalog just written.
	siteDir := filepath.Join(t.TempDir(), "site")
	code, table, errs := run(t, "-f", fx.fleetFile, "catalog", "--from", "oci:"+fx.layoutDir, "--key", fx.pub, "--out", out, "--site", siteDir)
	if code != ExitOK {
		t.Fatalf("catalog (table): exit %d: %s", code, errs)
	}
	for _, page := range []string{"index.html", "images/python-distroless.html", "images/static-distroless.html"} {
		if _, err := os.Stat(filepath.Join(siteDir, page)); err != nil {
			t.Errorf("--site: %v", err)
		}
	}
	for _, want := range []string{"python:distroless", "static:distroless", "CHANNELS NOT VERIFIED", "VULNS A/S/E", "2 images, 2 verified"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// TestCatalogFromFleetRegistry catalogs the fleet from the registry of
// clearcutt.yaml, with each image's tags; in a job, catalog writes its
// declared outputs and the summary table.
func TestCatalogFromFleetRegistry(t *testing.T) {
	fx := publishedCatalogFleet(t)
	c := catalogRun(t, ExitOK, t.TempDir(), "-f", fx.fleetFile, "--key", fx.pub)
	checkCatalog(t, c, fx.prep, fx.work, fx.inRegistry, fx.pub)
	if c.Fleet.Registry != fx.host+"/fleet" {
		t.Errorf("registry %q", c.Fleet.Registry)
	}
	for n, want := range map[string][]string{"python:distroless": {"3.11-distroless", "distroless"}, "static:distroless": {"1-distroless", "distroless"}} {
		if d := cmp.Diff(want, imageNamed(t, c, n).Tags); d != "" {
			t.Errorf("%s: tags (-want +got):\n%s", n, d)
		}
	}
	// In a job: the declared outputs and the summary table.
	j := newGHAJob(t)
	code, _, errs := runIn(t, j, "-f", fx.fleetFile, "catalog", "--key", fx.pub, "--out", t.TempDir())
	if code != ExitOK {
		t.Fatalf("catalog in a job: exit %d: %s", code, errs)
	}
	outs := j.outputs(t)
	if outs["passed"] != "true" || outs["images"] != "2" || !strings.HasSuffix(outs["catalog"], "/catalog.json") {
		t.Errorf("outputs %v", outs)
	}
	if sum := j.summaryText(t); !strings.Contains(sum, "| Image | Status | signature | sbom | provenance | tests | vulnerabilities | vex |") ||
		!strings.Contains(sum, "python:distroless") {
		t.Errorf("summary:\n%s", sum)
	}
}

// TestCatalogFromImagesFile catalogs the images an images file names by
// digest; a tag instead of a digest, a name that is no image's, and
// --images with --from are usage errors.
func TestCatalogFromImagesFile(t *testing.T) {
	fx := publishedCatalogFleet(t)
	imagesFile := filepath.Join(t.TempDir(), "images.json")
	js, _ := json.Marshal(fx.registryRef)
	writeFile(t, imagesFile, string(js))
	c := catalogRun(t, ExitOK, t.TempDir(), "-f", fx.fleetFile, "--images", imagesFile, "--key", fx.pub)
	checkCatalog(t, c, fx.prep, fx.work, fx.inRegistry, fx.pub)
	if d := cmp.Diff([]string{"1-distroless", "distroless"}, imageNamed(t, c, "static:distroless").Tags); d != "" {
		t.Errorf("static tags (-want +got):\n%s", d)
	}
	// A tag instead of a digest, a bad name, and both sources: usage.
	for _, bad := range []map[string]string{
		{"python:distroless": fx.host + "/fleet/python:distroless"},
		{"python": fx.registryRef["python:distroless"]},
	} {
		js, _ := json.Marshal(bad)
		writeFile(t, imagesFile, string(js))
		code, _, errs := run(t, "-f", fx.fleetFile, "catalog", "--images", imagesFile, "--key", fx.pub, "--out", t.TempDir())
		if code != ExitUsage || !strings.Contains(errs, imagesFile) {
			t.Errorf("images file %v: exit %d: %s", bad, code, errs)
		}
	}
	code, _, errs := run(t, "-f", fx.fleetFile, "catalog", "--images", imagesFile, "--from", "oci:"+fx.layoutDir, "--out", t.TempDir())
	if code != ExitUsage {
		t.Errorf("--images with --from: exit %d: %s", code, errs)
	}
}

// TestCatalogHistoryGrowsOnlyWithANewScan: cataloging an unchanged registry
// again keeps one history point per image; a new scan of one image, signed
// and attached, adds a point to its history only.
func TestCatalogHistoryGrowsOnlyWithANewScan(t *testing.T) {
	fx := publishedCatalogFleet(t)
	reg := fx.ownRegistry(t)
	out := t.TempDir()
	catalogRun(t, ExitOK, out, "-f", reg.fleetFile, "--key", fx.pub)
	first := catalogRun(t, ExitOK, out, "-f", reg.fleetFile, "--key", fx.pub)
	for _, im := range first.Images {
		if len(im.History) != 1 {
			t.Fatalf("%s: history %+v after an unchanged registry", im.Name, im.History)
		}
	}
	// A new scan of python:distroless, signed and attached.
	py := fx.prep.Images[0]
	if py.Image != "python:distroless" {
		t.Fatalf("first image is %s", py.Image)
	}
	if code, _, errs := run(t, "-f", reg.fleetFile, "scan", py.Reference, "--db", fx.db, "--evidence", reg.evidence,
		"--vex-dir", fx.vexDir, "--exceptions", fx.exceptions); code != 0 {
		t.Fatalf("scan: %s", errs)
	}
	if code, _, errs := run(t, "-f", reg.fleetFile, "attest", reg.refs[py.Image], "--evidence", reg.evidence); code != 0 {
		t.Fatalf("attest: %s", errs)
	}
	second := catalogRun(t, ExitOK, out, "-f", reg.fleetFile, "--key", fx.pub)
	h := imageNamed(t, second, "python:distroless").History
	if len(h) != 2 || !h[1].ScanTime.After(h[0].ScanTime) || !h[0].ScanTime.Equal(imageNamed(t, first, "python:distroless").History[0].ScanTime) {
		t.Errorf("python history after a new scan: %+v", h)
	}
	if h := imageNamed(t, second, "static:distroless").History; len(h) != 1 {
		t.Errorf("static history without a new scan: %+v", h)
	}
}

// TestCatalogRegistryFailingMidRun: a registry that fails after the first
// image was observed fails the run (exit 3) and leaves the previous
// catalog, its SBOMs and nothing else in the output directory.
func TestCatalogRegistryFailingMidRun(t *testing.T) {
	fx := publishedCatalogFleet(t)
	target, err := url.Parse("http://" + fx.host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	// Each config of the second image stays readable once: catalog reads
	// one, before verifying anything, to tell whether it is of the fleet.
	var configs sync.Map
	sref, err := name.ParseReference(fx.registryRef["static:distroless"])
	if err != nil {
		t.Fatal(err)
	}
	sidx, err := remote.Index(sref)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := sidx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range sim.Manifests {
		if d.Platform == nil || !d.MediaType.IsImage() {
			continue
		}
		m, err := remote.Get(sref.Context().Digest(d.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		img, err := m.Image()
		if err != nil {
			t.Fatal(err)
		}
		cd, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		configs.Store("/v2/fleet/static/blobs/"+cd.String(), true)
	}
	var failing atomic.Bool
	var failed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Once failing, the blobs of the second image (its evidence
		// and layers) are unavailable: the first image is observed
		// before the registry fails.
		if failing.Load() && strings.HasPrefix(r.URL.Path, "/v2/fleet/static/blobs/") {
			if _, once := configs.LoadAndDelete(r.URL.Path); !once {
				failed.Add(1)
				http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"backend down"}]}`, http.StatusServiceUnavailable)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	proxied := strings.TrimPrefix(srv.URL, "http://")
	pdir := t.TempDir()
	proxyFleet := fleetFileFor(t, fx.repo, pdir, proxied+"/fleet")
	out := filepath.Join(pdir, "catalog")
	catalogRun(t, ExitOK, out, "-f", proxyFleet, "--key", fx.pub)
	before, err := os.ReadFile(filepath.Join(out, catalog.FileName))
	if err != nil {
		t.Fatal(err)
	}
	sboms, _ := os.ReadDir(filepath.Join(out, "sbom"))
	failing.Store(true)
	code, stdout, errs := run(t, "-f", proxyFleet, "catalog", "--key", fx.pub, "--out", out, "--json")
	if code != ExitRuntime {
		t.Fatalf("catalog against a failing registry: exit %d, want %d\n%s", code, ExitRuntime, tail(errs, 2000))
	}
	if failed.Load() == 0 || !strings.Contains(errs, "[1/2] catalog python:distroless") || !strings.Contains(errs, "static") {
		t.Errorf("the registry did not fail mid-run (%d failed requests): %s", failed.Load(), tail(errs, 2000))
	}
	if stdout != "" {
		t.Errorf("a failed run printed a catalog: %s", tail(stdout, 500))
	}
	after, err := os.ReadFile(filepath.Join(out, catalog.FileName))
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("catalog.json changed by a failed run: %v", err)
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if e.Name() != catalog.FileName && e.Name() != "sbom" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if now, _ := os.ReadDir(filepath.Join(out, "sbom")); len(now) != len(sboms) {
		t.Errorf("sbom/ had %d files, now %d", len(sboms), len(now))
	}
}

// TestCatalogSBOMRemovedFromRegistry: an SBOM removed from the registry
// makes that image's sbom channel missing for its platform, fails the run,
// and removes the SBOM from the catalog directory; the other channels,
// platforms and images stay verified.
func TestCatalogSBOMRemovedFromRegistry(t *testing.T) {
	fx := publishedCatalogFleet(t)
	reg := fx.ownRegistry(t)
	out := t.TempDir()
	py := imageNamed(t, catalogRun(t, ExitOK, out, "-f", reg.fleetFile, "--key", fx.pub), "python:distroless")
	amd := py.Platforms[0]
	repoName, err := name.NewRepository(reg.host + "/fleet/python")
	if err != nil {
		t.Fatal(err)
	}
	dropFallbackReferrer(t, repoName, mustHash(t, amd.Digest), verify.PredicateSBOM, v1.Hash{})
	c := catalogRun(t, ExitFailed, out, "-f", reg.fleetFile, "--key", fx.pub)
	im := imageNamed(t, c, "python:distroless")
	if im.Status != catalog.StatusMissing {
		t.Errorf("python status %s, want missing", im.Status)
	}
	if s := channelIn(t, im.Channels, catalog.ChannelSBOM); s.Status != catalog.StatusMissing || s.Digest != amd.Digest || !strings.Contains(s.Reason, amd.Platform) {
		t.Errorf("image sbom channel %+v", s)
	}
	for _, p := range im.Platforms {
		s := channelIn(t, p.Channels, catalog.ChannelSBOM)
		if p.Digest == amd.Digest {
			if s.Status != catalog.StatusMissing || p.Packages != nil || p.PackageList != nil || p.SBOM != "" {
				t.Errorf("%s: sbom %s, packages %v, file %q", p.Platform, s.Status, p.Packages, p.SBOM)
			}
			if _, err := os.Stat(filepath.Join(out, amd.SBOM)); !os.IsNotExist(err) {
				t.Errorf("the SBOM of %s is still in the catalog directory: %v", p.Platform, err)
			}
			continue
		}
		if s.Status != catalog.StatusVerified || p.Packages == nil {
			t.Errorf("%s: sbom %s, packages %v", p.Platform, s.Status, p.Packages)
		}
	}
	// The other channels and images are unaffected.
	if channelIn(t, im.Channels, catalog.ChannelSignature).Status != catalog.StatusVerified {
		t.Error("the signature channel changed")
	}
	if st := imageNamed(t, c, "static:distroless").Status; st != catalog.StatusVerified {
		t.Errorf("static status %s", st)
	}
}

// TestCatalogUsage: what catalog refuses before it reads anything.
func TestCatalogUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bad, catalog.FileName), `{"apiVersion":"catalog.clearcutt.dev/v0"}`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"catalog"}, `"out" not set`},
		{[]string{"catalog", "--out", dir, "--from", "oci:" + dir + "@sha256:" + strings.Repeat("a", 64)}, "--from"},
		{[]string{"catalog", "--out", dir, "--from", "ghcr.io/acme/fleet"}, "--from"},
		{[]string{"catalog", "--out", dir, "--from", "oci:" + filepath.Join(dir, "none")}, "--from"},
		{[]string{"catalog", "--out", dir, "--images", filepath.Join(dir, "none.json")}, "--images"},
		{[]string{"catalog", "--out", bad, "--from", "oci:" + dir}, filepath.Join(bad, catalog.FileName)},
		{[]string{"catalog", "--out", dir, "--require", "everything", "--from", "oci:" + dir}, "--require"},
	} {
		code, _, errs := run(t, append([]string{"-f", "../../clearcutt.yaml"}, tc.args...)...)
		if code != ExitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q: %s", tc.args, code, ExitUsage, tc.want, errs)
		}
	}
}

// TestCatalogStage: in a job, catalog writes exactly its declared outputs
// and a summary with one row per image; a failed run never reports passed.
func TestCatalogStage(t *testing.T) {
	rep := catalogReport{Path: "site/catalog.json", Passed: true, Catalog: catalog.Catalog{Images: []catalog.Image{
		{Name: "python:distroless", Status: catalog.StatusVerified, Channels: []catalog.ChannelStatus{
			{Channel: "signature", Status: catalog.StatusVerified, Required: true}, {Channel: "provenance", Status: catalog.StatusMissing}}},
		{Name: "static:distroless", Status: catalog.StatusPending, Platforms: []catalog.Platform{{Vulnerabilities: &catalog.Vulnerabilities{
			Active: catalog.Severities{High: 2}, Suppressed: catalog.Severities{Low: 1}, Excepted: catalog.Severities{Critical: 1}}}}},
	}}}
	for _, tc := range []struct {
		err        error
		wantPassed string
	}{{nil, "true"}, {ErrGateFailed, "false"}} {
		j := newGHAJob(t)
		g := &globals{stderr: &bytes.Buffer{}, getenv: j.getenv}
		_ = g.toActions("catalog", rep, tc.err)
		got := j.outputs(t)
		if strings.Join(sortedKeys(got), " ") != "catalog images passed" {
			t.Fatalf("outputs %v", got)
		}
		if got["passed"] != tc.wantPassed || got["catalog"] != "site/catalog.json" || got["images"] != "2" {
			t.Errorf("after %v: outputs %v", tc.err, got)
		}
		sum := j.summaryText(t)
		for _, want := range []string{"| Image | Status | signature | sbom | provenance | tests | vulnerabilities | vex | Vulns (active/suppressed/excepted) |",
			"| python:distroless | ✅ verified | ✅ |", "❌ (not required)", "| static:distroless | ⚠️ pending |", "| 2/1/1 |"} {
			if !strings.Contains(sum, want) {
				t.Errorf("summary lacks %q:\n%s", want, sum)
			}
		}
	}
}

// TestCatalogFleetIdentity: in keyless mode the catalog records the exact
// identity verification pinned, flags included; in key mode the key.
func TestCatalogFleetIdentity(t *testing.T) {
	f, err := fleet.Load("../../clearcutt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fl := verifyFlags{maxScanAge: time.Hour}
	fl.identity.SourceRepositoryRef = "refs/tags/v1.0.0"
	v, err := newVerifier(context.Background(), f, fl)
	if err != nil {
		t.Fatal(err)
	}
	got := pipeline.CatalogFleet(f, v, "", "ghcr.io/clearcutt/fleet")
	want := &catalog.Identity{
		Issuer:              "https://token.actions.githubusercontent.com",
		BuildSignerURI:      "https://github.com/clearcutt/clearcutt/.github/workflows/publish.yml@refs/heads/main",
		SourceRepositoryURI: "https://github.com/clearcutt/clearcutt",
		SourceRepositoryRef: "refs/tags/v1.0.0",
		RescanSignerURI:     "https://github.com/clearcutt/clearcutt/.github/workflows/rescan.yml@refs/heads/main",
	}
	if got.Identity == nil || *got.Identity != *want || got.PublicKey != "" {
		t.Errorf("keyless fleet identity %+v, want %+v", got.Identity, want)
	}
	if strings.Join(got.RequiredChannels, ",") != "signature,sbom,provenance,tests,vulnerabilities,vex" || got.Name != "clearcutt-example" ||
		got.Repository != "clearcutt/clearcutt" || got.ProvenanceBuilderID != verify.DefaultProvenanceSignerURI {
		t.Errorf("keyless fleet %+v", got)
	}
	signer, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(t.TempDir(), "k.pub")
	writeFile(t, pub, string(signer.PublicKeyPEM()))
	v, err = newVerifier(context.Background(), f, verifyFlags{key: pub})
	if err != nil {
		t.Fatal(err)
	}
	got = pipeline.CatalogFleet(f, v, pub, "oci:out/oci")
	if got.Identity != nil || got.PublicKey != pub || strings.Join(got.RequiredChannels, ",") != "signature,sbom,tests,vulnerabilities,vex" {
		t.Errorf("key fleet %+v", got)
	}
}
