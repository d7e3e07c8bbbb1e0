package remediate

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clearcutt/clearcutt/internal/catalog"
)

// exampleAttributes are the attributes the example fleet names.
var exampleAttributes = []string{"python311", "nodejs-slim_24", "nodejs_24", "jdk17_headless", "tzdata", "busybox", "bashInteractive", "coreutils", "gnumake", "gcc"}

func finding(id, sev, pkg, version, status string, fixedIn ...string) catalog.Finding {
	f := catalog.Finding{ID: id, Severity: sev, Package: pkg, Version: version, Status: status, FixedIn: fixedIn,
		Type: "nix", PURL: "pkg:nix/" + pkg + "@" + version + "?outputhash=0123456789abcdfghijklmnpqrsvwxyz", Origin: "closure", FixState: "unknown"}
	if len(fixedIn) > 0 {
		f.FixState = "fixed"
	}
	return f
}

func platform(p string, fs ...catalog.Finding) catalog.Platform {
	return catalog.Platform{Platform: p, Digest: "sha256:" + strings.Repeat("a", 64),
		Vulnerabilities: &catalog.Vulnerabilities{ScanTime: time.Unix(1700000000, 0).UTC(), Findings: fs}}
}

// fleetCatalog is a catalog as the catalog stage writes it, for findings
// of the fixture package set: libwebp 1.3.0 (fixed in the newer revision),
// python3 3.11.0 (fixed in the locked 3.11.2), busybox (no set has the
// fix), a Debian package of an overlay's base, and findings a VEX statement
// or an exception covers.
func fleetCatalog() *catalog.Catalog {
	webp := finding("CVE-2023-4863", "high", "libwebp", "1.3.0", "active", "1.3.2")
	webp.Aliases = []string{"GHSA-j7hp-h8jx-5ppr"}
	dbl := finding("CVE-2023-1999", "high", "libwebp", "1.3.0", "suppressed", "1.3.1")
	dbl.VEXStatus, dbl.VEXJustification = "not_affected", "vulnerable_code_not_in_execute_path"
	awk := finding("CVE-2023-42363", "medium", "busybox", "1.35.0", "active", "1.37.0")
	py := finding("CVE-2022-45061", "high", "python3", "3.11.0", "active", "3.11.1")
	glibc := finding("CVE-2010-4756", "medium", "glibc", "2.36", "active")
	glibc.FixState = "wont-fix"
	zlib := finding("CVE-2023-45853", "critical", "zlib", "1.2.13", "excepted", "1.3.1")
	zlib.ExceptionOwner, zlib.ExceptionExpires = "platform-security@clearcutt.dev", "2027-06-30"
	expat := catalog.Finding{ID: "CVE-2023-52426", Severity: "medium", Package: "libexpat1", Version: "2.5.0-1", Type: "deb",
		PURL: "pkg:deb/debian/libexpat1@2.5.0-1?arch=amd64&distro=debian-12", Origin: "base", Status: "active", FixState: "fixed", FixedIn: []string{"2.6.0"}}
	img := func(runtime, tier string, ps ...catalog.Platform) catalog.Image {
		return catalog.Image{Name: runtime + ":" + tier, Runtime: runtime, Tier: tier, Platforms: ps}
	}
	return &catalog.Catalog{
		APIVersion:  catalog.APIVersion,
		GeneratedAt: time.Unix(1700000000, 0).UTC(),
		Fleet:       catalog.Fleet{Name: "clearcutt-example"},
		Images: []catalog.Image{
			img("webp", "distroless", platform("linux/amd64", webp, dbl)),
			img("webp", "slim", platform("linux/amd64", webp, dbl, awk), platform("linux/arm64", webp, dbl, awk)),
			img("python", "distroless", platform("linux/amd64", py, glibc, zlib)),
			img("python-debian", "distroless", platform("linux/amd64", py, expat)),
			img("static", "distroless", catalog.Platform{Platform: "linux/amd64", Digest: "sha256:" + strings.Repeat("b", 64)}),
		},
	}
}

