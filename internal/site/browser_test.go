package site

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/site/sitetest"
)

// staticHost serves dir as a static host does: files only, no directory
// listings, / is index.html.
func staticHost(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path.Clean("/" + r.URL.Path)
		if p == "/" {
			p = "/index.html"
		}
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || fi.IsDir() {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
	})
}

// TestBrowser loads every page of the site in headless Chromium, from an
// HTTP server and from file://, and follows every link.
func TestBrowser(t *testing.T) {
	b := startBrowser(t)
	for _, tc := range []struct {
		name string
		o    sitetest.Options
	}{
		{"keyless", sitetest.Options{}},
		{"key", sitetest.Options{KeyMode: true}},
		{"hostile", sitetest.Options{Hostile: true}},
		{"failed releases", sitetest.Options{FailedReleases: true, Hostile: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, out, c := buildSite(t, tc.o)
			srv := httptest.NewServer(staticHost(out))
			defer srv.Close()
			pages := crawl(t, b, srv, res, c)
			if tc.o.Hostile {
				for u, f := range pages {
					if !textHas(f.Text, sitetest.Hostile) {
						t.Errorf("%s: the hostile value is not shown as text", u)
					}
				}
			}
			for _, p := range res.Pages {
				u := (&url.URL{Scheme: "file", Path: filepath.Join(out, filepath.FromSlash(p))}).String()
				f, problems, err := b.visit(u)
				if err != nil {
					t.Fatal(err)
				}
				for _, pr := range problems {
					t.Errorf("%s: %s", u, pr)
				}
				if !f.Styled {
					t.Errorf("%s: style.css did not apply from file://", u)
				}
				for _, l := range f.Links {
					if strings.HasPrefix(l.URL, "data:") || advisoryLink(l) {
						continue
					}
					lu, err := url.Parse(l.URL)
					if err != nil || lu.Scheme != "file" {
						t.Errorf("%s: <%s %s=%q> leaves the site", u, l.Tag, l.Attr, l.Raw)
						continue
					}
					if _, err := os.Stat(lu.Path); err != nil {
						t.Errorf("%s: <%s %s=%q> does not resolve: %v", u, l.Tag, l.Attr, l.Raw, err)
					}
				}
			}
		})
	}
}

// advisoryLink reports whether l is a link to a vulnerability's public
// advisory (NVD or the GitHub Advisory Database), the only links that
// leave the site; they are anchors, never loaded by the page.
func advisoryLink(l linkRef) bool {
	return l.Tag == "a" && (strings.HasPrefix(l.URL, "https://nvd.nist.gov/vuln/detail/CVE-") || strings.HasPrefix(l.URL, "https://github.com/advisories/GHSA-"))
}

// crawl visits index.html, then every page it links to, and checks every
// link and fragment; it returns the facts of each page by URL.
func crawl(t *testing.T, b *browser, srv *httptest.Server, res Result, c *catalog.Catalog) map[string]pageFacts {
	t.Helper()
	base := srv.URL + "/"
	queue := []string{base + "index.html"}
	visited := map[string]pageFacts{}
	fetched := map[string]bool{}
	fragments := map[string][]string{}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if _, ok := visited[u]; ok {
			continue
		}
		f, problems, err := b.visit(u)
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		for _, p := range problems {
			t.Errorf("%s: %s", u, p)
		}
		visited[u] = f
		checkPage(t, u, strings.TrimPrefix(u, base), f, c)
		for _, l := range f.Links {
			if strings.HasPrefix(l.URL, "data:") {
				continue // the empty icon: no request
			}
			if advisoryLink(l) {
				continue // a vulnerability's public advisory: the one way out
			}
			if !strings.HasPrefix(l.URL, base) {
				t.Errorf("%s: <%s %s=%q> leaves the site", u, l.Tag, l.Attr, l.Raw)
				continue
			}
			target, frag, _ := strings.Cut(l.URL, "#")
			if frag != "" {
				fragments[target] = append(fragments[target], frag)
			}
			switch {
			case strings.HasSuffix(target, ".html"):
				queue = append(queue, target)
			case !fetched[target]:
				fetched[target] = true
				checkFile(t, srv, u, target)
			}
		}
	}
	for target, frags := range fragments {
		f, ok := visited[target]
		if !ok {
			t.Errorf("%s was linked with fragments but not visited", target)
			continue
		}
		for _, fr := range frags {
			if !slices.Contains(f.IDs, fr) {
				t.Errorf("%s#%s: no element has that id", target, fr)
			}
		}
	}
	for _, p := range res.Pages {
		if _, ok := visited[base+p]; !ok {
			t.Errorf("%s is not reachable by links from index.html", p)
		}
	}
	if len(visited) != len(res.Pages) {
		t.Errorf("visited %d pages, the site has %d", len(visited), len(res.Pages))
	}
	if len(fetched) == 0 {
		t.Error("no stylesheet or SBOM was linked")
	}
	return visited
}

