package rescan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/testenv"
	"github.com/clearcutt/clearcutt/internal/vulndb"
)

// Shape of the synthetic fleet: every image holds the shared packages (a
// runtime closure: the fixture's vulnerable libraries and interpreter plus
// filler store paths) and a few of its own, as images built from one
// nixpkgs pin do.
const (
	benchShared   = 110
	benchPerImage = 10
)

// benchPackage is one SPDX package: a Nix store path with its purl and CPE,
// or a pypi package.
type benchPackage struct{ name, version, purl, cpe string }

func nixPackage(name, version, vendor string) benchPackage {
	return benchPackage{name, version, "pkg:nix/" + name + "@" + version,
		"cpe:2.3:a:" + vendor + ":" + name + ":" + version + ":*:*:*:*:*:*:*"}
}

// benchSBOM is the SPDX 2.3 document of image i of the synthetic fleet.
func benchSBOM(i int) []byte {
	return benchSBOMNamed(i, fmt.Sprintf("bench%02d:distroless@sha256:%064x", i, i))
}

// benchSBOMNamed is benchSBOM(i) with the document name name (image@digest).
func benchSBOMNamed(i int, name string) []byte {
	pkgs := []benchPackage{
		nixPackage("python3", "3.11.2", "python"),
		nixPackage("glibc", "2.36", "gnu"),
		nixPackage("zlib", "1.2.13", "zlib"),
		nixPackage("expat", "2.5.0", "libexpat_project"),
		nixPackage("openssl", "3.0.22", "openssl"),
		{"requests", "2.25.0", "pkg:pypi/requests@2.25.0", "cpe:2.3:a:python:requests:2.25.0:*:*:*:*:*:*:*"},
	}
	for k := len(pkgs); k < benchShared; k++ {
		pkgs = append(pkgs, nixPackage(fmt.Sprintf("lib%03d", k), fmt.Sprintf("1.%d.0", k), fmt.Sprintf("lib%03d_project", k)))
	}
	for k := 0; k < benchPerImage; k++ {
		pkgs = append(pkgs, nixPackage(fmt.Sprintf("app%02d-part%d", i, k), "0.1.0", fmt.Sprintf("app%02d", i)))
	}
	doc := map[string]any{
		"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": name,
		"documentNamespace": fmt.Sprintf("https://clearcutt.dev/spdx/bench/%d", i),
		"creationInfo":      map[string]any{"created": "2026-11-26T00:00:00Z", "creators": []string{"Tool: clearcutt-bench"}},
	}
	var packages, rels []map[string]any
	for k, p := range pkgs {
		id := fmt.Sprintf("SPDXRef-Package-%d", k)
		packages = append(packages, map[string]any{
			"SPDXID": id, "name": p.name, "versionInfo": p.version, "downloadLocation": "NOASSERTION",
			"sourceInfo": "acquired package info from the Nix store path: /nix/store/" + strings.Repeat(string(rune('a'+k%26)), 32) + "-" + p.name + "-" + p.version,
			"externalRefs": []map[string]any{
				{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": p.purl},
				{"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": p.cpe},
			},
		})
		rels = append(rels, map[string]any{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": id})
	}
	doc["packages"], doc["relationships"] = packages, rels
	out, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return out
}

type benchItem struct {
	sbom    []byte
	subject scan.Subject
}

func benchFleet(n int) []benchItem {
	out := make([]benchItem, n)
	for i := range out {
		out[i] = benchItem{sbom: benchSBOM(i), subject: scan.Subject{Name: fmt.Sprintf("bench%02d:distroless", i),
			Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i)}}}
	}
	return out
}

func benchDB(b *testing.B) string {
	b.Helper()
	f, err := vulndb.Load(filepath.Join(testenv.RepoRoot(b), "testdata/vulndb/advisories.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := f.Build(context.Background(), dir, time.Now().Add(-time.Hour)); err != nil {
		b.Fatal(err)
	}
	return dir
}

// benchPolicy is the repository's VEX documents and exceptions.
func benchPolicy(b *testing.B) ([]string, *scan.Exceptions) {
	b.Helper()
	vex, err := filepath.Glob(filepath.Join(testenv.RepoRoot(b), "vex", "*.json"))
	if err != nil || len(vex) == 0 {
		b.Fatalf("vex/: %v", err)
	}
	exc, err := scan.LoadExceptions(filepath.Join(testenv.RepoRoot(b), "exceptions.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	return vex, exc
}

// BenchmarkRescan measures the part of a rescan that grows with the fleet:
// matching every platform's SBOM against the database with real grype and
// attributing the matches to each SBOM (findings, origin, VEX and
// exceptions), as rescan.Run does between verification and signing.
// images=1 and images=50 use scan.Batch (one database session, grype's
// matchers run once per distinct package); images=50/per-image scans the
// same 50 SBOMs with scan.Run one by one, the way a per-image rescan
// would. Each iteration starts from nothing: a new batch, no remembered
// matches.
func BenchmarkRescan(b *testing.B) {
	db := benchDB(b)
	vex, exc := benchPolicy(b)
	fleet := benchFleet(50)
	ctx := context.Background()
	batch := func(b *testing.B, items []benchItem) {
		var st scan.BatchStats
		findings := 0
		for b.Loop() {
			bt, err := scan.OpenBatch(scan.BatchOptions{DBDir: db, VEX: vex, Exceptions: exc})
			if err != nil {
				b.Fatal(err)
			}
			findings = 0
			for _, it := range items {
				res, err := bt.Scan(ctx, scan.Item{SBOM: it.sbom, SBOMPath: it.subject.Name, Subject: it.subject})
				if err != nil {
					b.Fatal(err)
				}
				findings += len(res.Findings)
			}
			st = bt.Stats()
			if err := bt.Close(); err != nil {
				b.Fatal(err)
			}
		}
		if findings < 6*len(items) {
			b.Fatalf("%d findings for %d images: the fixture's vulnerable packages did not match", findings, len(items))
		}
		b.ReportMetric(float64(st.Packages), "packages/op")
		b.ReportMetric(float64(st.UniquePackages), "unique-packages/op")
		b.ReportMetric(float64(st.Lookups), "matcher-runs/op")
	}
	b.Run("images=1", func(b *testing.B) { batch(b, fleet[:1]) })
	b.Run("images=50", func(b *testing.B) { batch(b, fleet) })
	b.Run("images=50/per-image", func(b *testing.B) {
		packages := 0
		for b.Loop() {
			packages = 0
			for _, it := range fleet {
				res, err := scan.Run(ctx, scan.Options{SBOM: it.sbom, SBOMPath: it.subject.Name, Subject: it.subject,
					DBDir: db, VEX: vex, Exceptions: exc})
				if err != nil {
					b.Fatal(err)
				}
				packages += res.Packages
			}
		}
		b.ReportMetric(float64(packages), "packages/op")
	})
}
