package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/testenv"
	"github.com/clearcutt/clearcutt/internal/vulndb"
)

var (
	dbBuilt = time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	scanNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	subject = Subject{Name: "python:distroless", Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}}
)

// testDB builds the testdata advisories into a fresh database.
func testDB(t *testing.T, built time.Time) string {
	t.Helper()
	f, err := vulndb.Load(filepath.Join(testenv.RepoRoot(t), "testdata", "vulndb", "advisories.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := f.Build(context.Background(), dir, built); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func repoVEX(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "vex", "*.json"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no VEX documents in vex/: %v", err)
	}
	return m
}

func fixedClock() func() time.Time {
	t := scanNow
	return func() time.Time { t = t.Add(time.Second); return t }
}

func scanOpts(t *testing.T, db, sbom string) Options {
	return Options{
		SBOM:     readFile(t, filepath.Join("testdata", sbom)),
		SBOMPath: sbom,
		Subject:  subject,
		DBDir:    db,
		Now:      scanNow,
		Clock:    fixedClock(),
	}
}

// key is "ID package@version status".
func keys(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+" "+f.Package.Name+"@"+f.Package.Version+" "+string(f.Status))
	}
	sort.Strings(out)
	return out
}

func find(t *testing.T, fs []Finding, id, pkg string) Finding {
	t.Helper()
	for _, f := range fs {
		if f.ID == id && f.Package.Name == pkg {
			return f
		}
	}
	t.Fatalf("no finding %s in %s; findings: %q", id, pkg, keys(fs))
	return Finding{}
}

func TestBuildAndDescribe(t *testing.T) {
	db := testDB(t, dbBuilt)
	info, err := vulndb.Describe(db)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Built.Equal(dbBuilt) {
		t.Fatalf("Built = %s, want %s", info.Built, dbBuilt)
	}
	if !strings.HasPrefix(info.SchemaVersion, "v6.") || len(info.Digest) != 64 {
		t.Fatalf("info = %+v", info)
	}
	if _, err := vulndb.Describe(t.TempDir()); !errors.Is(err, vulndb.ErrNoDB) {
		t.Fatalf("Describe(empty dir) = %v, want ErrNoDB", err)
	}
	if entries, _ := os.ReadDir(db); len(entries) != 1 {
		t.Fatalf("build left %d entries in %s, want only the database", len(entries), db)
	}
}