func TestPlanRanksAgainstFixtureSets(t *testing.T) {
	nx, repo := needNix(t)
	ctx := context.Background()
	newer := newerFixtures(t, repo)
	kev, err := LoadKEV(filepath.Join("testdata", "kev.json"))
	if err != nil {
		t.Fatal(err)
	}
	opts := PlanOptions{
		Catalog:    fleetCatalog(),
		Attributes: exampleAttributes,
		Pinned:     FleetSet{Nix: nx, FlakeDir: filepath.Join(repo, "nix"), Override: "path:" + filepath.Join(repo, "nix/fixtures")},
		Newer:      FlakeSet{Nix: nx, Ref: newer},
		NewerRef:   newer,
	}
	order := func(p Plan) []string {
		var out []string
		for _, a := range p.Actions {
			out = append(out, a.Package+":"+string(a.Fix))
		}
		return out
	}

	plain, err := MakePlan(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Both high: the fix already locked (a rebuild) ranks before the one
	// needing the newer set; the actions without a fix come last.
	if diff := cmp.Diff([]string{"python3:pinned", "libwebp:newer", "busybox:none", "libexpat1:unmapped"}, order(plain)); diff != "" {
		t.Fatalf("order without KEV (-want +got):\n%s", diff)
	}

	opts.KEV = kev
	p, err := MakePlan(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	// CVE-2023-4863 is known exploited: libwebp moves up.
	if diff := cmp.Diff([]string{"libwebp:newer", "python3:pinned", "busybox:none", "libexpat1:unmapped"}, order(p)); diff != "" {
		t.Fatalf("order with KEV (-want +got):\n%s", diff)
	}
	webp := p.Actions[0]
	if webp.Rank != 1 || webp.Attribute != "libwebp" || webp.Target != "1.3.2" || !webp.KEV || webp.Severity != "high" ||
		webp.Newer["aarch64-linux"] != "1.3.2" || webp.Newer["x86_64-linux"] != "1.3.2" {
		t.Errorf("libwebp action = %+v", webp)
	}
	if diff := cmp.Diff(map[string]string{"x86_64-linux": "1.3.0", "aarch64-linux": "1.3.0"}, webp.Pinned); diff != "" {
		t.Errorf("libwebp pinned (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"CVE-2023-4863"}, webp.Fixes); diff != "" {
		t.Errorf("libwebp fixes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"webp:distroless", "webp:slim"}, webp.Images); diff != "" {
		t.Errorf("libwebp images (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1.3.0"}, webp.Versions); diff != "" {
		t.Errorf("libwebp versions (-want +got):\n%s", diff)
	}
	if !strings.Contains(webp.Why, "known exploited: CVE-2023-4863 (CISA KEV, due 2023-10-04)") || !strings.Contains(webp.Next, "--package libwebp --strategy lock|pin --newer "+newer) {
		t.Errorf("libwebp why %q, next %q", webp.Why, webp.Next)
	}
	if v := webp.Vulnerabilities[0]; v.FixedBy != FixNewer || v.KEV == nil || len(v.Occurrences) != 3 {
		t.Errorf("libwebp vulnerability = %+v", v)
	}
	py := p.Actions[1]
	if py.Attribute != "python311" || py.Target != "3.11.2" || py.KEV || !strings.HasPrefix(py.Next, "rebuild: the locked package set already has python3 3.11.2") {
		t.Errorf("python3 action = %+v", py)
	}
	if diff := cmp.Diff([]string{"python-debian:distroless", "python:distroless"}, py.Images); diff != "" {
		t.Errorf("python3 images (-want +got):\n%s", diff)
	}
	bb := p.Actions[2]
	if bb.Attribute != "busybox" || bb.Target != "" || len(bb.Fixes) != 0 ||
		bb.Newer["x86_64-linux"] != "1.35.0" || !strings.Contains(bb.Next, "fixed upstream in 1.37.0") {
		t.Errorf("busybox action = %+v", bb)
	}
	if diff := cmp.Diff([]string{"CVE-2023-42363"}, bb.Remaining); diff != "" {
		t.Errorf("busybox remaining (-want +got):\n%s", diff)
	}
	if ex := p.Actions[3]; ex.Type != "deb" || ex.Attribute != "" || !strings.Contains(ex.Next, "not a Nix package (deb)") {
		t.Errorf("libexpat1 action = %+v", ex)
	}

	// Findings a VEX statement or an exception covers need no action; a
	// finding without a fixed version has none to take.
	var notNeeded []string
	for _, l := range p.NotNeeded {
		notNeeded = append(notNeeded, l.ID+" "+l.Package+": "+l.Reason)
	}
	if diff := cmp.Diff([]string{
		"CVE-2023-45853 zlib: exception (owner platform-security@clearcutt.dev, expires 2027-06-30)",
		"CVE-2023-1999 libwebp: VEX not_affected (vulnerable_code_not_in_execute_path)",
	}, notNeeded); diff != "" {
		t.Errorf("not needed (-want +got):\n%s", diff)
	}
	if len(p.NotNeeded) == 2 && len(p.NotNeeded[1].Occurrences) != 3 {
		t.Errorf("CVE-2023-1999 occurrences = %+v", p.NotNeeded[1].Occurrences)
	}
	if len(p.NoFix) != 1 || p.NoFix[0].ID != "CVE-2010-4756" || p.NoFix[0].Reason != "upstream will not fix it" {
		t.Errorf("no fix = %+v", p.NoFix)
	}
	if diff := cmp.Diff([]string{"static:distroless linux/amd64"}, p.Unscanned); diff != "" {
		t.Errorf("unscanned (-want +got):\n%s", diff)
	}

	// Without a newer set, libwebp has no fix in reach.
	opts.Newer = nil
	p, err = MakePlan(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"python3:pinned", "libwebp:none", "busybox:none", "libexpat1:unmapped"}, order(p)); diff != "" {
		t.Fatalf("order without a newer set (-want +got):\n%s", diff)
	}
}
