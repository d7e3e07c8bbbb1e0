package site

import (
	"html"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/site/sitetest"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// TestWarnedTestsAreExplained: a tests channel verified from a WARNED test
// result shows as verified, names what could not run and explains what
// that means, on the image page and in the overview; a PASSED one does not.
func TestWarnedTestsAreExplained(t *testing.T) {
	const checks = "1 check(s) could not run: smoke (runc not available where the image was tested, an architecture the test host cannot execute, or no smoke command declared)"
	dir := t.TempDir()
	c := sitetest.Catalog(sitetest.Options{})
	i := slices.IndexFunc(c.Images, func(im catalog.Image) bool { return im.Runtime == "static" && im.Tier == "distroless" })
	im := &c.Images[i]
	arm := -1
	for j, p := range im.Platforms {
		if strings.HasSuffix(p.Platform, "arm64") {
			arm = j
		}
	}
	if arm < 0 {
		t.Fatal("static:distroless has no arm64 platform")
	}
	warned := 0
	for j, ch := range im.Platforms[arm].Channels {
		if ch.Channel == catalog.ChannelTests && ch.Status == catalog.StatusVerified {
			im.Platforms[arm].Channels[j].Reason = verify.TestsWarned + checks
			warned++
		}
	}
	if warned != 1 {
		t.Fatalf("%d verified arm64 tests channels", warned)
	}
	sitetest.Write(t, filepath.Join(dir, "catalog"), c)
	if _, err := Build(Options{CatalogDir: filepath.Join(dir, "catalog"), OutDir: filepath.Join(dir, "site")}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "site")

	page := readPage(t, out, "images/static-distroless.html")
	for _, w := range []string{
		// In the arm64 column of the evidence table: amd64's tests passed
		// without a warning, so the architectures differ.
		`<span class="badge st-verified"><span aria-hidden="true">✓</span> verified</span><span class="warned">verified — ` + html.EscapeString(checks) + `</span><span class="note">` + html.EscapeString(warnedExplanation) + `</span></td>`,
	} {
		if !strings.Contains(page, w) {
			t.Errorf("static-distroless.html lacks %q", w)
		}
	}
	if n := strings.Count(page, `<span class="warned">`); n != 1 {
		t.Errorf("%d warned rows, want 1 (the arm64 tests)", n)
	}
	if strings.Contains(page, verify.TestsWarned) {
		t.Error("the page shows the raw WARNED reason")
	}
	index := readPage(t, out, "index.html")
	row := regexp.MustCompile(`(?s)<tr><th scope="row"><a href="images/static-distroless.html">.*?</tr>`).FindString(index)
	if !strings.Contains(row, `<span class="warn">a check could not run</span>`) || !strings.Contains(row, html.EscapeString("linux/arm64: verified — "+checks)) {
		t.Errorf("static:distroless row does not show the warning: %s", row)
	}
	// Nothing else warns.
	if n := strings.Count(index, "a check could not run"); n != 1 {
		t.Errorf("%d warned cells in the overview, want 1", n)
	}
	if py := readPage(t, out, "images/python-distroless.html"); strings.Contains(py, `class="warned"`) {
		t.Error("python:distroless, whose tests passed, shows a warning")
	}
}