func TestMatchesAgainstTestDB(t *testing.T) {
	db := testDB(t, dbBuilt)
	res, err := Run(context.Background(), scanOpts(t, db, "python-closure.spdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CVE-2010-4756 glibc@2.36 active",
		"CVE-2023-40217 python3@3.11.2 active",
		"CVE-2023-45853 zlib@1.2.13 active",
		"CVE-2023-4911 glibc@2.36 active",
		"CVE-2023-52426 expat@2.5.0 active",
		"GHSA-j8r2-6x86-q33q requests@2.25.0 active",
	}
	if got := keys(res.Findings); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	py := find(t, res.Findings, "CVE-2023-40217", "python3")
	if py.Severity != "medium" || strings.Join(py.FixedIn, ",") != "3.11.5" || py.FixState != "fixed" || py.Origin != OriginClosure {
		t.Fatalf("python finding = %+v", py)
	}
	if len(py.CVSS) != 1 || !strings.HasPrefix(py.CVSS[0], "CVSS:3.1/") {
		t.Fatalf("python CVSS = %q", py.CVSS)
	}
	// Matched both through the python:python CPE and the nix pname row.
	if strings.Join(py.MatchTypes, ",") != "cpe-match,exact-direct-match" {
		t.Fatalf("python match types = %q", py.MatchTypes)
	}
	glob := find(t, res.Findings, "CVE-2010-4756", "glibc")
	if len(glob.FixedIn) != 0 || glob.FixState != "wont-fix" {
		t.Fatalf("unfixed finding = %+v", glob)
	}
	req := find(t, res.Findings, "GHSA-j8r2-6x86-q33q", "requests")
	if req.Origin != OriginClosure || req.Package.Type != "python" {
		t.Fatalf("requests under /nix/store: %+v", req)
	}
	if strings.Join(req.Aliases, ",") != "CVE-2023-32681" {
		t.Fatalf("requests aliases = %q", req.Aliases)
	}
	for _, f := range res.Findings {
		if f.Package.Name == "openssl" {
			t.Fatalf("openssl 3.0.22 matched %s", f.ID)
		}
	}
	if res.Scanner.DB.Built != dbBuilt || res.Scanner.Version == "" || res.Scanner.Version == "unknown" {
		t.Fatalf("scanner = %+v", res.Scanner)
	}
}

func TestVEXSuppressesWithJustification(t *testing.T) {
	db := testDB(t, dbBuilt)
	o := scanOpts(t, db, "python-closure.spdx.json")
	o.VEX = repoVEX(t)
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	f := find(t, res.Findings, "CVE-2023-4911", "glibc")
	if f.Status != gate.Suppressed || f.VEX == nil || f.VEX.Status != "not_affected" || f.VEX.Justification != "inline_mitigations_already_exist" {
		t.Fatalf("glibc finding = %+v (vex %+v)", f, f.VEX)
	}
	if !strings.Contains(f.VEX.ImpactStatement, "Debian") {
		t.Fatalf("impact statement = %q", f.VEX.ImpactStatement)
	}
	// The statement names glibc only: the other glibc CVE stays active.
	if g := find(t, res.Findings, "CVE-2010-4756", "glibc"); g.Status != gate.Active {
		t.Fatalf("CVE-2010-4756 = %s", g.Status)
	}
	doc := res.VEX.Doc
	if len(doc.Statements) != 1 || len(res.VEX.Sources) != 1 {
		t.Fatalf("applied VEX = %+v", doc)
	}
	st := doc.Statements[0]
	// Products: the image with the package as subcomponent, and the
	// package itself (what an SBOM-only scanner can match).
	if st.Vulnerability.Name != "CVE-2023-4911" || len(st.Products) != 2 ||
		st.Products[0].ID != "pkg:oci/python@sha256%3A"+subject.Digest.Hex ||
		len(st.Products[0].Subcomponents) != 1 || !strings.HasPrefix(st.Products[0].Subcomponents[0].ID, "pkg:nix/glibc@2.36") ||
		st.Products[1].ID != st.Products[0].Subcomponents[0].ID || len(st.Products[1].Subcomponents) != 0 {
		t.Fatalf("applied statement = %+v", st)
	}
	vs, err := res.VEXStatementJSON()
	if err != nil {
		t.Fatal(err)
	}
	var stmt struct {
		PredicateType string         `json:"predicateType"`
		Predicate     map[string]any `json:"predicate"`
	}
	if err := json.Unmarshal(vs, &stmt); err != nil {
		t.Fatal(err)
	}
	if stmt.PredicateType != VEXPredicateType || stmt.Predicate["@context"] != "https://openvex.dev/ns/v0.2.0" {
		t.Fatalf("VEX statement = %s", vs)
	}

	// Without the VEX document the same finding is active.
	res2, err := Run(context.Background(), scanOpts(t, db, "python-closure.spdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	if f := find(t, res2.Findings, "CVE-2023-4911", "glibc"); f.Status != gate.Active || f.VEX != nil {
		t.Fatalf("without VEX: %+v", f)
	}
	if len(res2.VEX.Doc.Statements) != 0 {
		t.Fatal("statements applied without VEX documents")
	}
}

func TestInvalidVEXIsAnError(t *testing.T) {
	db := testDB(t, dbBuilt)
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:nix/x"}], "status": "not_affected"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	o := scanOpts(t, db, "python-closure.spdx.json")
	o.VEX = []string{bad}
	_, err := Run(context.Background(), o)
	if !errors.Is(err, ErrInvalidVEX) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err = %v, want ErrInvalidVEX naming %s", err, bad)
	}
}

func TestExceptions(t *testing.T) {
	db := testDB(t, dbBuilt)
	x, err := LoadExceptions(filepath.Join(testenv.RepoRoot(t), "exceptions.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	o := scanOpts(t, db, "python-closure.spdx.json")
	o.Exceptions = x
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	z := find(t, res.Findings, "CVE-2023-45853", "zlib")
	if z.Status != gate.Excepted || z.Exception == nil || z.Exception.Expired || z.Exception.Owner == "" {
		t.Fatalf("zlib = %+v (exception %+v)", z, z.Exception)
	}
	d := gate.Decide(res.GateFindings(), gate.Policy{FailOn: gate.High, Now: scanNow})
	if d.Pass {
		t.Fatalf("glibc CVE-2023-4911 (high, no VEX) passed: %+v", d)
	}

	// The same exception after its expiry day: the finding is active again,
	// the exception is reported as expired, and the gate fails on it.
	o.Now = time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC)
	o.AllowStaleDBUnsafe = true
	o.VEX = repoVEX(t)
	res, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	z = find(t, res.Findings, "CVE-2023-45853", "zlib")
	if z.Status != gate.Active || z.Exception == nil || !z.Exception.Expired {
		t.Fatalf("expired: zlib = %+v (exception %+v)", z, z.Exception)
	}
	if len(res.ExpiredExceptions) != 1 || res.ExpiredExceptions[0].ID != "CVE-2023-45853" {
		t.Fatalf("expired exceptions = %+v", res.ExpiredExceptions)
	}
	d = gate.Decide(res.GateFindings(), gate.Policy{FailOn: gate.Critical, OnlyFixable: true, Now: o.Now})
	if d.Pass || !strings.Contains(strings.Join(d.Reasons, "\n"), "expired on 2027-06-30") {
		t.Fatalf("decision = %+v", d)
	}
}

func TestExceptionsFileErrors(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown field": {"apiVersion: clearcutt.dev/v1alpha1\nkind: VulnerabilityExceptions\nexceptions:\n  - id: CVE-1\n    package: zlib\n    owner: a\n    reason: b\n    expires: 2027-01-01\n    expiry: 2027-01-01\n", "line 9"},
		"bad date":      {"apiVersion: clearcutt.dev/v1alpha1\nkind: VulnerabilityExceptions\nexceptions:\n  - id: CVE-1\n    package: zlib\n    owner: a\n    reason: b\n    expires: next year\n", "x.yaml:4: exceptions[0]: expires"},
		"missing owner": {"apiVersion: clearcutt.dev/v1alpha1\nkind: VulnerabilityExceptions\nexceptions:\n  - id: CVE-1\n    package: zlib\n    reason: b\n    expires: 2027-01-01\n", "x.yaml:4: exceptions[0]: owner is required"},
		"wrong kind":    {"apiVersion: clearcutt.dev/v1alpha1\nkind: Exceptions\nexceptions: []\n", "kind"},
		"duplicate":     {"apiVersion: clearcutt.dev/v1alpha1\nkind: VulnerabilityExceptions\nexceptions:\n  - {id: CVE-1, package: zlib, owner: a, reason: b, expires: 2027-01-01}\n  - {id: CVE-1, package: zlib, owner: c, reason: d, expires: 2027-01-01}\n", "x.yaml:5: exceptions[1]: duplicate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseExceptions("x.yaml", []byte(tc.yaml))
			if !errors.Is(err, ErrInvalidExceptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidExceptions containing %q", err, tc.want)
			}
		})
	}
}

