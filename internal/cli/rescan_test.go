package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/rescan"
	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/verify"
	"github.com/clearcutt/clearcutt/internal/vulndb"
)

// laterAdvisory is published after the fleet was built: the database of
// the rescan has it, the build's had not. It hits the fixture's python3.
const laterAdvisory = `
  - id: CVE-2024-0450
    severity: medium
    cvss: CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H
    published: 2024-03-19
    description: The zipfile module does not reject quoted-overlap zip bombs.
    urls: [https://nvd.nist.gov/vuln/detail/CVE-2024-0450]
    affected:
      - ecosystem: nix
        name: python3
        constraint: ">= 3.11.0, < 3.11.8"
        fixed: 3.11.8
`

// rescanPublished is python:distroless and python:slim published by the
// real pipeline (key mode) to dest, and a catalog of them.
type rescanPublished struct {
	repo, fleetFile, work, catalogDir, pub string
	pipeline                               pipeline.Report
	images                                 []catalog.Image
}

func publishForRescan(t *testing.T, dest string) *rescanPublished {
	t.Helper()
	repo := needPipelineTools(t)
	dir := t.TempDir()
	p := &rescanPublished{repo: repo, fleetFile: filepath.Join(repo, "clearcutt.yaml"), work: filepath.Join(dir, "work"), catalogDir: filepath.Join(dir, "catalog")}
	p.pipeline = pipelineJSON(t, ExitOK, "-f", p.fleetFile, "pipeline", "--nixpkgs", filepath.Join(repo, "nix/fixtures"),
		"--db", testDB(t, repo), "--no-smoke", "--only", "python:distroless", "--only", "python:slim",
		"--work", p.work, "--cache", filepath.Join(dir, "cache"), "--to", dest)
	if len(p.pipeline.Images) != 2 || !p.pipeline.Verified {
		t.Fatalf("pipeline: %+v", p.pipeline)
	}
	key, err := defaultKeyPath()
	if err != nil {
		t.Fatal(err)
	}
	p.pub = key + attest.PublicKeySuffix
	p.images = writeRescanCatalog(t, p.catalogDir, p.pipeline)
	return p
}

// writeRescanCatalog writes DIR/catalog.json naming each published image by
// index digest with its platforms, as clearcutt catalog records them.
func writeRescanCatalog(t *testing.T, dir string, rep pipeline.Report) []catalog.Image {
	t.Helper()
	ctx := context.Background()
	c := catalog.Catalog{APIVersion: catalog.APIVersion, GeneratedAt: time.Now().UTC(),
		Fleet: catalog.Fleet{Name: "clearcutt", Repository: "clearcutt/clearcutt", RequiredChannels: []string{}}}
	for _, pi := range rep.Images {
		ref, idx, err := stage.OpenIndex(ctx, pi.Published, "")
		if err != nil {
			t.Fatal(err)
		}
		c.Fleet.Registry = strings.TrimSuffix(ref.String(), "@"+ref.Digest)
		runtime, tier, _ := strings.Cut(pi.Image, ":")
		im := catalog.Image{Name: pi.Image, Runtime: runtime, Version: "3.11", Tier: tier, Reference: pi.Published, IndexDigest: pi.Digest,
			Tags: []string{}, VerifiedAt: c.GeneratedAt, Status: catalog.StatusVerified, Channels: []catalog.ChannelStatus{}, History: []catalog.ScanPoint{}}
		m, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range m.Manifests {
			im.Platforms = append(im.Platforms, catalog.Platform{Platform: strings.TrimSuffix(d.Platform.OS+"/"+d.Platform.Architecture+"/"+d.Platform.Variant, "/"),
				Digest: d.Digest.String(), Size: d.Size, PruningCandidates: []catalog.PruningCandidate{}, Channels: []catalog.ChannelStatus{}})
		}
		c.Images = append(c.Images, im)
	}
	js, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, catalog.FileName), string(js))
	return c.Images
}

