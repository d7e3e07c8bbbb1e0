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
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

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
	if c.APIVersion != catalog.APIVersion || c.Fleet.Name != "clearcutt-example" || c.Fleet.Repository != "clearcutt/clearcutt" {
		t.Errorf("catalog header %s %+v", c.APIVersion, c.Fleet)
	}
	if c.Fleet.PublicKey != pub || c.Fleet.Identity != nil {
		t.Errorf("key mode fleet: publicKey %q identity %+v", c.Fleet.PublicKey, c.Fleet.Identity)
	}
	if got := strings.Join(c.Fleet.RequiredChannels, ","); got != "signature,sbom,tests,vulnerabilities,vex" {
		t.Errorf("required channels %s", got)
	}
	var names []string
	for _, im := range c.Images {
		names = append(names, im.Name)
	}
	if strings.Join(names, " ") != "python:distroless static:distroless" {
		t.Fatalf("images %v", names)
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
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s %s: findings\n%s\nthe scan found\n%s", pi.Image, p.Platform, strings.Join(got, "\n"), strings.Join(want, "\n"))
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

// TestCatalogOfPublishedFleet publishes python:distroless and
// static:distroless with the pipeline (key mode) to an OCI layout, copies
// and signs them into the registry process, and catalogs them from the
// layout, the registry of clearcutt.yaml and an images file; then changes
// the registry: a new scan, a registry failing mid-run, an SBOM removed.
func TestCatalogOfPublishedFleet(t *testing.T) {
	repo := needPipelineTools(t)
	host := ocitest.StartDistribution(t)
	dir := t.TempDir()
	fleetFile := fleetFileFor(t, repo, dir, host+"/fleet")
	work := filepath.Join(dir, "work")
	evidence := filepath.Join(work, "evidence")
	layoutDir := filepath.Join(dir, "published")
	db := testDB(t, repo)
	vexDir, exceptions := filepath.Join(repo, "vex"), filepath.Join(repo, "exceptions.yaml")
	start := time.Now()
	prep := pipelineJSON(t, ExitOK, "-f", fleetFile, "pipeline", "--nixpkgs", filepath.Join(repo, "nix/fixtures"), "--db", db,
		"--vex-dir", vexDir, "--exceptions", exceptions, "--no-smoke",
		"--work", work, "--cache", filepath.Join(dir, "cache"), "--to", "oci:"+layoutDir)
	t.Logf("pipeline: %s", time.Since(start).Round(time.Second))
	key, err := defaultKeyPath()
	if err != nil {
		t.Fatal(err)
	}
	pub := key + ".pub"
	// The same images, published and signed in the registry.
	registryRef := map[string]string{}
	for _, pi := range prep.Images {
		if code, _, errs := run(t, "-f", fleetFile, "publish", pi.Reference, "--to", host+"/fleet", "--evidence", evidence); code != 0 {
			t.Fatalf("publish %s: %s", pi.Image, errs)
		}
		registryRef[pi.Image] = stage.PublishedRef(host+"/fleet", pi.Image, pi.Digest)
		if code, _, errs := run(t, "-f", fleetFile, "attest", registryRef[pi.Image], "--evidence", evidence); code != 0 {
			t.Fatalf("attest %s: %s", pi.Image, errs)
		}
	}
	inRegistry := func(runtime string) string { return host + "/fleet/" + runtime }

	t.Run("from the layout", func(t *testing.T) {
		out := t.TempDir()
		c := catalogRun(t, ExitOK, out, "-f", fleetFile, "--from", "oci:"+layoutDir, "--key", pub)
		checkCatalog(t, c, prep, work, func(string) string { return "oci:" + layoutDir }, pub)
		if c.Fleet.Registry != "oci:"+layoutDir {
			t.Errorf("registry %q", c.Fleet.Registry)
		}
		for _, im := range c.Images {
			if len(im.Tags) != 0 {
				t.Errorf("%s: a layout has no tags, got %v", im.Name, im.Tags)
			}
			for _, p := range im.Platforms {
				// The SBOM written is the verified document the pipeline
				// attested for this digest.
				var written, attested struct {
					Name     string            `json:"name"`
					Packages []json.RawMessage `json:"packages"`
				}
				b, err := os.ReadFile(filepath.Join(out, p.SBOM))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &written); err != nil {
					t.Fatal(err)
				}
				h := mustHash(t, p.Digest)
				a, err := os.ReadFile(filepath.Join(evidence, "sha256-"+h.Hex, "sbom.spdx.json"))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(a, &attested); err != nil {
					t.Fatal(err)
				}
				if written.Name != attested.Name || !strings.Contains(written.Name, h.Hex) || len(written.Packages) != len(attested.Packages) {
					t.Errorf("%s %s: SBOM %q with %d packages, attested %q with %d", im.Name, p.Platform, written.Name, len(written.Packages), attested.Name, len(attested.Packages))
				}
			}
		}
		// The table names every image and channel; --site writes the site
		// of the catalog just written.
		siteDir := filepath.Join(dir, "site")
		code, table, errs := run(t, "-f", fleetFile, "catalog", "--from", "oci:"+layoutDir, "--key", pub, "--out", out, "--site", siteDir)
		if code != ExitOK {
			t.Fatalf("catalog (table): exit %d: %s", code, errs)
		}
		for _, page := range []string{"index.html", "images/python-distroless.html", "images/static-distroless.html"} {
			if _, err := os.Stat(filepath.Join(siteDir, page)); err != nil {
				t.Errorf("--site: %v", err)
			}
		}
		for _, want := range []string{"python:distroless", "static:distroless", "SIGNATURE", "VULNERABILITIES", "2 images, 2 verified"} {
			if !strings.Contains(table, want) {
				t.Errorf("table lacks %q:\n%s", want, table)
			}
		}
	})

	regOut := filepath.Join(dir, "catalog-registry")
	t.Run("from the registry of clearcutt.yaml", func(t *testing.T) {
		c := catalogRun(t, ExitOK, regOut, "-f", fleetFile, "--key", pub)
		checkCatalog(t, c, prep, work, inRegistry, pub)
		if c.Fleet.Registry != host+"/fleet" {
			t.Errorf("registry %q", c.Fleet.Registry)
		}
		for n, want := range map[string]string{"python:distroless": "3.11-distroless,distroless", "static:distroless": "1-distroless,distroless"} {
			if got := strings.Join(imageNamed(t, c, n).Tags, ","); got != want {
				t.Errorf("%s: tags %s, want %s", n, got, want)
			}
		}
		// In a job: the declared outputs and the summary table.
		j := newGHAJob(t)
		code, _, errs := runIn(t, j, "-f", fleetFile, "catalog", "--key", pub, "--out", t.TempDir())
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
	})

	t.Run("from an images file", func(t *testing.T) {
		imagesFile := filepath.Join(t.TempDir(), "images.json")
		js, _ := json.Marshal(registryRef)
		writeFile(t, imagesFile, string(js))
		c := catalogRun(t, ExitOK, t.TempDir(), "-f", fleetFile, "--images", imagesFile, "--key", pub)
		checkCatalog(t, c, prep, work, inRegistry, pub)
		if got := strings.Join(imageNamed(t, c, "static:distroless").Tags, ","); got != "1-distroless,distroless" {
			t.Errorf("static tags %s", got)
		}
		// A tag instead of a digest, a bad name, and both sources: usage.
		for _, bad := range []map[string]string{
			{"python:distroless": host + "/fleet/python:distroless"},
			{"python": registryRef["python:distroless"]},
		} {
			js, _ := json.Marshal(bad)
			writeFile(t, imagesFile, string(js))
			code, _, errs := run(t, "-f", fleetFile, "catalog", "--images", imagesFile, "--key", pub, "--out", t.TempDir())
			if code != ExitUsage || !strings.Contains(errs, imagesFile) {
				t.Errorf("images file %v: exit %d: %s", bad, code, errs)
			}
		}
		code, _, errs := run(t, "-f", fleetFile, "catalog", "--images", imagesFile, "--from", "oci:"+layoutDir, "--out", t.TempDir())
		if code != ExitUsage {
			t.Errorf("--images with --from: exit %d: %s", code, errs)
		}
	})

	t.Run("history grows only with a new scan", func(t *testing.T) {
		first := catalogRun(t, ExitOK, regOut, "-f", fleetFile, "--key", pub)
		for _, im := range first.Images {
			if len(im.History) != 1 {
				t.Fatalf("%s: history %+v after an unchanged registry", im.Name, im.History)
			}
		}
		// A new scan of python:distroless, signed and attached.
		py := prep.Images[0]
		if py.Image != "python:distroless" {
			t.Fatalf("first image is %s", py.Image)
		}
		if code, _, errs := run(t, "-f", fleetFile, "scan", py.Reference, "--db", db, "--evidence", evidence, "--vex-dir", vexDir, "--exceptions", exceptions); code != 0 {
			t.Fatalf("scan: %s", errs)
		}
		if code, _, errs := run(t, "-f", fleetFile, "attest", registryRef[py.Image], "--evidence", evidence); code != 0 {
			t.Fatalf("attest: %s", errs)
		}
		second := catalogRun(t, ExitOK, regOut, "-f", fleetFile, "--key", pub)
		h := imageNamed(t, second, "python:distroless").History
		if len(h) != 2 || !h[1].ScanTime.After(h[0].ScanTime) || !h[0].ScanTime.Equal(imageNamed(t, first, "python:distroless").History[0].ScanTime) {
			t.Errorf("python history after a new scan: %+v", h)
		}
		if h := imageNamed(t, second, "static:distroless").History; len(h) != 1 {
			t.Errorf("static history without a new scan: %+v", h)
		}
	})

	t.Run("a registry failing mid-run leaves the previous catalog", func(t *testing.T) {
		target, err := url.Parse("http://" + host)
		if err != nil {
			t.Fatal(err)
		}
		proxy := httputil.NewSingleHostReverseProxy(target)
		var failing atomic.Bool
		var failed atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Once failing, the blobs of the second image (its evidence
			// and layers) are unavailable: the first image is observed
			// before the registry fails.
			if failing.Load() && strings.HasPrefix(r.URL.Path, "/v2/fleet/static/blobs/") {
				failed.Add(1)
				http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"backend down"}]}`, http.StatusServiceUnavailable)
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		proxied := strings.TrimPrefix(srv.URL, "http://")
		pdir := t.TempDir()
		proxyFleet := fleetFileFor(t, repo, pdir, proxied+"/fleet")
		out := filepath.Join(pdir, "catalog")
		catalogRun(t, ExitOK, out, "-f", proxyFleet, "--key", pub)
		before, err := os.ReadFile(filepath.Join(out, catalog.FileName))
		if err != nil {
			t.Fatal(err)
		}
		sboms, _ := os.ReadDir(filepath.Join(out, "sbom"))
		failing.Store(true)
		code, stdout, errs := run(t, "-f", proxyFleet, "catalog", "--key", pub, "--out", out, "--json")
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
	})

	// Tampering from here on: the registry's evidence is changed.
	t.Run("an SBOM removed from the registry", func(t *testing.T) {
		py := imageNamed(t, catalogRun(t, ExitOK, regOut, "-f", fleetFile, "--key", pub), "python:distroless")
		amd := py.Platforms[0]
		repoName, err := name.NewRepository(host + "/fleet/python")
		if err != nil {
			t.Fatal(err)
		}
		dropFallbackReferrer(t, repoName, mustHash(t, amd.Digest), verify.PredicateSBOM, v1.Hash{})
		c := catalogRun(t, ExitFailed, regOut, "-f", fleetFile, "--key", pub)
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
				if s.Status != catalog.StatusMissing || p.Packages != nil || p.SBOM != "" {
					t.Errorf("%s: sbom %s, packages %v, file %q", p.Platform, s.Status, p.Packages, p.SBOM)
				}
				if _, err := os.Stat(filepath.Join(regOut, amd.SBOM)); !os.IsNotExist(err) {
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
	})
	t.Logf("total: %s", time.Since(start).Round(time.Second))
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
	got := catalogFleet(f, v, "", "ghcr.io/clearcutt/fleet")
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
	got = catalogFleet(f, v, pub, "oci:out/oci")
	if got.Identity != nil || got.PublicKey != pub || strings.Join(got.RequiredChannels, ",") != "signature,sbom,tests,vulnerabilities,vex" {
		t.Errorf("key fleet %+v", got)
	}
}
