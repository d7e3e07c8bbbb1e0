package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/admission"
	"github.com/clearcutt/clearcutt/internal/appimage"
	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/remediate"
	"github.com/clearcutt/clearcutt/internal/rescan"
	"github.com/clearcutt/clearcutt/internal/sbom"
	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/verify"
	"github.com/clearcutt/clearcutt/internal/vexdoc"
	"github.com/clearcutt/clearcutt/internal/vulndb"
)

// Realistic long values of the reports the renderers lay out.
const (
	wideDigest  = "sha256:5dffbbe2a6e1d936263c1bd3a1c6f0e7b2c4d5e6f708192a3b4c5d6e7f8091a2"
	wideDigest2 = "sha256:d936263c1bd35dffbbe2a6e1a1c6f0e7b2c4d5e6f708192a3b4c5d6e7f8091b3"
	wideReason  = "evidence content rejected: the vulnerability scan was made with a database built 2026-11-01T00:00:00Z, older than vulnerabilities.maxDBAge (72h) allows; rescan with a fresh database"
	widePackage = "python3.12-opentelemetry-instrumentation-asgi"
)

// wideCVEs is a long list of vulnerability ids.
func wideCVEs(n int) []string {
	var ids []string
	for i := range n {
		ids = append(ids, "CVE-2026-"+strings.Repeat(string(rune('1'+i%9)), 5))
	}
	return ids
}

// checkFits fails t for every line of out wider than tableWidth runes, and
// for every text of whole that out does not hold complete once its wrapped
// lines are joined.
func checkFits(t *testing.T, out string, whole ...string) {
	t.Helper()
	failed := false
	defer func() {
		if failed {
			t.Log("the output:\n" + out)
		}
	}()
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > tableWidth {
			t.Errorf("line of %d columns (want at most %d):\n%s", n, tableWidth, l)
			failed = true
		}
	}
	joined := strings.Join(strings.Fields(out), " ")
	for _, s := range whole {
		if !strings.Contains(joined, strings.Join(strings.Fields(s), " ")) {
			t.Errorf("output lacks %q complete", s)
			failed = true
		}
	}
}

func TestRenderScanFits(t *testing.T) {
	var findings []scan.Finding
	for _, id := range append(wideCVEs(3), "GHSA-xxxx-yyyy-zzzz") {
		findings = append(findings, scan.Finding{ID: id, Severity: "critical", FixState: "not-fixed", Origin: scan.OriginClosure,
			Package: scan.Package{Name: widePackage, Version: "0.48b0"}, Status: gate.Active})
	}
	findings[1].FixedIn = []string{"42.0.6", "43.0.0"}
	findings[2].Status = gate.Suppressed
	findings[2].VEX = &scan.VEXApplied{Status: "not_affected", Justification: "vulnerable_code_not_in_execute_path"}
	findings[3].Status = gate.Excepted
	findings[3].Exception = &scan.ExceptionApplied{Owner: "platform-security@example.com", Expires: "2027-01-31"}
	rep := stage.ScanReport{Image: "python:distroless-debug", Platforms: []stage.ScanPlatform{{
		Platform: "linux/arm64/v8", Digest: wideDigest,
		Result: scan.Result{Packages: 412, Findings: findings, StaleDBAccepted: true,
			Scanner:           scan.Scanner{DB: vulndb.Info{SchemaVersion: "v6.1.10", Built: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}},
			ExpiredExceptions: []scan.ExceptionApplied{{ID: "CVE-2026-77777", Package: widePackage, Owner: "platform-security@example.com", Expires: "2026-10-01", Where: "exceptions.yaml:42"}}},
		Decision: gate.Decision{Policy: "fail on high and above, only fixable", Reasons: []string{wideReason}},
	}}}
	var out bytes.Buffer
	if err := renderScan(&globals{stdout: &out}, rep); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), wideDigest, wideReason, "suppressed (vulnerable_code_not_in_execute_path)",
		"excepted (platform-security@example.com, expires 2027-01-31)", "EXPIRED EXCEPTION CVE-2026-77777 in "+widePackage)
}