// checkFile fetches a linked non-page file: it must be served (200), and
// an SBOM must be the SPDX JSON document.
func checkFile(t *testing.T, srv *httptest.Server, from, u string) {
	t.Helper()
	resp, err := srv.Client().Get(u)
	if err != nil {
		t.Errorf("%s: %s: %v", from, u, err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s links %s: HTTP %d", from, u, resp.StatusCode)
		return
	}
	if strings.HasSuffix(u, ".spdx.json") {
		var doc struct {
			SPDXVersion string `json:"spdxVersion"`
		}
		if err := json.Unmarshal(body, &doc); err != nil || doc.SPDXVersion != "SPDX-2.3" {
			t.Errorf("%s: not the SPDX document (%v)", u, err)
		}
	}
}

// checkPage asserts the elements a page must have.
func checkPage(t *testing.T, u, rel string, f pageFacts, c *catalog.Catalog) {
	t.Helper()
	if f.Scripts != 0 || f.Handlers != 0 {
		t.Errorf("%s: %d scripts and %d event-handler attributes, want none", u, f.Scripts, f.Handlers)
	}
	if !f.Styled {
		t.Errorf("%s: style.css did not apply", u)
	}
	if f.Title == "" || len(f.Badges) == 0 {
		t.Errorf("%s: title %q, %d status badges", u, f.Title, len(f.Badges))
	}
	for _, bd := range f.Badges {
		if !slices.Contains([]string{"✓ verified", "✗ failed", "∅ missing", "… pending", "– not applicable", "✗ release failed"}, bd) {
			t.Errorf("%s: badge %q does not say its status in words", u, bd)
		}
	}
	if rel == "index.html" {
		if f.Tables != 1 || !strings.Contains(f.Title, c.Fleet.Name) {
			t.Errorf("%s: %d tables, title %q", u, f.Tables, f.Title)
		}
		// A row per image, each with status and six channel badges, and
		// one more for a failed release.
		want := 7 * len(c.Images)
		for _, im := range c.Images {
			if im.ReleaseFailed() {
				want++
			}
		}
		if len(f.Badges) != want {
			t.Errorf("%s: %d badges, want %d", u, len(f.Badges), want)
		}
		return
	}
	var im *catalog.Image
	for i := range c.Images {
		if rel == "images/"+c.Images[i].Runtime+"-"+c.Images[i].Tier+".html" {
			im = &c.Images[i]
		}
	}
	if im == nil {
		t.Errorf("%s: a page for no image", u)
		return
	}
	if !strings.Contains(f.H1, im.Name) || !strings.Contains(f.Title, im.Name) {
		t.Errorf("%s: h1 %q, title %q: want %s", u, f.H1, f.Title, im.Name)
	}
	// The evidence (one table for the index and every architecture, when
	// a release is served), the history, the architectures, and, each
	// once where the architectures agree, findings, pruning candidates
	// and the scrub report when there are any.
	tables := 1
	if len(im.Platforms) > 0 {
		tables++
	}
	if len(im.Channels) > 0 {
		tables++
	}
	if f.Tables < tables {
		t.Errorf("%s: %d tables", u, f.Tables)
	}
	if len(f.SVGs) != 1 {
		t.Fatalf("%s: %d charts, want 1", u, len(f.SVGs))
	}
	s := f.SVGs[0]
	if !strings.Contains(s.Title, im.Name) || s.Desc == "" || s.Labels != "trend-title trend-desc" || s.Width <= 0 {
		t.Errorf("%s: chart %+v: want an accessible title and description, rendered", u, s)
	}
	last := im.History[len(im.History)-1].ScanTime.UTC().Format("2006-01-02")
	if !slices.Contains(s.Texts, last) || !slices.Contains(s.Texts, "Scan date (UTC)") || !slices.Contains(s.Texts, "critical") {
		t.Errorf("%s: chart texts %v lack the newest date %s, the axis title or the legend", u, s.Texts, last)
	}
	for _, p := range im.Platforms {
		if !textHas(f.Text, p.Digest) {
			t.Errorf("%s: %s digest not shown", u, p.Platform)
		}
		if s := p.Scrub; s != nil {
			for _, want := range append([]string{s.Files[0].Path, s.Files[0].Reason}, s.RemovedFromClosure...) {
				if !textHas(f.Text, want) {
					t.Errorf("%s: %s: what was removed from the closure (%q) is not shown", u, p.Platform, want)
				}
			}
		} else if !textHas(f.Text, "Nothing: the runtime is carried as it is.") {
			t.Errorf("%s: %s: no word on the unscrubbed runtime", u, p.Platform)
		}
	}
}
