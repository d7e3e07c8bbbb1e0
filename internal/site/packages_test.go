package site

import (
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/site/sitetest"
)

// TestPackagesShownOncePerPackage: an image page lists the packages of the
// verified SBOMs, each once, with its version and license; a package or a
// version only some architectures have is marked with them; nothing an
// SBOM lists is left out, and an architecture without a verified SBOM says
// so.
func TestPackagesShownOncePerPackage(t *testing.T) {
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
		page := string(files[1].Data)
		if !strings.Contains(page, `<li><a href="#packages">Packages</a></li>`) {
			t.Error("the table of contents does not link the packages")
		}
		section := regexp.MustCompile(`(?s)<section id="packages".*?</section>`).FindString(page)
		if section == "" {
			t.Fatal("no packages section")
		}
		return section
	}
	rows := func(section, name string) []string {
		return regexp.MustCompile(`<tr><th scope="row">`+regexp.QuoteMeta(html.EscapeString(name))+`[ <].*?</tr>`).FindAllString(section, -1)
	}
	const both = `<span class="arches"><a href="#platform-linux-amd64">amd64</a>, <a href="#platform-linux-arm64">arm64</a>:</span>`
	const amd, arm = `<span class="arches"><a href="#platform-linux-amd64">amd64</a>:</span>`, `<span class="arches"><a href="#platform-linux-arm64">arm64</a>:</span>`
	only := func(label string) string {
		return `<span class="only">only on <a href="#platform-linux-` + label + `">` + label + `</a></span>`
	}

	// python:distroless: both architectures list the same packages.
	im := c.Images[2]
	list := im.Platforms[0].PackageList
	same := render(im)
	if !strings.Contains(same, fmt.Sprintf("%s %d packages in the verified SBOM.", both, len(list))) {
		t.Errorf("the shared package count is not shown once for both architectures:\n%s", same)
	}
	entries := 0
	for _, p := range slices.Compact(slices.Clone(list)) {
		r := rows(same, p.Name)
		if len(r) != 1 || strings.Contains(r[0], "only on") || !strings.Contains(r[0], "<td>"+p.Version+"</td>") {
			t.Errorf("%s %s is not one unmarked row with its version: %q", p.Name, p.Version, r)
			continue
		}
		if p.License != "" && !strings.Contains(r[0], "<td>"+html.EscapeString(p.License)+"</td>") ||
			p.License == "" && !strings.Contains(r[0], `<span class="note">unknown</span>`) {
			t.Errorf("%s: license not shown as %q: %q", p.Name, p.License, r[0])
		}
		if m := regexp.MustCompile(`\((\d+) entries\)`).FindStringSubmatch(r[0]); m != nil {
			var n int
			fmt.Sscan(m[1], &n)
			entries += n
		} else {
			entries++
		}
	}
	// Every entry of the SBOM is accounted for: openssl's two outputs are
	// one row of two entries.
	if r := rows(same, "openssl"); len(r) != 1 || !strings.Contains(r[0], "(2 entries)") {
		t.Errorf("openssl's two entries are not one row saying so: %q", r)
	}
	distinct := len(slices.Compact(slices.Clone(list)))
	if got := strings.Count(same, `<tr><th scope="row">`); got != distinct || entries != len(list) {
		t.Errorf("%d rows of %d entries for %d packages of %d entries", got, entries, distinct, len(list))
	}

	// nodejs:distroless: libuv is another version on arm64, which alone
	// carries libatomic.
	differ := render(c.Images[1])
	if r := rows(differ, "libuv"); len(r) != 2 || !strings.Contains(r[0], "<td>1.47.0</td>") || !strings.Contains(r[0], only("arm64")) ||
		!strings.Contains(r[1], "<td>1.48.0</td>") || !strings.Contains(r[1], only("amd64")) {
		t.Errorf("libuv's two versions are not a row each, marked with its architecture: %q", r)
	}
	if r := rows(differ, "libatomic"); len(r) != 1 || !strings.Contains(r[0], only("arm64")) {
		t.Errorf("the arm64-only package is not marked: %q", r)
	}
	if r := rows(differ, "glibc"); len(r) != 1 || strings.Contains(r[0], "only on") {
		t.Errorf("a package of both architectures is not one unmarked row: %q", r)
	}
	n0, n1 := len(c.Images[1].Platforms[0].PackageList), len(c.Images[1].Platforms[1].PackageList)
	if !strings.Contains(differ, fmt.Sprintf("%s %d packages", amd, n0)) || !strings.Contains(differ, fmt.Sprintf("%s %d packages", arm, n1)) {
		t.Error("each architecture's own package count is not shown")
	}

	// amd64 has no verified SBOM: it says so, and arm64's packages, the
	// only ones listed, are not marked as arm64's alone.
	unverified := c.Images[2]
	unverified.Platforms = slices.Clone(unverified.Platforms)
	unverified.Platforms[0].Packages, unverified.Platforms[0].PackageList = nil, nil
	page := render(unverified)
	if !strings.Contains(page, amd+" No verified SBOM") || strings.Contains(page, "only on") || !strings.Contains(page, `<tr><th scope="row">`) {
		t.Errorf("an architecture without a verified SBOM is not named, or the other's packages are marked:\n%s", page)
	}

	// No verified SBOM at all: no table either.
	unverified.Platforms[1].Packages, unverified.Platforms[1].PackageList = nil, nil
	if page := render(unverified); !strings.Contains(page, both+" No verified SBOM") || strings.Contains(page, "<table") {
		t.Errorf("without any verified SBOM the page does not say so once, or shows a table:\n%s", page)
	}

	// No SBOM states a license: no license column, and the page says so.
	unlicensed := c.Images[2]
	unlicensed.Platforms = slices.Clone(unlicensed.Platforms)
	for i := range unlicensed.Platforms {
		pl := slices.Clone(unlicensed.Platforms[i].PackageList)
		for j := range pl {
			pl[j].License = ""
		}
		unlicensed.Platforms[i].PackageList = pl
	}
	if page := render(unlicensed); strings.Contains(page, "License") || strings.Contains(page, "unknown") || !strings.Contains(page, "no SBOM states a package's license") {
		t.Errorf("without any license the table has a license column, or does not say why:\n%s", page)
	}

	// A catalog that counts packages but predates the list says where
	// they are listed instead.
	older := c.Images[2]
	older.Platforms = slices.Clone(older.Platforms)
	for i := range older.Platforms {
		older.Platforms[i].PackageList = nil
	}
	if page := render(older); !strings.Contains(page, "this catalog does not list them") || strings.Contains(page, "<table") {
		t.Errorf("a count without a list is not explained:\n%s", page)
	}
}