func TestStaleDB(t *testing.T) {
	db := testDB(t, scanNow.Add(-10*24*time.Hour))
	o := scanOpts(t, db, "python-closure.spdx.json")
	o.MaxDBAge = 120 * time.Hour
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrStaleDB) {
		t.Fatalf("err = %v, want ErrStaleDB", err)
	}
	o.MaxDBAge = 0 // the default maximum age is 120h too
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrStaleDB) {
		t.Fatalf("default max age: err = %v, want ErrStaleDB", err)
	}
	o.AllowStaleDBUnsafe = true
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.StaleDBAccepted || len(res.Findings) == 0 {
		t.Fatalf("stale DB accepted = %v, findings %d", res.StaleDBAccepted, len(res.Findings))
	}
	o.AllowStaleDBUnsafe = false
	o.MaxDBAge = 30 * 24 * time.Hour
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatalf("a 10-day-old DB with a 30-day maximum: %v", err)
	}
}

func TestOriginInOverlay(t *testing.T) {
	db := testDB(t, dbBuilt)
	o := scanOpts(t, db, "python-overlay.spdx.json")
	o.Overlay = true
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if f := find(t, res.Findings, "CVE-2023-52426", "expat"); f.Origin != OriginClosure {
		t.Fatalf("nix expat origin = %s", f.Origin)
	}
	deb := find(t, res.Findings, "CVE-2023-52426", "libexpat1")
	if deb.Origin != OriginBase || deb.Package.Type != "deb" || len(deb.FixedIn) != 0 {
		t.Fatalf("Debian libexpat1 = %+v", deb)
	}
	if f := find(t, res.Findings, "GHSA-j8r2-6x86-q33q", "requests"); f.Origin != OriginBase {
		t.Fatalf("requests outside /nix/store in an overlay: origin %s", f.Origin)
	}
	// Without a base, packages outside the closure belong to the image.
	o.Overlay = false
	res, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if f := find(t, res.Findings, "CVE-2023-52426", "libexpat1"); f.Origin != OriginImage {
		t.Fatalf("no overlay: origin %s", f.Origin)
	}
}

func TestBadInput(t *testing.T) {
	db := testDB(t, dbBuilt)
	o := scanOpts(t, db, "python-closure.spdx.json")
	o.SBOM = []byte(`{"bomFormat": "CycloneDX"}`)
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrInvalidSBOM) {
		t.Fatalf("CycloneDX: %v", err)
	}
	o = scanOpts(t, db, "python-closure.spdx.json")
	o.Subject.Digest = v1.Hash{}
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("no digest: %v", err)
	}
	o = scanOpts(t, t.TempDir(), "python-closure.spdx.json")
	if _, err := Run(context.Background(), o); !errors.Is(err, vulndb.ErrNoDB) {
		t.Fatalf("no DB: %v", err)
	}
}

