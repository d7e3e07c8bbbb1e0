package site

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"html"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/site/sitetest"
)

// buildSite writes the example catalog shaped by o and builds its site.
func buildSite(t *testing.T, o sitetest.Options) (Result, string, *catalog.Catalog) {
	t.Helper()
	dir := t.TempDir()
	c := sitetest.Catalog(o)
	sitetest.Write(t, filepath.Join(dir, "catalog"), c)
	res, err := Build(Options{CatalogDir: filepath.Join(dir, "catalog"), OutDir: filepath.Join(dir, "site")})
	if err != nil {
		t.Fatal(err)
	}
	return res, filepath.Join(dir, "site"), c
}

func readPage(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBuildWritesEveryPage(t *testing.T) {
	res, out, c := buildSite(t, sitetest.Options{})
	want := []string{"index.html"}
	for _, im := range c.Images {
		want = append(want, "images/"+im.Runtime+"-"+im.Tier+".html")
	}
	if !slices.Equal(res.Pages, want) || res.Images != len(c.Images) || res.OutDir != out {
		t.Fatalf("result %+v, want pages %v", res, want)
	}
	sboms := 0
	for _, im := range c.Images {
		for _, p := range im.Platforms {
			if p.SBOM == "" {
				continue
			}
			sboms++
			got := readPage(t, out, "sbom/"+p.Digest[7:]+".spdx.json")
			src := readPage(t, filepath.Join(filepath.Dir(out), "catalog"), p.SBOM)
			if got != src {
				t.Errorf("%s %s: the site's SBOM differs from the catalog's", im.Name, p.Platform)
			}
		}
	}
	if len(res.Files) != len(want)+1+sboms {
		t.Errorf("files %v: want the pages, style.css and %d SBOMs", res.Files, sboms)
	}
	// Everything on disk is in the report, and the marker beside it.
	var onDisk []string
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			onDisk = append(onDisk, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(onDisk)
	if w := append(slices.Clone(res.Files), Marker); !slices.Equal(onDisk, slices.Sorted(slices.Values(w))) {
		t.Errorf("on disk %v, reported %v", onDisk, res.Files)
	}

	index := readPage(t, out, "index.html")
	for _, s := range []string{
		"acme-fleet", "ghcr.io/acme/fleet", sitetest.Identity.BuildSignerURI, sitetest.Identity.SourceRepositoryURI,
		sitetest.BuilderID, `href="images/python-distroless.html"`, `href="style.css"`,
		`<time datetime="2026-03-14T06:00:00Z">2026-03-14 06:00 UTC</time>`,
		// java:dev failed its tests and has no VEX: text, not colour only.
		`<span class="badge st-failed"><span aria-hidden="true">✗</span> failed</span>`,
		`<span class="badge st-missing"><span aria-hidden="true">∅</span> missing</span>`,
		`<span class="badge st-pending"><span aria-hidden="true">…</span> pending</span>`,
	} {
		if !strings.Contains(index, s) {
			t.Errorf("index.html lacks %q", s)
		}
	}
	// The overview's vulnerability columns: python:distroless has 2 active
	// (1 high, 1 negligible), 1 suppressed, 1 excepted over both arches.
	row := regexp.MustCompile(`(?s)<tr><th scope="row"><a href="images/python-distroless.html">.*?</tr>`).FindString(index)
	if !strings.Contains(row, `<td class="num">2<span class="sevs">1 high, 1 negligible</span></td><td class="num">1</td><td class="num">1</td>`) {
		t.Errorf("python:distroless row: %s", row)
	}

	page := readPage(t, out, "images/python-distroless.html")
	py := c.Images[2]
	for _, s := range []string{
		py.IndexDigest, py.Platforms[0].Digest, py.Platforms[1].Digest, "3.11-distroless",
		`href="../sbom/` + py.Platforms[0].Digest[7:] + `.spdx.json"`, `href="../style.css"`, `href="../index.html"`,
		`id="platform-linux-amd64"`, `href="#platform-linux-arm64"`,
		"CVE-2024-5535", "GHSA-4h8f-2wvx-gg5w", "openssl", "3.0.13", "3.0.14", "closure",
		"VEX: not_affected (vulnerable_code_not_in_execute_path)",
		"exception owned by platform-team@acme.example, expires 2026-09-30",
		"suppressed by VEX", "30 MiB", `<td class="num">12</td>`, "C headers",
		"/nix/store/", "https://spdx.dev/Document", "https://in-toto.io/attestation/vulns/v0.2",
	} {
		if !strings.Contains(page, html.EscapeString(s)) && !strings.Contains(page, s) {
			t.Errorf("python-distroless.html lacks %q", s)
		}
	}
	// Each runtime's description is shown beside each of its images on
	// the overview, and under the heading of each image's page.
	for _, im := range c.Images {
		row := regexp.MustCompile(`(?s)<tr><th scope="row"><a href="` + regexp.QuoteMeta(pageName(im)) + `">.*?</th>`).FindString(index)
		if want := `<span class="desc">` + html.EscapeString(im.Description) + `</span>`; !strings.Contains(row, want) {
			t.Errorf("index.html: the row of %s lacks %s:\n%s", im.Name, want, row)
		}
		p := readPage(t, out, pageName(im))
		if want := "</h1>\n<p class=\"description\">" + html.EscapeString(im.Description) + "</p>"; !strings.Contains(p, want) {
			t.Errorf("%s: no description under its heading", pageName(im))
		}
	}
	// A channel's reason is shown where it is not verified.
	node := readPage(t, out, "images/nodejs-distroless.html")
	if !strings.Contains(node, "does not match the fleet&#39;s") {
		t.Errorf("nodejs-distroless.html does not show why the arm64 signature failed")
	}
}

// TestFailedReleasesShowRed: an image whose latest release failed is marked
// apart from its status, with the reason, on the overview and on its page;
// one with no release served has a page that says so and offers nothing to
// verify.
func TestFailedReleasesShowRed(t *testing.T) {
	res, out, c := buildSite(t, sitetest.Options{FailedReleases: true})
	if res.Images != 6 || !slices.Contains(res.Pages, "images/static-slim.html") {
		t.Fatalf("pages %v", res.Pages)
	}
	releaseBadge := `<span class="badge st-failed"><span aria-hidden="true">✗</span> release failed</span>`
	index := readPage(t, out, "index.html")
	if !strings.Contains(index, "The latest release of 2 images failed.") {
		t.Error("the overview's summary does not count the failed releases")
	}
	rowOf := func(page string) string {
		return regexp.MustCompile(`(?s)<tr><th scope="row"><a href="images/` + page + `">.*?</tr>`).FindString(index)
	}
	for page, want := range map[string][]string{
		// Served (its scan pending), and its latest release failed.
		"python-slim.html": {`<span class="badge st-pending">`, releaseBadge, `<span class="release-reason">` + html.EscapeString(sitetest.ReleaseReason) + `</span>`},
		// Never released: missing, with the reason, nothing scanned.
		"static-slim.html": {`<span class="badge st-missing">`, releaseBadge, `<span class="release-reason">` + sitetest.UnreleasedReason + `</span>`, "no scan to read"},
	} {
		row := rowOf(page)
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("%s row lacks %q: %s", page, w, row)
			}
		}
	}
	for _, page := range []string{"python-distroless.html", "static-distroless.html"} {
		if strings.Contains(rowOf(page), "release failed") {
			t.Errorf("%s is marked as a failed release", page)
		}
	}

	slim := readPage(t, out, "images/python-slim.html")
	for _, w := range []string{
		`<h1>python:slim <span class="badge st-pending"><span aria-hidden="true">…</span> pending</span> ` + releaseBadge + `</h1>`,
		`<section class="release-failed"`, html.EscapeString(sitetest.ReleaseReason),
		"they still name the earlier release described below", c.Images[3].IndexDigest, `id="verify"`, "clearcutt verify",
	} {
		if !strings.Contains(slim, w) {
			t.Errorf("python-slim.html lacks %q", w)
		}
	}
	never := readPage(t, out, "images/static-slim.html")
	for _, w := range []string{
		`<h1>static:slim <span class="badge st-missing"><span aria-hidden="true">∅</span> missing</span> ` + releaseBadge + `</h1>`,
		`<section class="release-failed"`, sitetest.UnreleasedReason, "no release of this image is served",
		"The catalog records no evidence channel here", `<time datetime="2026-03-11T04:00:00Z">`,
	} {
		if !strings.Contains(never, w) {
			t.Errorf("static-slim.html lacks %q", w)
		}
	}
	for _, w := range []string{`id="verify"`, `<figure class="cmd">`, "@sha256:"} {
		if strings.Contains(never, w) {
			t.Errorf("static-slim.html, of which no release is served, has %q", w)
		}
	}

	// A record without a reference needs a failed release to say why.
	dir := t.TempDir()
	c.Images[5].Release = nil
	sitetest.Write(t, dir, c)
	if _, err := Build(Options{CatalogDir: dir, OutDir: filepath.Join(t.TempDir(), "site")}); !errors.Is(err, catalog.ErrInvalidCatalog) ||
		!strings.Contains(err.Error(), "images[5] (static:slim) has no reference and no failed release") {
		t.Errorf("an image with neither a reference nor a failed release: %v", err)
	}
}