func TestRenderSBOMFits(t *testing.T) {
	file := "out/evidence/" + strings.Replace(wideDigest, ":", "-", 1) + "/sbom.spdx.json"
	rep := stage.SBOMReport{Image: "python:distroless-debug", Platforms: []stage.SBOMPlatform{
		{Result: sbom.Result{Platform: "linux/arm64/v8", Digest: wideDigest, Packages: 1412, NixPackages: 1398}, File: file},
		{Result: sbom.Result{Platform: "linux/amd64", Digest: wideDigest2, Packages: 1411, NixPackages: 1397}, File: file},
	}}
	var out bytes.Buffer
	if err := renderSBOM(&globals{stdout: &out}, rep); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), wideDigest, wideDigest2, file)
}

func TestRenderVEXFits(t *testing.T) {
	ts := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	var purls []string
	for _, p := range []string{"python?tag=distroless-debug", "python?tag=slim", "node?tag=distroless", "ruby?tag=dev"} {
		purls = append(purls, "pkg:oci/"+p)
	}
	sub := []string{"pkg:nix/glibc@2.40-66?arch=aarch64-linux", "pkg:nix/" + widePackage + "@0.48b0"}
	file := "vex/glibc-cve-2023-4911.openvex.json"
	rep := vexdoc.ListReport{Statements: []vexdoc.ListedStatement{
		{Vulnerability: "GHSA-xxxx-yyyy-zzzz", Status: "not_affected", Justification: "vulnerable_code_not_in_execute_path",
			Products: purls, Subcomponents: sub, File: file, Timestamp: &ts},
		{Vulnerability: "CVE-2023-4911", Status: "under_investigation", Products: purls[:1], File: "vex/x.json"},
	}}
	var out bytes.Buffer
	if err := renderVEXList(&globals{stdout: &out}, rep); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), "vulnerable_code_not_in_execute_path: "+strings.Join(purls, ", ")+" ("+strings.Join(sub, ", ")+"); "+file+" 2026-11-28T08:00:00Z")

	out.Reset()
	stmt := 3
	problem := vexdoc.Problem{File: "/home/runner/work/base-images/base-images/" + file, Line: 10, Statement: &stmt,
		Field: "statements[3].products[0].@id", Message: `"pkg:oci/ruby?tag=slim" names no image of the fleet: ` + wideReason}
	if err := renderVEXValidate(&globals{stdout: &out}, vexdoc.ValidateReport{Problems: vexdoc.Problems{problem}}); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), "INVALID "+problem.Error())

	out.Reset()
	create := vexdoc.CreateReport{File: file, Change: "updated", DocumentID: "https://openvex.dev/docs/public/vex-" + strings.Repeat("0123456789abcdef", 4),
		Version: 3, Statement: 2, Vulnerability: "CVE-2023-4911", Status: "not_affected", Products: purls, Subcomponents: sub}
	if err := renderVEXCreate(&globals{stdout: &out}, create); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), strings.Join(sub, ", ")+" in "+strings.Join(purls, ", "))
}

func TestRenderRescanFits(t *testing.T) {
	scanned := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	previous := scanned.Add(-24 * time.Hour)
	rep := rescanReport{RescanReport: pipeline.RescanReport{Report: rescan.Report{
		Catalog: "https://acme.github.io/base-images/catalog.json", Mode: "keyless", Gate: "fail on high and above, only fixable",
		DB: vulndb.Info{SchemaVersion: "v6.1.10", Built: scanned}, StaleDBAccepted: true,
		Rescanned: 1, Platforms: 3, Failed: 1, NewFindings: wideCVEs(12),
		Images: []rescan.Image{
			{Name: "python:distroless-debug", Platforms: []rescan.Platform{
				{Platform: "linux/arm64/v8", Digest: wideDigest, Status: rescan.StatusRescanned, Active: 12, Suppressed: 3, Excepted: 1,
					ScanFinishedOn: &scanned, PreviousScan: &previous, NewFindings: wideCVEs(12), Gate: &gate.Decision{}},
				{Platform: "linux/amd64", Digest: wideDigest2, Status: rescan.StatusFailed, Reason: wideReason},
			}},
		},
	}}}
	var out bytes.Buffer
	if err := renderRescan(&globals{stdout: &out}, rep); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), wideReason, "new: "+strings.Join(wideCVEs(12), ", "),
		"new active findings: "+strings.Join(wideCVEs(12), ", "))
}