// laterDB builds, with the CLI, the test advisories plus laterAdvisory.
func laterDB(t *testing.T, repo string) string {
	t.Helper()
	adv, err := os.ReadFile(filepath.Join(repo, "testdata/vulndb/advisories.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "advisories.yaml")
	writeFile(t, file, string(adv)+laterAdvisory)
	db := filepath.Join(dir, "db")
	if code, out, errs := run(t, "vulndb", "build", "--advisories", file, "--out", db); code != 0 || !strings.Contains(out, "8 advisories") {
		t.Fatalf("vulndb build: %d %s %s", code, out, errs)
	}
	return db
}

func rescanJSON(t *testing.T, wantCode int, args ...string) rescanReport {
	t.Helper()
	code, out, errs := run(t, append(append([]string{"rescan"}, args...), "--json")...)
	if code != wantCode {
		t.Fatalf("rescan exit %d, want %d\nstderr: %s\nstdout: %s", code, wantCode, tail(errs, 3000), tail(out, 3000))
	}
	var rep rescanReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("rescan --json: %v\n%s", err, tail(out, 2000))
	}
	return rep
}

func rescanPlatform(t *testing.T, rep rescanReport, image, arch string) rescan.Platform {
	t.Helper()
	for _, im := range rep.Images {
		for _, p := range im.Platforms {
			if im.Name == image && strings.HasPrefix(p.Platform, "linux/"+arch) {
				return p
			}
		}
	}
	t.Fatalf("no %s %s in the rescan report: %+v", image, arch, rep.Images)
	return rescan.Platform{}
}

// verifiedScan verifies image in-process as clearcutt verify --key does and
// returns the vulnerabilities entry of arch (with its verified predicate).
func verifiedScan(t *testing.T, p *rescanPublished, image, arch string) verify.Entry {
	t.Helper()
	ctx := context.Background()
	f, err := fleet.Load(p.fleetFile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := newVerifier(ctx, f, verifyFlags{key: p.pub})
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range p.images {
		if im.Name != image {
			continue
		}
		ref, idx, err := stage.OpenIndex(ctx, im.Reference, "")
		if err != nil {
			t.Fatal(err)
		}
		rep, err := v.VerifyIndex(ctx, ref, idx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range rep.Channel(verify.ChannelVulnerabilities).Entries {
			if strings.HasPrefix(e.Arch, "linux/"+arch) {
				return e
			}
		}
	}
	t.Fatalf("no vulnerabilities entry for %s %s", image, arch)
	return verify.Entry{}
}

// refNames maps the ref.name annotations of a layout to their digests.
func refNames(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range idx.Manifests {
		if n := d.Annotations["org.opencontainers.image.ref.name"]; n != "" {
			out[n] = d.Digest.String()
		}
	}
	return out
}

// TestRescanPublishedFleet publishes two images that share their packages
// to an OCI layout with the real pipeline, then rescans the catalog of
// them against a newer database (one more advisory, for python3): every
// platform gets a signed scan that clearcutt verify then decides on, with
// the new advisory in its verified predicate; the findings are those a
// scan of each attested SBOM on its own gives; the images are untouched;
// and a second rescan reports nothing new, also as GitHub Actions outputs.
func TestRescanPublishedFleet(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "published")
	p := publishForRescan(t, "oci:"+dest)
	db := laterDB(t, p.repo)
	info, err := vulndb.Describe(db)
	if err != nil {
		t.Fatal(err)
	}
	before := refNames(t, dest)
	old := verifiedScan(t, p, "python:distroless", "amd64")
	if old.ScanTime == nil || strings.Contains(string(old.Predicate), "CVE-2024-0450") {
		t.Fatalf("build scan: %+v", old)
	}

	siteDir := filepath.Join(t.TempDir(), "site")
	rep := rescanJSON(t, ExitOK, "-f", p.fleetFile, "--catalog", p.catalogDir, "--db", db, "--key-pub", p.pub, "--site", siteDir)
	if !rep.Passed || rep.Rescanned != 2 || rep.Platforms != 4 || rep.Failed != 0 || strings.Join(rep.NewFindings, ",") != "CVE-2024-0450" {
		t.Fatalf("rescan: passed=%v rescanned=%d platforms=%d failed=%d new=%v", rep.Passed, rep.Rescanned, rep.Platforms, rep.Failed, rep.NewFindings)
	}
	if rep.Catalog != filepath.Join(p.catalogDir, catalog.FileName) || rep.DB.Digest != info.Digest || rep.Mode != attest.ModeKey {
		t.Errorf("report: catalog %s, db %+v, mode %s", rep.Catalog, rep.DB, rep.Mode)
	}
	// python:distroless and python:slim share every closure package of an
	// architecture: grype's matchers ran once per distinct package.
	if w := rep.Work; w.Scans != 4 || w.UniquePackages >= w.Packages || w.Lookups > w.UniquePackages || w.Reused == 0 {
		t.Errorf("work = %+v", w)
	}
	vex, err := stage.VEXDocuments(&fleet.File{Dir: p.repo}, "")
	if err != nil {
		t.Fatal(err)
	}
	exc, _, err := stage.LoadExceptions(&fleet.File{Dir: p.repo}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range rep.Images {
		for _, pl := range im.Platforms {
			d, err := v1.NewHash(pl.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if pl.Status != rescan.StatusRescanned || pl.Gate == nil || !pl.Gate.Pass || pl.DBBuiltAt == nil || !pl.DBBuiltAt.Equal(info.Built) ||
				strings.Join(pl.NewFindings, ",") != "CVE-2024-0450" || pl.PreviousScan == nil || pl.Suppressed != 1 || pl.Excepted != 1 {
				t.Errorf("%s %s: %+v", im.Name, pl.Platform, pl)
			}
			if len(pl.Attached) != 2 || pl.Attached[1].PredicateType != attest.PredicateVulns {
				t.Errorf("%s %s: attached %+v, want the VEX and the scan statement", im.Name, pl.Platform, pl.Attached)
			}
			// The deduplicated rescan gives what scanning the attested SBOM
			// of this platform alone gives.
			sbom, err := os.ReadFile(attest.EvidencePath(filepath.Join(p.work, "evidence"), d, attest.FileSBOM))
			if err != nil {
				t.Fatal(err)
			}
			alone, err := scan.Run(context.Background(), scan.Options{SBOM: sbom, SBOMPath: "sbom.spdx.json", Subject: scan.Subject{Name: im.Name, Digest: d},
				DBDir: db, VEX: vex, Exceptions: exc})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(pl.Findings)
			want, _ := json.Marshal(alone.Findings)
			if string(got) != string(want) {
				t.Errorf("%s %s: rescan findings differ from a scan of the SBOM alone:\nrescan: %s\nalone:  %s", im.Name, pl.Platform, got, want)
			}
		}
	}

	// clearcutt verify decides on the rescan: newer scan time, the new
	// database, the new finding in the verified predicate.
	vrep := verifyJSON(t, ExitOK, "-f", p.fleetFile, p.images[0].Reference, "--key", p.pub)
	for _, e := range vrep.Channel(verify.ChannelVulnerabilities).Entries {
		pl := rescanPlatform(t, rep, p.images[0].Name, strings.TrimPrefix(e.Arch, "linux/"))
		if e.Status != verify.StatusVerified || e.ScanTime == nil || !e.ScanTime.Equal(*pl.ScanFinishedOn) || !e.ScanTime.After(*old.ScanTime) ||
			e.DBBuiltAt == nil || !e.DBBuiltAt.Equal(info.Built) {
			t.Errorf("verify %s: %+v, want the rescan of %s (database built %s)", e.Arch, e, pl.ScanFinishedOn, info.Built)
		}
	}
	if e := verifiedScan(t, p, "python:distroless", "amd64"); !strings.Contains(string(e.Predicate), "CVE-2024-0450") {
		t.Errorf("the verified scan predicate does not hold CVE-2024-0450: %s", tail(string(e.Predicate), 500))
	}
	// The catalog was rewritten from the registry: the rescan is a point
	// of each image's history and its finding is in the table; the site
	// shows it.
	updated, err := catalog.Read(p.catalogDir)
	if err != nil || updated == nil || len(updated.Images) != 2 {
		t.Fatalf("catalog after the rescan: %v %+v", err, updated)
	}
	for _, im := range updated.Images {
		// The point is the image's newest scan: the later of its platforms'.
		newest := *rescanPlatform(t, rep, im.Name, "amd64").ScanFinishedOn
		if at := *rescanPlatform(t, rep, im.Name, "arm64").ScanFinishedOn; at.After(newest) {
			newest = at
		}
		if n := len(im.History); n == 0 || !im.History[n-1].ScanTime.Equal(newest) {
			t.Errorf("%s: history %+v, want a last point at the rescan %s", im.Name, im.History, newest)
		}
		found := false
		for _, cp := range im.Platforms {
			if cp.Vulnerabilities == nil {
				t.Errorf("%s %s: no vulnerabilities in the catalog", im.Name, cp.Platform)
				continue
			}
			for _, f := range cp.Vulnerabilities.Findings {
				found = found || f.ID == "CVE-2024-0450"
			}
		}
		if !found {
			t.Errorf("%s: CVE-2024-0450 is not in the rewritten catalog", im.Name)
		}
	}
	if !rep.CatalogUpdated {
		t.Error("the report does not say the catalog was updated")
	}
	if !siteHasOverview(t, siteDir) {
		t.Errorf("--site wrote no pages to %s", siteDir)
	}
	// Nothing was rebuilt or re-published: the layout names the same image
	// indexes (only the sha256-<hex> evidence indexes took the new bundles).
	after, images := refNames(t, dest), 0
	for n, d := range before {
		if strings.HasPrefix(n, "sha256-") {
			continue
		}
		images++
		if after[n] != d {
			t.Errorf("layout name %s: %s after the rescan, %s before", n, after[n], d)
		}
	}
	if images != 2 {
		t.Errorf("the layout names %d images: %v", images, before)
	}

	// Again, as a GitHub Actions step: nothing is new since the rescan.
	j := newGHAJob(t)
	code, _, errs := runIn(t, j, "-f", p.fleetFile, "rescan", "--catalog", p.catalogDir, "--db", db, "--key-pub", p.pub)
	if code != ExitOK {
		t.Fatalf("rescan in a job: exit %d: %s", code, errs)
	}
	outs := j.outputs(t)
	if outs["passed"] != "true" || outs["rescanned"] != "2" || outs["new-findings"] != "[]" {
		t.Errorf("outputs %v", outs)
	}
	if sum := j.summaryText(t); !strings.Contains(sum, "| Image | Platform | Digest | Status | Active | Suppressed | Excepted | New findings | Detail |") {
		t.Errorf("summary:\n%s", sum)
	}

	// A gate that fails on medium: the signed rescan says it passed (under
	// high), and verify still refuses it, naming the finding.
	vrep = verifyJSON(t, ExitFailed, "-f", p.fleetFile, p.images[0].Reference, "--key", p.pub, "--fail-on", "medium")
	if c := vrep.Channel(verify.ChannelVulnerabilities); c.Status != verify.StatusFailed ||
		!strings.Contains(c.Entries[0].Reason, "CVE-2024-0450 in python3 3.11.2: severity medium >= medium (fix available)") {
		t.Errorf("verify --fail-on medium: %+v", c)
	}
	// The nightly rescan under that gate fails, records it, and from then
	// on verify and the rewritten catalog report the images failed, under
	// the fleet's own gate too: in key mode a failing scan is never hidden.
	strict := rescanJSON(t, ExitFailed, "-f", p.fleetFile, "--catalog", p.catalogDir, "--db", db, "--key-pub", p.pub, "--fail-on", "medium")
	if strict.Passed || strict.Rescanned != 2 {
		t.Fatalf("rescan --fail-on medium: passed=%v rescanned=%d", strict.Passed, strict.Rescanned)
	}
	vrep = verifyJSON(t, ExitFailed, "-f", p.fleetFile, p.images[0].Reference, "--key", p.pub)
	for _, e := range vrep.Channel(verify.ChannelVulnerabilities).Entries {
		if e.Status != verify.StatusFailed || !strings.Contains(e.Reason, "vulnerability gate failed at scan time: ") || !strings.Contains(e.Reason, "CVE-2024-0450 in python3") {
			t.Errorf("verify after the failing rescan, %s: %s (%s)", e.Arch, e.Status, e.Reason)
		}
	}
	failed, err := catalog.Read(p.catalogDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range failed.Images {
		if im.Status != catalog.StatusFailed {
			t.Errorf("catalog %s after the failing rescan: %s", im.Name, im.Status)
		}
		for _, c := range im.Channels {
			if c.Channel == catalog.ChannelVulnerabilities && (c.Status != catalog.StatusFailed || !strings.Contains(c.Reason, "CVE-2024-0450")) {
				t.Errorf("catalog %s vulnerabilities: %+v", im.Name, c)
			}
		}
	}
}

// fallbackReferrers counts the referrers of subject with predicateType in
// the sha256-<hex> fallback index of repo.
func fallbackReferrers(t *testing.T, ref oci.Ref, subject v1.Hash, predicateType string) int {
	t.Helper()
	idx, err := remote.Index(ref.Repo.Tag(subject.Algorithm + "-" + subject.Hex))
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range m.Manifests {
		if d.Annotations[attest.AnnotationPredicateType] == predicateType {
			n++
		}
	}
	return n
}

// TestRescanRefusesUnverifiedSBOMs publishes to Debian's registry process
// (evidence under the sha256-<hex> tag fallback), replaces one platform's
// SBOM with one signed by another key and deletes another's: those two
// platforms are not rescanned and get nothing attached, the other two
// are, the rescan exits 1, and verify reports the stale scan pending
// while the fresh one verifies.
func TestRescanRefusesUnverifiedSBOMs(t *testing.T) {
	host := ocitest.StartDistribution(t)
	p := publishForRescan(t, host+"/fleet")
	db := laterDB(t, p.repo)
	ctx := context.Background()
	platformOf := func(image, arch string) (oci.Ref, v1.Descriptor) {
		for _, im := range p.images {
			if im.Name != image {
				continue
			}
			ref, idx, err := stage.OpenIndex(ctx, im.Reference, "")
			if err != nil {
				t.Fatal(err)
			}
			m, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range m.Manifests {
				if d.Platform.Architecture == arch {
					return ref, d
				}
			}
		}
		t.Fatalf("no %s %s", image, arch)
		return oci.Ref{}, v1.Descriptor{}
	}
	// python:distroless amd64: the SBOM is replaced by the same document
	// signed with another key.
	ref, forged := platformOf("python:distroless", "amd64")
	other, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(attest.EvidencePath(filepath.Join(p.work, "evidence"), forged.Digest, attest.FileSBOM))
	if err != nil {
		t.Fatal(err)
	}
	st, err := attest.WrapPredicate(ref.Repo.String(), forged.Digest, attest.PredicateSPDX, doc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := other.SignStatement(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	store, err := attest.Open(ref, attest.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := store.Attach(ctx, forged, b, attest.PredicateSPDX)
	if err != nil {
		t.Fatal(err)
	}
	dropFallbackReferrer(t, ref.Repo, forged.Digest, attest.PredicateSPDX, kept)
	// python:slim arm64: the SBOM attestation is deleted.
	slimRef, missing := platformOf("python:slim", "arm64")
	dropFallbackReferrer(t, slimRef.Repo, missing.Digest, attest.PredicateSPDX, v1.Hash{})
	_, fresh := platformOf("python:distroless", "arm64")

	time.Sleep(2 * time.Second) // the rescan is measurably newer than the build scan
	rep := rescanJSON(t, ExitFailed, "-f", p.fleetFile, "--catalog", p.catalogDir, "--db", db, "--key-pub", p.pub)
	if rep.Passed || rep.Rescanned != 0 || rep.Failed != 2 || rep.Platforms != 4 {
		t.Fatalf("rescan: passed=%v rescanned=%d failed=%d platforms=%d", rep.Passed, rep.Rescanned, rep.Failed, rep.Platforms)
	}
	for _, c := range []struct{ image, arch, want string }{
		{"python:distroless", "amd64", "SBOM not verified (failed)"},
		{"python:distroless", "arm64", ""},
		{"python:slim", "amd64", ""},
		{"python:slim", "arm64", "SBOM not verified (missing)"},
	} {
		pl := rescanPlatform(t, rep, c.image, c.arch)
		switch {
		case c.want == "" && pl.Status != rescan.StatusRescanned:
			t.Errorf("%s %s: %s (%s), want rescanned", c.image, c.arch, pl.Status, pl.Reason)
		case c.want != "" && (pl.Status != rescan.StatusFailed || !strings.Contains(pl.Reason, c.want) || len(pl.Attached) != 0):
			t.Errorf("%s %s: %s (%s), attached %v; want failed: %s", c.image, c.arch, pl.Status, pl.Reason, pl.Attached, c.want)
		}
	}
	// Nothing was attached to the refused platforms.
	for _, c := range []struct {
		ref  oci.Ref
		d    v1.Hash
		want int
	}{{ref, forged.Digest, 1}, {slimRef, missing.Digest, 1}, {ref, fresh.Digest, 2}} {
		if n := fallbackReferrers(t, c.ref, c.d, attest.PredicateVulns); n != c.want {
			t.Errorf("%s: %d scan referrers, want %d", c.d, n, c.want)
		}
	}
	// The text report names the refused platforms too.
	code, out, _ := run(t, "-f", p.fleetFile, "rescan", "--catalog", p.catalogDir, "--db", db, "--key-pub", p.pub)
	joined := strings.Join(strings.Fields(out), " ") // the detail is wrapped
	if code != ExitFailed || !strings.Contains(joined, "SBOM not verified (failed)") || !strings.Contains(joined, "SBOM not verified (missing)") {
		t.Errorf("rescan (table): exit %d\n%s", code, out)
	}

	// The platform that kept its build scan is pending once that scan is
	// older than the maximum scan age; the rescanned one verifies.
	rescanned := rescanPlatform(t, rep, "python:distroless", "arm64")
	maxAge := time.Since(*rescanned.ScanFinishedOn) + time.Second
	vrep := verifyJSON(t, ExitFailed, "-f", p.fleetFile, p.images[0].Reference, "--key", p.pub, "--max-scan-age", maxAge.Round(time.Millisecond).String())
	got := map[string]verify.Status{}
	for _, e := range vrep.Channel(verify.ChannelVulnerabilities).Entries {
		got[strings.TrimPrefix(e.Arch, "linux/")[:5]] = e.Status
	}
	if got["amd64"] != verify.StatusPending || got["arm64"] != verify.StatusVerified {
		t.Errorf("vulnerabilities after a partial rescan: %v, want amd64 pending and arm64 verified", got)
	}
}

// TestRescanUsageErrors: problems with the invocation are found before any
// image is opened.
func TestRescanUsageErrors(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := t.TempDir()
	d := "sha256:" + strings.Repeat("a", 64)
	cat := catalog.Catalog{APIVersion: catalog.APIVersion, Fleet: catalog.Fleet{RequiredChannels: []string{}}, Images: []catalog.Image{{
		Name: "python:distroless", Runtime: "python", Tier: "distroless", Reference: "oci:" + filepath.Join(dir, "nowhere") + "@" + d, IndexDigest: d,
		Platforms: []catalog.Platform{{Platform: "linux/amd64", Digest: d}}}}}
	js, err := json.Marshal(cat)
	if err != nil {
		t.Fatal(err)
	}
	catDir := filepath.Join(dir, "catalog")
	if err := os.MkdirAll(catDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(catDir, catalog.FileName), string(js))
	db := buildTestDB(t, time.Now().UTC().Add(-time.Hour).Format(time.RFC3339))
	key := filepath.Join(dir, "signing.key")
	signer, err := attest.LoadOrCreateKey(key, true)
	if err != nil {
		t.Fatal(err)
	}
	other, err := attest.LoadOrCreateKey(filepath.Join(dir, "other.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	fleetFile := "../../clearcutt.yaml"
	for name, tc := range map[string]struct {
		args []string
		code int
		want string
	}{
		"no catalog":          {[]string{"--catalog", t.TempDir(), "--db", db, "--key", key, "--key-pub", signer.PublicKeyPath()}, ExitUsage, "--catalog"},
		"no database flag":    {[]string{"--catalog", catDir, "--key", key}, ExitUsage, "db"},
		"bad fail-on":         {[]string{"--catalog", catDir, "--db", db, "--fail-on", "severe"}, ExitUsage, "--fail-on"},
		"no signing key":      {[]string{"--catalog", catDir, "--db", db, "--key-pub", signer.PublicKeyPath()}, ExitUsage, "fleet's existing key"},
		"keyless and key":     {[]string{"--catalog", catDir, "--db", db, "--key", key, "--keyless"}, ExitUsage, "mutually exclusive"},
		"key, verify keyless": {[]string{"--catalog", catDir, "--db", db, "--key", key}, ExitUsage, "--key-pub"},
		"key of another pub":  {[]string{"--catalog", catDir, "--db", db, "--key", key, "--key-pub", other.PublicKeyPath()}, ExitUsage, "another key than the policy's"},
		"stale database": {[]string{"--catalog", catDir, "--db", buildTestDB(t, time.Now().UTC().Add(-30*24*time.Hour).Format(time.RFC3339)),
			"--key", key, "--key-pub", signer.PublicKeyPath()}, ExitRuntime, "stale"},
		"unreadable image": {[]string{"--catalog", catDir, "--db", db, "--key", key, "--key-pub", signer.PublicKeyPath(), "--json"}, ExitFailed, "nowhere"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errs := run(t, append([]string{"-f", fleetFile, "rescan"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out+errs, tc.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tc.code, tc.want, out, errs)
			}
		})
	}
}

// TestRescanStageOutputs: the rescan step writes exactly its declared
// outputs, and passed is false when a platform was not rescanned.
func TestRescanStageOutputs(t *testing.T) {
	now := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	rep := rescanReport{RescanReport: pipeline.RescanReport{Report: rescan.Report{Passed: false, Rescanned: 1, Platforms: 2, Failed: 1, NewFindings: []string{"CVE-2024-0450"},
		Images: []rescan.Image{{Name: "python:distroless", Platforms: []rescan.Platform{
			{Platform: "linux/amd64", Digest: hash("amd64").String(), Status: rescan.StatusRescanned, Active: 3, ScanFinishedOn: &now, NewFindings: []string{"CVE-2024-0450"}},
			{Platform: "linux/arm64", Digest: hash("arm64").String(), Status: rescan.StatusFailed, Reason: "SBOM not verified (missing)", NewFindings: []string{}}}}}}}}
	st, ok := rep.stage("rescan")
	if !ok {
		t.Fatal("no rescan stage")
	}
	var names []string
	for n := range st.outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "new-findings passed rescanned" {
		t.Fatalf("outputs %v", names)
	}
	if st.outputs["passed"] != "false" || st.outputs["rescanned"] != "1" || st.outputs["new-findings"] != `["CVE-2024-0450"]` {
		t.Errorf("outputs %v", st.outputs)
	}
	if !strings.Contains(st.summary, "SBOM not verified (missing)") || !strings.Contains(st.summary, "1 of 1 images rescanned") {
		t.Errorf("summary:\n%s", st.summary)
	}
	if _, ok := rep.stage("scan"); ok {
		t.Error("the rescan report renders the scan step")
	}
}

// siteHasOverview reports whether dir holds a site whose overview names python:distroless.
func siteHasOverview(t *testing.T, dir string) bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "index.html"))
	return err == nil && strings.Contains(string(data), "python:distroless")
}
