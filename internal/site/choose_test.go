package site

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/site/sitetest"
)

// screenshotDir is where TestBrowserShowsWhatAChooserNeeds writes its
// screenshots: $CLEARCUTT_SITE_SCREENSHOTS, or a temporary directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("CLEARCUTT_SITE_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestBrowserShowsWhatAChooserNeeds renders the pages a team choosing a
// base image reads first in headless Chromium, asserts what they must
// show, and writes full-page screenshots.
func TestBrowserShowsWhatAChooserNeeds(t *testing.T) {
	b := startBrowser(t)
	shots := screenshotDir(t)
	visit := func(t *testing.T, srv *httptest.Server, page, shot string) pageFacts {
		t.Helper()
		var path string
		if shot != "" {
			path = filepath.Join(shots, shot)
		}
		f, problems, err := b.visitShot(srv.URL+"/"+page, path)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", page, p)
		}
		if path != "" {
			t.Logf("screenshot of %s: %s", page, path)
		}
		return f
	}
	has := func(t *testing.T, page string, f pageFacts, want ...string) {
		t.Helper()
		for _, w := range want {
			if !textHas(f.Text, w) {
				t.Errorf("%s does not show %q", page, w)
			}
		}
	}

	t.Run("keyless", func(t *testing.T) {
		_, out, c := buildSite(t, sitetest.Options{})
		srv := httptest.NewServer(staticHost(out))
		defer srv.Close()

		idx := visit(t, srv, "index.html", "index.png")
		py := c.Images[2]
		size, _ := sizeRange(py.Platforms)
		has(t, "index.html", idx, "Size", "Updated", size, lastUpdated(py).Format("2006-01-02"),
			// java:dev has a high finding an exception covers.
			"1 high excepted")
		if strings.Count(idx.Text, " excepted") != 1 {
			// One flag: python's excepted finding is low.
			t.Errorf("index.html: want exactly one severe-excepted flag:\n%s", idx.Text)
		}

		page := "images/python-distroless.html"
		f := visit(t, srv, page, "python-distroless.png")
		repo := strings.TrimSuffix(py.Reference, "@"+py.IndexDigest)
		has(t, page, f, "docker pull "+py.Reference, "docker pull "+repo+":"+py.Tags[0], "docker pull "+repo+":"+py.Tags[1],
			"clearcutt verify", "--certificate-identity "+sitetest.Identity.BuildSignerURI)
		pull, verify, evidence := strings.Index(f.Text, "Pull this image"), strings.Index(f.Text, "Verify this image"), strings.Index(f.Text, "Each channel over the index")
		if pull < 0 || verify < pull || evidence < verify {
			t.Errorf("%s: pull at %d, verify at %d, evidence at %d: want pull and verify first", page, pull, verify, evidence)
		}
		var links []string
		for _, l := range f.Links {
			links = append(links, l.URL)
		}
		for _, want := range []string{"https://nvd.nist.gov/vuln/detail/CVE-2024-5535", "https://github.com/advisories/GHSA-4h8f-2wvx-gg5w"} {
			if !slices.Contains(links, want) {
				t.Errorf("%s: no link to %s", page, want)
			}
		}
		has(t, page, f, "Signed 2026-03-14 04:00 UTC")
		// The evidence is one table: each channel's details once, and a
		// single cell where the architectures agree.
		if n := strings.Count(f.Text, "Predicate type"); n != len(py.Channels) {
			t.Errorf("%s: evidence details shown %d times, want once per channel (%d)", page, n, len(py.Channels))
		}
		if n := strings.Count(f.Text, "the same on every architecture"); n != len(py.Channels) {
			t.Errorf("%s: %d channels agree over the architectures, want %d", page, n, len(py.Channels))
		}
		// What the architectures share is shown once: each finding, one
		// command per cosign check for every architecture, one pruning
		// list named for both.
		for _, fd := range py.Platforms[0].Vulnerabilities.Findings {
			if n := strings.Count(f.Text, fd.ID); n != 1 {
				t.Errorf("%s: finding %s shown %d times, want once", page, fd.ID, n)
			}
		}
		for _, w := range []string{"Each architecture's signature, with cosign", "Each architecture's SBOM attestation, with cosign", "amd64, arm64: Paths that ship"} {
			if n := strings.Count(f.Text, w); n != 1 {
				t.Errorf("%s: %q shown %d times, want once", page, w, n)
			}
		}
		has(t, page, f, py.Description)
		has(t, "index.html", idx, py.Description)
		t.Logf("%s is %.0f px tall", page, f.Height)
		// nodejs:distroless: the arm64 signature failed, amd64's verified.
		node := visit(t, srv, "images/nodejs-distroless.html", "nodejs-distroless.png")
		has(t, "images/nodejs-distroless.html", node, "✓ verified ✗ failed certificate identity")
		// The packages, each once with its version and license; libuv is
		// another version on arm64, which alone carries libatomic.
		has(t, page, f, "Packages", "glibc 2.38 LGPL-2.1-or-later", "openssl (2 entries) 3.0.13 Apache-2.0", "tzdata 2024a unknown")
		has(t, "images/nodejs-distroless.html", node, "libatomic only on arm64 13.2.0",
			"libuv only on arm64 1.47.0 MIT", "libuv only on amd64 1.48.0 MIT")
		if n := strings.Count(f.Text, "glibc"); n != 1 {
			t.Errorf("%s: glibc shown %d times, want once", page, n)
		}
		cfg := py.Config
		has(t, page, f, "Configuration", "Entrypoint "+execForm(cfg.Entrypoint), "Cmd none", "User "+cfg.User,
			"Working directory "+cfg.WorkingDir, cfg.Env[0], cfg.Env[1])
	})

	t.Run("key", func(t *testing.T) {
		_, out, _ := buildSite(t, sitetest.Options{KeyMode: true})
		srv := httptest.NewServer(staticHost(out))
		defer srv.Close()
		idx := visit(t, srv, "index.html", "key-index.png")
		page := "images/python-distroless.html"
		f := visit(t, srv, page, "key-python-distroless.png")
		if textHas(idx.Text, "SLSA builder") {
			t.Errorf("index.html: key mode names an SLSA builder")
		}
		has(t, "index.html", idx, "Provenance not applicable: SLSA provenance from slsa-github-generator is signed keyless only")
		has(t, page, f, "signed with a key; no trusted timestamp", "key mode: SLSA provenance is keyless")
		// The public key is downloadable from the overview and the page.
		for name, pf := range map[string]pageFacts{"index.html": idx, page: f} {
			if !slices.ContainsFunc(pf.Links, func(l linkRef) bool { return l.Tag == "a" && l.URL == srv.URL+"/"+KeyFile }) {
				t.Errorf("%s: no link to %s", name, KeyFile)
			}
		}
		resp, err := srv.Client().Get(srv.URL + "/" + KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(key) != sitetest.PublicKeyPEM {
			t.Errorf("%s: HTTP %d, %q: want the fleet's key", KeyFile, resp.StatusCode, key)
		}
		if textHas(f.Text, "∅ missing") {
			t.Errorf("%s: a channel shows as missing in key mode", page)
		}
	})
}