func TestRenderAdmissionFits(t *testing.T) {
	slsa := "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0"
	signer := "https://github.com/acme/base-images/.github/workflows/publish.yml@refs/heads/main"
	enforces := "every ghcr.io/acme/base-images/* image carries at least one vulnerability scan signed by " + signer +
		" (issuer https://token.actions.githubusercontent.com), and every such scan says gate.pass true and no stale database accepted"
	rep := admissionReport{Result: admission.Result{Fleet: "clearcutt.yaml", Mode: "keyless", Profile: "enforce",
		ProductionNamespaces: "environment=production", Signer: signer, Issuer: "https://token.actions.githubusercontent.com",
		DeniedTiers: []string{"dev", "debug"},
		Rules: []admission.Rule{
			{Engine: "kyverno", Policy: "clearcutt-acme-base-images", Rule: "fleet-signature-sbom-tests", Enforces: enforces},
			{Engine: "kyverno", Policy: "clearcutt-acme-base-images", Rule: "slsa-provenance", Enforces: "every image has SLSA provenance signed by " + slsa},
			{Engine: "policy-controller", Policy: "clearcutt-acme-base-images-vulnerabilities", Enforces: enforces},
		}},
		Written: []string{"/home/runner/work/base-images/base-images/deploy/admission/policy-controller-clusterimagepolicies.yaml"}}
	var out bytes.Buffer
	if err := renderAdmission(&globals{stdout: &out}, rep); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), enforces, "signed by "+slsa, "tiers kept out of production namespaces: dev, debug")
}

func TestRenderAttestFits(t *testing.T) {
	h := func(d string) v1.Hash {
		x, err := v1.NewHash(d)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	store := "ghcr.io/acme/base-images/python-distroless-debug@" + wideDigest
	rep := attest.Result{Index: h(wideDigest), Store: store, Mode: "keyless", Attached: []attest.Attached{
		{Subject: h(wideDigest), Derived: true, PredicateType: attest.PredicateTestResult, Artifact: h(wideDigest2), LogIndexes: []int64{1234567890, 1234567891}},
		{Subject: h(wideDigest2), Platform: "linux/arm64/v8", PredicateType: attest.PredicateSPDX, Artifact: h(wideDigest), LogIndexes: []int64{1234567892}},
		{Subject: h(wideDigest2), Platform: "linux/arm64/v8", PredicateType: "https://in-toto.io/attestation/vulns/v0.2", Artifact: h(wideDigest)},
	}}
	var out bytes.Buffer
	if err := renderAttest(&globals{stdout: &out}, rep); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), wideDigest+" (index, derived)", wideDigest2+" (linux/arm64/v8)", "rekor 1234567890, rekor 1234567891",
		"3 bundles stored in "+store)
}