func TestHostileValuesAreEscaped(t *testing.T) {
	res, out, _ := buildSite(t, sitetest.Options{Hostile: true})
	shown := 0
	for _, f := range res.Files {
		if !strings.HasSuffix(f, ".html") {
			continue
		}
		page := readPage(t, out, f)
		for _, bad := range []string{"<script", "<img", "onerror=alert(1)>", "<b>"} {
			if strings.Contains(strings.ToLower(page), bad) {
				t.Errorf("%s: hostile markup %q reached the page unescaped", f, bad)
			}
		}
		if strings.Contains(html.UnescapeString(page), sitetest.Hostile) {
			shown++
		}
	}
	if shown != len(res.Pages) {
		t.Errorf("the hostile value is shown as text on %d of %d pages", shown, len(res.Pages))
	}
}

// svgOf returns the inline SVG of a page.
func svgOf(t *testing.T, page string) string {
	t.Helper()
	i, j := strings.Index(page, "<svg"), strings.Index(page, "</svg>")
	if i < 0 || j < i || strings.Count(page, "<svg") != 1 {
		t.Fatalf("want exactly one inline <svg>")
	}
	return page[i : j+len("</svg>")]
}

func TestChartIsWellFormedSVG(t *testing.T) {
	c := sitetest.Catalog(sitetest.Options{Hostile: true})
	im := c.Images[2]
	im.Platforms = nil
	for _, n := range []int{1, 2, 6, 90} {
		hist := slices.Clone(im.History)
		for len(hist) < n {
			p := hist[0]
			p.ScanTime = p.ScanTime.Add(-36 * time.Hour)
			p.Active.Low += len(hist) % 3
			hist = append([]catalog.ScanPoint{p}, hist...)
		}
		hist = hist[len(hist)-n:]
		one := im
		one.History = hist
		files, err := Render(&catalog.Catalog{APIVersion: c.APIVersion, Fleet: c.Fleet, Images: []catalog.Image{one}}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		svg := svgOf(t, string(files[1].Data))
		dec := xml.NewDecoder(strings.NewReader(svg))
		dec.Strict = true
		var root struct {
			XMLName  xml.Name `xml:"svg"`
			Labelled string   `xml:"aria-labelledby,attr"`
			Role     string   `xml:"role,attr"`
			Title    struct {
				ID   string `xml:"id,attr"`
				Text string `xml:",chardata"`
			} `xml:"title"`
			Desc struct {
				ID   string `xml:"id,attr"`
				Text string `xml:",chardata"`
			} `xml:"desc"`
			Groups []struct {
				Class string `xml:"class,attr"`
				Rects []struct {
					Height float64 `xml:"height,attr"`
					Title  string  `xml:"title"`
				} `xml:"rect"`
				Texts []string `xml:"text"`
			} `xml:"g"`
		}
		if err := dec.Decode(&root); err != nil {
			t.Fatalf("%d points: the chart is not well-formed XML: %v\n%s", n, err, svg)
		}
		if root.XMLName.Space != "http://www.w3.org/2000/svg" || root.Role != "img" ||
			root.Labelled != root.Title.ID+" "+root.Desc.ID || root.Title.ID == "" {
			t.Errorf("%d points: svg %+v: want the SVG namespace, role img, labelled by its title and desc", n, root.XMLName)
		}
		if !strings.Contains(root.Title.Text, sitetest.Hostile) {
			t.Errorf("%d points: title %q lacks the image name", n, root.Title.Text)
		}
		first, last := hist[0].ScanTime.Format("2006-01-02"), hist[n-1].ScanTime.Format("2006-01-02")
		if !strings.Contains(root.Desc.Text, first) || !strings.Contains(root.Desc.Text, last) {
			t.Errorf("%d points: desc %q does not span %s to %s", n, root.Desc.Text, first, last)
		}
		var segments, stacked int
		var dates []string
		for _, g := range root.Groups {
			switch g.Class {
			case "bars":
				segments = len(g.Rects)
				for _, r := range g.Rects {
					if r.Height <= 0 || r.Title == "" {
						t.Errorf("%d points: bar segment %+v", n, r)
					}
				}
			case "dates":
				dates = g.Texts
			}
		}
		for _, p := range hist {
			for _, sev := range severities {
				if severityCount(p.Active, sev) > 0 {
					stacked++
				}
			}
		}
		if segments != stacked {
			t.Errorf("%d points: %d bar segments, want %d", n, segments, stacked)
		}
		if len(dates) == 0 || dates[len(dates)-1] != last || len(dates) > 8 {
			t.Errorf("%d points: date labels %v: want the newest last and at most 8", n, dates)
		}
	}
}

func TestNoHistoryNoChart(t *testing.T) {
	c := sitetest.Catalog(sitetest.Options{})
	im := c.Images[4]
	im.History, im.Platforms, im.Channels, im.Status = nil, nil, nil, catalog.StatusMissing
	files, err := Render(&catalog.Catalog{APIVersion: c.APIVersion, Fleet: c.Fleet, Images: []catalog.Image{im}}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	page := string(files[1].Data)
	if strings.Contains(page, "<svg") || !strings.Contains(page, "No scan recorded yet.") {
		t.Error("an image without history must say so instead of drawing an empty chart")
	}
	if !strings.Contains(page, "The catalog records no evidence channel here") {
		t.Error("an architecture-less image must not look verified")
	}
}

func TestOutputIsDeterministic(t *testing.T) {
	for _, o := range []sitetest.Options{{}, {KeyMode: true}, {Hostile: true}} {
		r1, out1, _ := buildSite(t, o)
		r2, out2, _ := buildSite(t, o)
		if !slices.Equal(r1.Files, r2.Files) {
			t.Fatalf("%+v: files differ: %v vs %v", o, r1.Files, r2.Files)
		}
		for _, f := range r1.Files {
			if a, b := readPage(t, out1, f), readPage(t, out2, f); a != b {
				t.Errorf("%+v: %s differs between two builds of the same catalog", o, f)
			}
		}
	}
}

func TestBuildReplacesOnlyWhole(t *testing.T) {
	dir := t.TempDir()
	cat, out := filepath.Join(dir, "catalog"), filepath.Join(dir, "site")
	c := sitetest.Catalog(sitetest.Options{})
	sitetest.Write(t, cat, c)
	if _, err := Build(Options{CatalogDir: cat, OutDir: out}); err != nil {
		t.Fatal(err)
	}
	before := readPage(t, out, "index.html")

	// A second run replaces the site: a stale page disappears.
	stale := filepath.Join(out, "images", "ruby-slim.html")
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(Options{CatalogDir: cat, OutDir: out}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a page of the previous site survived the rebuild: %v", err)
	}

	// A failing run (an SBOM file is gone) leaves the previous site.
	if err := os.Remove(filepath.Join(cat, filepath.FromSlash(c.Images[0].Platforms[0].SBOM))); err != nil {
		t.Fatal(err)
	}
	_, err := Build(Options{CatalogDir: cat, OutDir: out})
	if !errors.Is(err, catalog.ErrInvalidCatalog) || !strings.Contains(err.Error(), "images[0].platforms[0].sbom") {
		t.Fatalf("want an invalid-catalog error naming the SBOM, got %v", err)
	}
	if got := readPage(t, out, "index.html"); got != before {
		t.Error("a failed run changed the previous site")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "catalog" && e.Name() != "site" {
			t.Errorf("left behind: %s", e.Name())
		}
	}

	// A directory that is not a site is never replaced, nor one holding the catalog.
	other := filepath.Join(dir, "docs")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "notes.md"), []byte("keep"), 0o644)
	sitetest.Write(t, cat, c)
	for _, o := range []string{other, dir, cat} {
		if _, err := Build(Options{CatalogDir: cat, OutDir: o}); !errors.Is(err, ErrNotASite) {
			t.Errorf("out %s: want ErrNotASite, got %v", o, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(other, "notes.md")); string(b) != "keep" {
		t.Error("a directory that is not a site was touched")
	}
	// An empty directory is fine.
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)
	if _, err := Build(Options{CatalogDir: cat, OutDir: empty}); err != nil {
		t.Errorf("empty out dir: %v", err)
	}
	if fi, err := os.Stat(empty); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("site directory mode: %v %v", fi.Mode(), err)
	}
}

