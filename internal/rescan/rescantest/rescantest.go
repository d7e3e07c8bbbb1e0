// Package rescantest makes the synthetic fleet the rescan benchmarks
// scan: SPDX 2.3 documents of images built from one nixpkgs pin, sharing
// most packages (the fixture database's vulnerable libraries and
// interpreter, and filler store paths) and holding a few of their own.
package rescantest

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/testenv"
	"github.com/clearcutt/clearcutt/internal/vulndb"
)

// Shape of the synthetic fleet: every image holds the shared packages (a
// runtime closure: the fixture's vulnerable libraries and interpreter plus
// filler store paths) and a few of its own, as images built from one
// nixpkgs pin do.
const (
	Shared   = 110
	PerImage = 10
)

// pkg is one SPDX package: a Nix store path with its purl and CPE,
// or a pypi package.
type pkg struct{ name, version, purl, cpe string }

func nixPackage(name, version, vendor string) pkg {
	return pkg{name, version, "pkg:nix/" + name + "@" + version,
		"cpe:2.3:a:" + vendor + ":" + name + ":" + version + ":*:*:*:*:*:*:*"}
}

// SBOM is the SPDX 2.3 document of image i of the synthetic fleet.
func SBOM(i int) []byte {
	return SBOMNamed(i, fmt.Sprintf("bench%02d:distroless@sha256:%064x", i, i))
}

// SBOMNamed is SBOM(i) with the document name name (image@digest).
func SBOMNamed(i int, name string) []byte {
	pkgs := []pkg{
		nixPackage("python3", "3.11.2", "python"),
		nixPackage("glibc", "2.36", "gnu"),
		nixPackage("zlib", "1.2.13", "zlib"),
		nixPackage("expat", "2.5.0", "libexpat_project"),
		nixPackage("openssl", "3.0.22", "openssl"),
		{"requests", "2.25.0", "pkg:pypi/requests@2.25.0", "cpe:2.3:a:python:requests:2.25.0:*:*:*:*:*:*:*"},
	}
	for k := len(pkgs); k < Shared; k++ {
		pkgs = append(pkgs, nixPackage(fmt.Sprintf("lib%03d", k), fmt.Sprintf("1.%d.0", k), fmt.Sprintf("lib%03d_project", k)))
	}
	for k := 0; k < PerImage; k++ {
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

// DB is a Grype database built an hour ago from testdata/vulndb/advisories.yaml.
func DB(b testing.TB) string {
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

// Policy is the repository's VEX documents and exceptions.
func Policy(b testing.TB) ([]string, *scan.Exceptions) {
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