func wideHash(t *testing.T, d string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(d)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRenderAppFits(t *testing.T) {
	base := appimage.Base{Reference: "ghcr.io/acme/base-images/python@" + wideDigest, Runtime: "python", Tier: "distroless", Version: "3.12.8"}
	app := "ghcr.io/acme/payments/checkout-service-with-a-long-name:v2026.12.06-build.1234"
	var layers []appimage.LayerRef
	for range 3 {
		layers = append(layers, appimage.LayerRef{Digest: wideHash(t, wideDigest2), Size: 123456789, Describe: "/app/checkout-service and its static assets"})
	}
	built := appBuildReport{BuildResult: appimage.BuildResult{Base: base, Platforms: []appimage.Platform{
		{Platform: "linux/arm64/v8", Digest: wideHash(t, wideDigest), BaseDigest: wideHash(t, wideDigest2), BaseLayers: 42, AppLayers: layers},
	}}, Reference: app, Refs: []string{app, "ghcr.io/acme/payments/checkout-service-with-a-long-name:latest"}}
	var out bytes.Buffer
	if err := renderAppBuild(&globals{stdout: &out}, built); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), base.Reference, "(/app/checkout-service and its static assets, 118 MiB), sha256:d936263c1bd3… (/app/checkout-service")

	out.Reset()
	if err := renderAppBuild(&globals{stdout: &out}, appBuildReport{BuildResult: appimage.BuildResult{Base: base}, Refused: wideReason}); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), "REFUSED "+wideReason)

	out.Reset()
	rebased := appRebaseReport{RebaseResult: appimage.RebaseResult{App: app, OldBase: "ghcr.io/acme/base-images/python@" + wideDigest2, NewBase: base,
		Platforms: []appimage.RebasedPlatform{{Platform: "linux/arm64/v8", Before: wideHash(t, wideDigest), After: wideHash(t, wideDigest2),
			OldBase: wideHash(t, wideDigest), NewBase: wideHash(t, wideDigest2), AppLayers: append(layers, layers...)}}},
		Reference: app, Refs: []string{app}}
	if err := renderAppRebase(&globals{stdout: &out}, rebased); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), "old base "+rebased.OldBase, strings.TrimSuffix(strings.Repeat("sha256:d936263c1bd3…, ", 6), ", "))

	out.Reset()
	change := appimage.VulnChange{ID: "GHSA-xxxx-yyyy-zzzz", Package: widePackage, Severity: "Critical",
		BeforeVersion: "0.48b0", BeforeStatus: "affected", AfterVersion: "0.49b1-unstable-2026-11-30", AfterStatus: "not_affected (vulnerable_code_not_in_execute_path)"}
	diff := appDiffReport{DiffReport: appimage.DiffReport{App: app, Current: base, Candidate: base, SameLine: true, Problems: []string{wideReason},
		Platforms: []appimage.PlatformDiff{{Platform: "linux/arm64/v8", Current: wideHash(t, wideDigest), Candidate: wideHash(t, wideDigest2),
			Packages:        appimage.PackageDelta{Changed: []appimage.PackageChange{{Name: widePackage, Before: []string{"0.48b0", "0.48b0-py3.12"}, After: []string{"0.49b1-unstable-2026-11-30"}}}},
			Vulnerabilities: appimage.VulnDelta{Fixed: []appimage.VulnChange{change}, New: []appimage.VulnChange{change}}}}}}
	if err := renderAppDiff(&globals{stdout: &out}, diff); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), "problem: "+wideReason, vulnStates(change), "0.48b0, 0.48b0-py3.12 -> 0.49b1-unstable-2026-11-30")
}

func TestRenderPipelineFits(t *testing.T) {
	asm := &stage.AssembleReport{Platforms: []stage.AssemblePlatform{{Arch: "arm64", Layers: 123, Size: 123456789012}, {Arch: "amd64", Layers: 124, Size: 123456789012}}}
	scanned := &stage.ScanReport{Platforms: []stage.ScanPlatform{{Decision: gate.Decision{Counts: gate.Counts{Active: 123, Suppressed: 45, Excepted: 6}}}}}
	rep := pipeline.Report{Destination: "ghcr.io/acme/base-images-with-a-long-organisation-name", Published: false, Seconds: 1234.5, Images: []pipeline.Image{
		{Image: "python:distroless-debug", Digest: wideDigest, Assemble: asm, Scan: scanned, Publish: &stage.PublishReport{}, Verify: &verify.Report{}},
		{Image: "nodejs:distroless-debug", Error: wideReason},
	}}
	var out bytes.Buffer
	if err := renderPipeline(&globals{stdout: &out}, rep); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), "nodejs:distroless-debug: "+wideReason, "123/45/6 FAIL", "NOT published: a gate failed")
}