func TestLoadRejectsWhatTheSiteCannotShowSafely(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(c *catalog.Catalog)
		raw    func(b []byte) []byte
		want   string
	}{
		{name: "api version", mutate: func(c *catalog.Catalog) { c.APIVersion = "catalog.clearcutt.dev/v2" }, want: `apiVersion "catalog.clearcutt.dev/v2"`},
		{name: "runtime path", mutate: func(c *catalog.Catalog) { c.Images[1].Runtime = "../../etc" }, want: `images[1].runtime "../../etc"`},
		{name: "tier markup", mutate: func(c *catalog.Catalog) { c.Images[0].Tier = "<b>" }, want: `images[0].tier "<b>"`},
		{name: "duplicate page", mutate: func(c *catalog.Catalog) { c.Images[3].Tier = "distroless" }, want: "images[3] (python:slim) and images[2] have the same runtime and tier"},
		{name: "index digest", mutate: func(c *catalog.Catalog) { c.Images[0].IndexDigest = "sha256:abc" }, want: `images[0].indexDigest "sha256:abc"`},
		{name: "reference by tag", mutate: func(c *catalog.Catalog) { c.Images[0].Reference = "ghcr.io/acme/fleet/java:dev" }, want: "images[0].reference \"ghcr.io/acme/fleet/java:dev\": want <repository>@sha256:"},
		{name: "platform digest", mutate: func(c *catalog.Catalog) { c.Images[2].Platforms[1].Digest = "latest" }, want: `images[2].platforms[1].digest "latest"`},
		{name: "status", mutate: func(c *catalog.Catalog) { c.Images[2].Platforms[0].Channels[3].Status = "ok" }, want: `images[2].platforms[0].channels[3] (tests).status "ok"`},
		{name: "channel", mutate: func(c *catalog.Catalog) { c.Images[2].Channels[0].Channel = "cosign" }, want: `images[2].channels[0].channel "cosign"`},
		{name: "finding status", mutate: func(c *catalog.Catalog) { c.Images[2].Platforms[0].Vulnerabilities.Findings[0].Status = "fixed" }, want: `findings[0] (CVE-2024-5535).status "fixed"`},
		{name: "sbom outside", mutate: func(c *catalog.Catalog) { c.Images[2].Platforms[0].SBOM = "../../etc/passwd" }, want: `images[2].platforms[0].sbom: "../../etc/passwd" is not a path inside the catalog directory`},
		{name: "sbom not spdx", mutate: func(c *catalog.Catalog) { c.Images[2].Platforms[0].SBOM = "catalog.json" }, want: `images[2].platforms[0].sbom: catalog.json: not an SPDX JSON document`},
		{name: "verified without platforms", mutate: func(c *catalog.Catalog) { c.Images[4].Platforms = nil }, want: "images[4] (static:distroless).status is verified, but it has no platforms"},
		{name: "verified but failed", mutate: func(c *catalog.Catalog) { c.Images[2].Platforms[1].Channels[5].Status = "failed" }, want: "images[2] (python:distroless).status is verified, but the vex channel of linux/arm64 is failed"},
		{name: "verified but absent", mutate: func(c *catalog.Catalog) { c.Images[2].Platforms[0].Channels = c.Images[2].Platforms[0].Channels[:3] }, want: "the tests channel of linux/amd64 is missing"},
		{name: "two modes", mutate: func(c *catalog.Catalog) { c.Fleet.PublicKey = "k.pub" }, want: "both identity and publicKey"},
		{name: "no mode", mutate: func(c *catalog.Catalog) { c.Fleet.Identity = nil }, want: "neither identity nor publicKey"},
		{name: "identity field", mutate: func(c *catalog.Catalog) { c.Fleet.Identity.SourceRepositoryRef = "" }, want: "fleet.identity.sourceRepositoryRef is empty"},
		{name: "unknown field", raw: func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"fleet": {`), []byte(`"fleet": {"signer": "x",`), 1)
		}, want: `unknown field "signer"`},
		{name: "trailing data", raw: func(b []byte) []byte { return append(b, []byte(`{}`)...) }, want: "data after the catalog object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := sitetest.Catalog(sitetest.Options{})
			sitetest.Write(t, dir, c)
			if tc.mutate != nil {
				tc.mutate(c)
				b, _ := json.MarshalIndent(c, "", "  ")
				os.WriteFile(filepath.Join(dir, catalog.FileName), b, 0o644)
			}
			if tc.raw != nil {
				b, _ := os.ReadFile(filepath.Join(dir, catalog.FileName))
				os.WriteFile(filepath.Join(dir, catalog.FileName), tc.raw(b), 0o644)
			}
			_, err := Build(Options{CatalogDir: dir, OutDir: filepath.Join(t.TempDir(), "site")})
			if !errors.Is(err, catalog.ErrInvalidCatalog) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, catalog.FileName)) {
				t.Fatalf("want an invalid-catalog error naming the file and %q, got %v", tc.want, err)
			}
		})
	}
}

// TestConfigurationShownOnceOrPerArchitecture: a shared run configuration
// is shown once for the image; configurations that differ are shown in
// each architecture's section; a catalog without any shows none.
func TestConfigurationShownOnceOrPerArchitecture(t *testing.T) {
	c := sitetest.Catalog(sitetest.Options{})
	render := func(im catalog.Image) string {
		t.Helper()
		im.Platforms = slices.Clone(im.Platforms)
		for i := range im.Platforms {
			im.Platforms[i].SBOM = "" // no SBOM files to copy
		}
		files, err := Render(&catalog.Catalog{APIVersion: c.APIVersion, Fleet: c.Fleet, Images: []catalog.Image{im}}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return string(files[1].Data)
	}
	shared := c.Images[4]
	if page := render(shared); strings.Count(page, `<dl class="facts config">`) != 1 || !strings.Contains(page, `href="#config"`) {
		t.Error("a shared configuration is not shown once")
	}
	differ := c.Images[4]
	differ.Platforms = slices.Clone(differ.Platforms)
	for i := range differ.Platforms {
		cfg := *differ.Config
		cfg.Cmd = []string{"--arch", differ.Platforms[i].Platform}
		differ.Platforms[i].Config = &cfg
	}
	differ.Config = nil
	page := render(differ)
	if strings.Count(page, `<dl class="facts config">`) != 2 || strings.Contains(page, `href="#config"`) ||
		!strings.Contains(page, html.EscapeString(`["--arch","linux/arm64"]`)) {
		t.Error("configurations that differ are not shown per architecture")
	}
	old := c.Images[4]
	old.Config = nil
	if page := render(old); strings.Contains(page, `class="facts config"`) {
		t.Error("a catalog without configuration shows one")
	}
}

// TestEvidenceShowsOnlyWhatDiffersPerArchitecture: python:slim's arm64
// scan is pending and older, and decides the channel; amd64's newer scan
// verified. Each cell shows only what differs from the channel's result:
// arm64 its status and reason, amd64 its status and its own scan time.
func TestEvidenceShowsOnlyWhatDiffersPerArchitecture(t *testing.T) {
	_, out, c := buildSite(t, sitetest.Options{})
	page := readPage(t, out, "images/python-slim.html")
	if n := strings.Count(page, `<table class="channels">`); n != 1 {
		t.Fatalf("%d evidence tables, want 1", n)
	}
	row := regexp.MustCompile(`(?s)<tr><th scope="row">Vulnerabilities<.*?</tr>`).FindString(page)
	cells := regexp.MustCompile(`(?s)<td class="arch">(.*?)</td>`).FindAllStringSubmatch(row, -1)
	if len(cells) != 2 {
		t.Fatalf("vulnerabilities row: %d architecture cells, want 2:\n%s", len(cells), row)
	}
	amd, arm := cells[0][1], cells[1][1]
	if !strings.Contains(arm, "pending") || !strings.Contains(arm, "newest scan is 30h old") || strings.Contains(arm, "Signed") || strings.Contains(arm, "Scanned") {
		t.Errorf("arm64 cell: want its status and reason, nothing that agrees:\n%s", arm)
	}
	scan := c.Images[3].Platforms[0].Vulnerabilities.ScanTime.UTC().Format("2006-01-02 15:04 UTC")
	if !strings.Contains(amd, "verified") || !strings.Contains(amd, "Scanned") || !strings.Contains(amd, scan) || strings.Contains(amd, "Signed") {
		t.Errorf("amd64 cell: want its status and its own scan time %s, not the signing time that agrees:\n%s", scan, amd)
	}
	// The other channels agree over the architectures: one cell each.
	if n := strings.Count(page, "the same on every architecture"); n != len(c.Images[3].Channels)-1 {
		t.Errorf("%d channels shown as agreeing, want %d", n, len(c.Images[3].Channels)-1)
	}
}

// TestUndescribedRuntimeShowsNoDescription: an image whose runtime has no
// description shows none, on the overview or its page.
func TestUndescribedRuntimeShowsNoDescription(t *testing.T) {
	c := sitetest.Catalog(sitetest.Options{})
	im := c.Images[4]
	im.Description = ""
	im.Platforms = slices.Clone(im.Platforms)
	for i := range im.Platforms {
		im.Platforms[i].SBOM = "" // no SBOM files to copy
	}
	files, err := Render(&catalog.Catalog{APIVersion: c.APIVersion, Fleet: c.Fleet, Images: []catalog.Image{im}}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files[:2] {
		if strings.Contains(string(f.Data), `class="desc"`) || strings.Contains(string(f.Data), `class="description"`) {
			t.Errorf("%s shows a description of an undescribed runtime", f.Path)
		}
	}
}

// TestArchitecturesShownOnceWhereTheyAgree: an image page shows a finding,
// a scan summary, a scrub report or a pruning list the architectures share
// once, named for each of them, and what differs for each architecture it
// is true of.
func TestArchitecturesShownOnceWhereTheyAgree(t *testing.T) {
	c := sitetest.Catalog(sitetest.Options{})
	render := func(im catalog.Image) string {
		t.Helper()
		for i := range im.Platforms {
			im.Platforms[i].SBOM = "" // no SBOM files to copy
		}
		files, err := Render(&catalog.Catalog{APIVersion: c.APIVersion, Fleet: c.Fleet, Images: []catalog.Image{im}}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return string(files[1].Data)
	}
	// clone copies an image's platforms, their findings and pruning lists.
	clone := func(im catalog.Image) catalog.Image {
		im.Platforms = slices.Clone(im.Platforms)
		for i := range im.Platforms {
			p := &im.Platforms[i]
			p.PruningCandidates = slices.Clone(p.PruningCandidates)
			if p.Vulnerabilities != nil {
				v := *p.Vulnerabilities
				v.Findings = slices.Clone(v.Findings)
				p.Vulnerabilities = &v
			}
		}
		return im
	}
	row := func(page, id string) []string {
		return regexp.MustCompile(`(?s)<tr class="f-[a-z]+"><th scope="row"><a href="https://nvd.nist.gov/vuln/detail/`+regexp.QuoteMeta(id)+`".*?</tr>`).FindAllString(page, -1)
	}
	const both = `<span class="arches"><a href="#platform-linux-amd64">amd64</a>, <a href="#platform-linux-arm64">arm64</a>:</span>`
	const amd, arm = `<span class="arches"><a href="#platform-linux-amd64">amd64</a>:</span>`, `<span class="arches"><a href="#platform-linux-arm64">arm64</a>:</span>`
	const armOnly = `<span class="only">only on <a href="#platform-linux-arm64">arm64</a></span>`

	// python:distroless: both architectures agree on everything.
	same := render(clone(c.Images[2]))
	for _, f := range c.Images[2].Platforms[0].Vulnerabilities.Findings {
		if rows := row(same, f.ID); len(rows) != 1 || strings.Contains(rows[0], "only on") {
			t.Errorf("a finding of both architectures, %s, is shown %d times, or marked as one's: %q", f.ID, len(rows), rows)
		}
	}
	for what, n := range map[string]int{
		both + " Scanned": 1, both + " The image carries a copy of": 1, "<caption>" + both + " Paths that ship": 1,
		`<table class="findings">`: 1, `<table class="pruning">`: 1, `<table class="scrub">`: 1,
	} {
		if got := strings.Count(same, what); got != n {
			t.Errorf("agreeing architectures: %q shown %d times, want %d", what, got, n)
		}
	}

	// Only arm64 reports the negligible finding, and its pruning list
	// differs: each is shown for the architecture it is true of.
	differ := clone(c.Images[2])
	amdV := differ.Platforms[0].Vulnerabilities
	amdV.Findings = slices.DeleteFunc(amdV.Findings, func(f catalog.Finding) bool { return f.ID == "CVE-2022-48560" })
	amdV.Active.Negligible--
	armP := &differ.Platforms[1]
	armP.PruningCandidates = append(armP.PruningCandidates, catalog.PruningCandidate{Path: "/nix/store/arm-only-static/lib/libpython3.11.a", Reason: "static library", Size: 9_000_000})
	page := render(differ)
	if rows := row(page, "CVE-2022-48560"); len(rows) != 1 || !strings.Contains(rows[0], armOnly) {
		t.Errorf("the arm64-only finding is not shown once, marked arm64: %q", rows)
	}
	if rows := row(page, "CVE-2024-5535"); len(rows) != 1 || strings.Contains(rows[0], "only on") {
		t.Errorf("the finding of both architectures is not shown once, unmarked: %q", rows)
	}
	for what, n := range map[string]int{
		amd + " Scanned": 1, arm + " Scanned": 1, both + " Scanned": 0,
		both + " The image carries a copy of":  1,
		"<caption>" + amd + " Paths that ship": 1, "<caption>" + arm + " Paths that ship": 1,
		"/nix/store/arm-only-static/lib/libpython3.11.a": 1, "C headers": 2,
	} {
		if got := strings.Count(page, what); got != n {
			t.Errorf("differing architectures: %q shown %d times, want %d", what, got, n)
		}
	}
	if !regexp.MustCompile(amd+` Scanned .*?:\s+1 active`).MatchString(page) || !regexp.MustCompile(arm+` Scanned .*?:\s+2 active`).MatchString(page) {
		t.Error("each architecture's own scan summary is not shown")
	}

	// Each architecture's scan names the package by its own purl (a Nix
	// package's purl carries its store path's hash): the finding is still
	// one row, with each architecture's purl labelled; a purl they share
	// is shown once, unlabelled.
	purls := clone(c.Images[2])
	for i, arch := range []string{"amd64", "arm64"} {
		fs := purls.Platforms[i].Vulnerabilities.Findings
		for j := range fs {
			fs[j].PURL = "pkg:nix/" + fs[j].Package + "@" + fs[j].Version + "?output=out&outputhash=" + arch
		}
	}
	shared := c.Images[2].Platforms[0].Vulnerabilities.Findings[0].ID
	for _, p := range purls.Platforms {
		for j := range p.Vulnerabilities.Findings {
			if p.Vulnerabilities.Findings[j].ID == shared {
				p.Vulnerabilities.Findings[j].PURL = "pkg:nix/shared@1"
			}
		}
	}
	page = render(purls)
	for k, f := range c.Images[2].Platforms[0].Vulnerabilities.Findings {
		rows := row(page, f.ID)
		if len(rows) != 1 || strings.Contains(rows[0], "only on") {
			t.Fatalf("%s reported under two purls is not one row for both architectures: %q", f.ID, rows)
		}
		if k == 0 {
			if !strings.Contains(rows[0], `<code class="purl">pkg:nix/shared@1</code>`) || strings.Contains(rows[0], `class="arch"`) {
				t.Errorf("%s: a shared purl is not shown once: %q", f.ID, rows[0])
			}
			continue
		}
		for _, arch := range []string{"amd64", "arm64"} {
			if want := `<span class="arch">` + arch + `:</span> pkg:nix/` + f.Package + "@" + f.Version + "?output=out&amp;outputhash=" + arch; !strings.Contains(rows[0], want) {
				t.Errorf("%s: %s's purl is not labelled: want %q in %q", f.ID, arch, want, rows[0])
			}
		}
	}

	// amd64 has no scan to read: it says so, and every finding is arm64's.
	unscanned := clone(c.Images[2])
	unscanned.Platforms[0].Vulnerabilities = nil
	page = render(unscanned)
	if !strings.Contains(page, amd+" No scan to read") || strings.Count(page, armOnly) != len(c.Images[2].Platforms[1].Vulnerabilities.Findings) {
		t.Error("an architecture without a scan is not named, or the other's findings are not marked as its")
	}

	// No architecture has a scan to read: no findings table either.
	none := clone(c.Images[2])
	none.Platforms[0].Vulnerabilities, none.Platforms[1].Vulnerabilities = nil, nil
	if page := render(none); !strings.Contains(page, both+" No scan to read") || strings.Contains(page, "No findings") {
		t.Error("without any scan the page does not say so once, or claims no findings")
	}
}