func TestStatement(t *testing.T) {
	db := testDB(t, dbBuilt)
	run := func() []byte {
		o := scanOpts(t, db, "python-closure.spdx.json")
		o.VEX = repoVEX(t)
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := res.StatementJSON(); !errors.Is(err, ErrInvalidOptions) {
			t.Fatalf("a statement without a gate decision: err = %v, want ErrInvalidOptions", err)
		}
		res.Decide(gate.Policy{FailOn: gate.High, Now: o.Now})
		b, err := res.StatementJSON()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := run(), run()
	if !bytes.Equal(a, b) {
		t.Fatalf("statement bytes differ between identical scans:\n%s\n%s", a, b)
	}
	var st struct {
		Type    string `json:"_type"`
		Subject []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string `json:"predicateType"`
		Predicate     struct {
			Scanner struct {
				URI     string `json:"uri"`
				Version string `json:"version"`
				DB      struct {
					URI        string `json:"uri"`
					Version    string `json:"version"`
					LastUpdate string `json:"lastUpdate"`
				} `json:"db"`
				Result []struct {
					ID       string `json:"id"`
					Severity []struct {
						Method string `json:"method"`
						Score  string `json:"score"`
					} `json:"severity"`
					Annotations []map[string]any `json:"annotations"`
				} `json:"result"`
			} `json:"scanner"`
			Metadata struct {
				ScanStartedOn  string `json:"scanStartedOn"`
				ScanFinishedOn string `json:"scanFinishedOn"`
			} `json:"metadata"`
			Gate *struct {
				Pass    *bool    `json:"pass"`
				Policy  string   `json:"policy"`
				Reasons []string `json:"reasons"`
			} `json:"gate"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(a, &st); err != nil {
		t.Fatal(err)
	}
	p := st.Predicate
	if g := p.Gate; g == nil || g.Pass == nil || g.Policy != "fail on high or above" {
		t.Fatalf("statement records no gate decision: %s", a)
	}
	if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != PredicateType ||
		len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != subject.Digest.Hex || st.Subject[0].Name != subject.Name {
		t.Fatalf("statement header = %s", a)
	}
	if !strings.HasPrefix(p.Scanner.URI, "pkg:golang/github.com/anchore/grype@v") || p.Scanner.Version == "" ||
		p.Scanner.DB.LastUpdate != "2026-11-25T06:00:00Z" || !strings.HasPrefix(p.Scanner.DB.Version, "v6.") ||
		!strings.Contains(p.Scanner.DB.URI, "checksum=sha256:") {
		t.Fatalf("scanner = %+v", p.Scanner)
	}
	if p.Metadata.ScanStartedOn == "" || p.Metadata.ScanFinishedOn == "" {
		t.Fatalf("metadata = %+v", p.Metadata)
	}
	if len(p.Scanner.Result) != 6 {
		t.Fatalf("%d results, want 6", len(p.Scanner.Result))
	}
	var sawSuppressed bool
	for _, r := range p.Scanner.Result {
		if len(r.Severity) == 0 || r.Severity[0].Method != "grype" || len(r.Annotations) != 1 {
			t.Fatalf("result %+v", r)
		}
		a := r.Annotations[0]
		if a["origin"] != "closure" {
			t.Fatalf("origin annotation of %s = %v", r.ID, a["origin"])
		}
		if r.ID == "CVE-2023-4911" {
			sawSuppressed = a["status"] == "suppressed" && a["vexStatus"] == "not_affected" && a["vexJustification"] == "inline_mitigations_already_exist"
		}
	}
	if !sawSuppressed {
		t.Fatal("the suppressed finding is not annotated with its VEX status")
	}
	// Keys are sorted: "predicate" precedes "predicateType" precedes "subject".
	if i, j := bytes.Index(a, []byte(`"predicate"`)), bytes.Index(a, []byte(`"subject"`)); i < 0 || j < i || !bytes.HasPrefix(a, []byte(`{"_type"`)) {
		t.Fatalf("keys not sorted: %.80s", a)
	}
}

func TestGrypeVersionMatchesGoMod(t *testing.T) {
	mod := string(readFile(t, filepath.Join(testenv.RepoRoot(t), "go.mod")))
	if !strings.Contains(mod, "\tgithub.com/anchore/grype "+grypeRequired+"\n") {
		t.Fatalf("go.mod does not require github.com/anchore/grype %s: update grypeRequired", grypeRequired)
	}
}