func TestRenderAssembleBuildPublishFetchFit(t *testing.T) {
	var requiredBy []string
	for _, n := range []string{"python3-3.12.8", "python3.12-pillow-11.0.0", "python3.12-matplotlib-3.9.2"} {
		requiredBy = append(requiredBy, "/nix/store/"+strings.Repeat("q", 32)+"-"+n)
	}
	candidate := closure.PruningCandidate{Pname: "fontconfig", Feature: "fonts", NarSize: 1234567, RequiredBy: requiredBy}
	asm := stage.AssembleReport{Image: "python:distroless-debug", Reference: "oci:out/oci/python-distroless-debug@" + wideDigest,
		Platforms:  []stage.AssemblePlatform{{Arch: "arm64", Digest: wideDigest, Layers: 123, Size: 123456789, BaseDigest: wideDigest2}},
		Candidates: []closure.PruningCandidate{candidate}}
	var out bytes.Buffer
	if err := renderAssemble(&globals{stdout: &out}, asm); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), asm.Reference, wideDigest, "required by "+strings.Join(requiredBy, ", "))

	out.Reset()
	m := &closure.Manifest{Runtime: "python", Tier: "distroless-debug", Arch: "aarch64-linux", Root: requiredBy[0], RuntimePath: requiredBy[1],
		PruningCandidates: []closure.PruningCandidate{candidate},
		Scrub: &closure.Scrub{RemovedFromClosure: requiredBy, Files: []closure.ScrubFile{
			{Action: "removed", Path: "lib/python3.12/ensurepip/_bundled/pip-24.2-py3-none-any.whl", Reason: wideReason}}}}
	if err := renderBuild(&globals{stdout: &out}, m, "out/closures/python-distroless-debug-aarch64-linux.json"); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), strings.Join(requiredBy, ", "), wideReason)

	out.Reset()
	refs := []string{"ghcr.io/acme/base-images/python:distroless-debug", "ghcr.io/acme/base-images/python:3.12-distroless-debug",
		"ghcr.io/acme/base-images/python:3.12.8-distroless-debug-20261206"}
	pub := []stage.PublishReport{{Image: "python:distroless-debug", Digest: wideDigest, Refs: refs, BlobsUploaded: 123, BlobsSkipped: 456, BytesUploaded: 123456789012,
		Platforms: map[string]string{"linux/arm64/v8": wideDigest2, "linux/amd64": wideDigest}}}
	if err := renderPublish(&globals{stdout: &out}, pub); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), strings.Join(refs, " "), "index "+wideDigest, "linux/arm64/v8 "+wideDigest2)

	out.Reset()
	built := time.Now().Add(-30 * time.Hour)
	fetched := vulndb.FetchResult{DB: vulndb.Info{Path: "/home/runner/.cache/clearcutt/vulndb/6/vulnerability.db", Built: built, SchemaVersion: "v6.1.10",
		Digest: strings.Repeat("ab", 32)}, Checksum: "sha256:" + strings.Repeat("cd", 32), StaleDBAccepted: true,
		ArchiveURL: "https://grype.anchore.io/databases/v6/vulnerability-db_v6.1.10_2026-12-05T01:23:45Z_1733361825.tar.zst",
		ListingURL: "https://grype.anchore.io/databases/v6/latest.json", Status: "active", Replaced: &vulndb.Info{Built: built}}
	if err := renderVulndbFetch(&globals{stdout: &out}, fetched); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), fetched.Checksum+" (archive, matches the listing)", fetched.ArchiveURL, "(STALE, accepted unsafely)")
}

func TestRenderPlanFits(t *testing.T) {
	f, err := fleet.Load("../../clearcutt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := renderPlan(&out, f); err != nil {
		t.Fatal(err)
	}
	img := f.Images()[0]
	checkFits(t, out.String(), strings.Join(img.Tags, ", "), fmt.Sprintf("%d images, %d builds", len(f.Images()), len(f.Cells())))
}

func TestRenderDraftFits(t *testing.T) {
	var fixed []remediate.DeltaFinding
	for _, id := range wideCVEs(8) {
		fixed = append(fixed, remediate.DeltaFinding{ID: id, Package: widePackage})
	}
	rebuilt := "oci:out/remediate/stage/oci@" + wideDigest
	rep := draftReport{Package: widePackage, Strategy: "override", Changed: true, File: "nix/overlays/python3.12-opentelemetry.nix",
		Body: "out/remediate/pull-request-body.md", Branch: "clearcutt/remediate/" + widePackage, Commit: strings.Repeat("0123456789", 4),
		Refused: []string{wideReason},
		Draft: &remediate.Draft{Package: widePackage, From: []string{"0.48b0", "0.48b0-py3.12"}, To: "0.49b1", Fixes: wideCVEs(8),
			Change: remediate.Change{File: "nix/overlays/python3.12-opentelemetry.nix", Before: `version = "0.48b0";`, After: `version = "0.49b1";`},
			Images: []remediate.ImageEvidence{{Image: "python:distroless-debug", Rebuilt: rebuilt, TestsPassed: true,
				Delta: remediate.Delta{Fixed: fixed, StillActive: fixed[:2]}}},
			Architectures: []string{"amd64"}, NotRebuilt: []string{"arm64"}}}
	var out bytes.Buffer
	if err := renderDraft(&globals{stdout: &out}, rep); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), "fixed "+deltaIDs(fixed)+"; still active "+deltaIDs(fixed[:2])+"; new -", "rebuilt "+rebuilt,
		"REFUSED: "+wideReason, "fixes "+strings.Join(wideCVEs(8), ", "))
}

func TestRenderPlanActionsFits(t *testing.T) {
	images := []string{"python:distroless", "python:distroless-debug", "python:slim", "python:dev", "python-debian:distroless"}
	why := "fixes " + strings.Join(wideCVEs(6), ", ") + " (known exploited: CVE-2026-11111) in " + strings.Join(images, ", ") + "; " + wideReason
	rep := remediate.Plan{Catalog: "https://acme.github.io/base-images/catalog.json", Pinned: "github:NixOS/nixpkgs/" + strings.Repeat("0123456789", 4),
		Actions: []remediate.Action{{Rank: 1, Package: "libwebp", Attribute: "libwebp", Versions: []string{"1.3.0"}, Pinned: map[string]string{"": "1.3.0"},
			Newer: map[string]string{"": "1.3.2"}, Fix: "newer", Severity: "critical", KEV: true, Fixes: wideCVEs(6), Images: images,
			Why: why, Next: "clearcutt remediate draft libwebp --strategy lock --newer github:NixOS/nixpkgs/nixos-unstable; " + wideReason,
			Remaining: wideCVEs(9)}},
		NotNeeded: []remediate.Listed{{ID: "CVE-2023-1999", Severity: "high", Package: widePackage, Version: "0.48b0", Reason: "VEX not_affected: " + wideReason,
			Occurrences: []remediate.Occurrence{{Image: images[0]}, {Image: images[1]}}}},
		Unscanned: images}
	var out bytes.Buffer
	if err := renderPlanActions(&globals{stdout: &out}, rep); err != nil {
		t.Fatal(err)
	}
	checkFits(t, out.String(), strings.Join(wideCVEs(6), ", ")+" ("+strings.Join(images, ", ")+")", "1. libwebp: "+why, "left active: "+strings.Join(wideCVEs(9), ", "),
		"VEX not_affected: "+wideReason, "Not planned (no verified scan in the catalog): "+strings.Join(images, ", "))
}
