package vexdoc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

// testNow is the time the tests check documents at: after every timestamp
// of validDoc.
var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func testImages(t *testing.T) []fleet.Image {
	t.Helper()
	f, err := fleet.Load(filepath.Join(testenv.RepoRoot(t), "clearcutt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return f.Images()
}

// validDoc is a document every rule accepts; tests break one thing at a time.
const validDoc = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/doc/v1",
  "author": "Platform security <sec@example.com>",
  "timestamp": "2026-11-26T00:00:00Z",
  "version": 1,
  "statements": [
    {
      "vulnerability": {"name": "CVE-2023-4911"},
      "products": [{"@id": "pkg:nix/glibc@2.36"}],
      "status": "not_affected",
      "justification": "inline_mitigations_already_exist"
    },
    {
      "vulnerability": {"name": "CVE-2023-40217", "aliases": ["GHSA-xxxx-xxxx-xxxx"]},
      "products": [{"@id": "pkg:oci/python?tag=slim", "subcomponents": [{"@id": "pkg:nix/python3"}]}],
      "status": "affected",
      "action_statement": "Upgrade python to 3.11.5",
      "timestamp": "2026-11-26T01:00:00Z"
    }
  ]
}
`

func parse(t *testing.T, data string) *Document {
	t.Helper()
	d, err := Parse("vex/doc.json", []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

func TestValidDocumentHasNoProblems(t *testing.T) {
	d := parse(t, validDoc)
	if probs := Check(d, CheckOptions{Images: testImages(t), Now: testNow}); len(probs) != 0 {
		t.Fatalf("valid document: %v", probs)
	}
	if d.Line(0) != 8 || d.Line(1) != 14 {
		t.Errorf("statement lines %d, %d; want 8, 14", d.Line(0), d.Line(1))
	}
	// What vex validate accepts, clearcutt scan's loader (go-vex) accepts.
	if _, err := openvex.Parse([]byte(validDoc)); err != nil {
		t.Fatal(err)
	}
}

func TestParseNamesFileLineAndField(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      string
	}{
		{"malformed JSON", strings.Replace(validDoc, `"version": 1,`, `"version": 1`, 1), "vex/doc.json:7: not JSON: invalid character"},
		{"not an object", `[1]`, "vex/doc.json: not a JSON object"},
		{"no context", `{"@id": "x"}`, "vex/doc.json: @context: missing"},
		{"old context", strings.Replace(validDoc, "ns/v0.2.0", "ns", 1), `@context: is "https://openvex.dev/ns", want "https://openvex.dev/ns/v0.2.0"`},
		{"unknown document field", strings.Replace(validDoc, `"version": 1,`, `"version": 1, "autor": "x",`, 1), `vex/doc.json: unknown field "autor"`},
		{"unknown statement field", strings.Replace(validDoc, `"action_statement"`, `"action_statment"`, 1), `vex/doc.json:14: statements[1]: unknown field "action_statment"`},
		{"wrong type", strings.Replace(validDoc, `"version": 1,`, `"version": "1",`, 1), `vex/doc.json: version: found a JSON string, want int`},
		{"wrong statement type", strings.Replace(validDoc, `"products": [{"@id": "pkg:nix/glibc@2.36"}]`, `"products": "pkg:nix/glibc"`, 1), `vex/doc.json:8: statements[0].products: found a JSON string, want []vex.Product`},
		{"bad timestamp", strings.Replace(validDoc, `"2026-11-26T00:00:00Z"`, `"2026-11-26"`, 1), `vex/doc.json: parsing time`},
		{"no statements", `{"@context": "https://openvex.dev/ns/v0.2.0"}`, "vex/doc.json: statements: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("vex/doc.json", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestLoadMissingFileIsNotExist(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err %v, want not-exist", err)
	}
}

func TestCheckRules(t *testing.T) {
	images := testImages(t)
	for _, tc := range []struct {
		name, old, new string
		field, want    string
	}{
		{"not_affected without justification or impact", `"justification": "inline_mitigations_already_exist"`, `"impact_statement": ""`,
			"statements[0].justification", "not_affected needs a justification"},
		{"unknown justification", `"inline_mitigations_already_exist"`, `"mitigated"`, "statements[0].justification", `"mitigated" is not an OpenVEX justification`},
		{"not_affected with action", `"justification": "inline_mitigations_already_exist"`, `"justification": "component_not_present", "action_statement": "x"`,
			"statements[0].action_statement", "must not be set when the status is not_affected"},
		{"affected without action", `"action_statement": "Upgrade python to 3.11.5",`, ``, "statements[1].action_statement", "affected needs an action statement"},
		{"affected with justification", `"action_statement": "Upgrade`, `"justification": "component_not_present", "action_statement": "Upgrade`,
			"statements[1].justification", "must not be set when the status is affected"},
		{"fixed with impact", `"status": "not_affected",
      "justification": "inline_mitigations_already_exist"`, `"status": "fixed", "impact_statement": "x"`, "statements[0].impact_statement", "must not be set when the status is fixed"},
		{"unknown status", `"status": "affected"`, `"status": "vulnerable"`, "statements[1].status", `"vulnerable" is not an OpenVEX status`},
		{"missing status", `"status": "affected",`, ``, "statements[1].status", "missing"},
		{"lower-case CVE", `"CVE-2023-4911"`, `"cve-2023-4911"`, "statements[0].vulnerability.name", "write CVE ids in upper case"},
		{"bad alias", `"GHSA-xxxx-xxxx-xxxx"`, `"GHSA-1"`, "statements[1].vulnerability.aliases[0]", "not a GitHub advisory id"},
		{"missing vulnerability", `"vulnerability": {"name": "CVE-2023-4911"},`, ``, "statements[0].vulnerability.name", "missing"},
		{"bad purl", `"pkg:nix/glibc@2.36"`, `"glibc@2.36"`, "statements[0].products[0].@id", "is not a package URL"},
		{"empty version", `"pkg:nix/glibc@2.36"`, `"pkg:nix/glibc@"`, "statements[0].products[0].@id", "empty version after @"},
		{"bad subcomponent", `"pkg:nix/python3"`, `"python3"`, "statements[1].products[0].subcomponents[0].@id", "is not a package URL"},
		{"product without id", `{"@id": "pkg:nix/glibc@2.36"}`, `{"hashes": {"sha-256": "` + strings.Repeat("ab", 32) + `"}}`, "statements[0].products[0].@id", "missing"},
		{"bad hash", `{"@id": "pkg:nix/glibc@2.36"}`, `{"@id": "pkg:nix/glibc@2.36", "hashes": {"sha-256": "abc"}}`, "statements[0].products[0].hashes.sha-256", "not 64 lower-case hex digits"},
		{"no products", `"products": [{"@id": "pkg:nix/glibc@2.36"}],`, ``, "statements[0].products", "missing"},
		{"image not in fleet", `"pkg:oci/python?tag=slim"`, `"pkg:oci/ruby?tag=slim"`, "statements[1].products[0].@id", "names no image of the fleet"},
		{"tier not in fleet", `"pkg:oci/python?tag=slim"`, `"pkg:oci/static?tag=slim"`, "statements[1].products[0].@id", "names no image of the fleet"},
		{"image by version tag", `"pkg:oci/python?tag=slim"`, `"pkg:oci/python?tag=3.11-slim"`, "statements[1].products[0].@id", "3.11-slim is a tag of python:slim, not its tier; clearcutt scan matches the tier: write pkg:oci/python?tag=slim"},
		{"image by repository_url", `"pkg:oci/python?tag=slim"`, `"pkg:oci/python?repository_url=ghcr.io/clearcutt/fleet/python&tag=slim"`, "statements[1].products[0].@id", "the repository_url qualifier keeps the statement from applying"},
		{"oci version not a digest", `"pkg:oci/python?tag=slim"`, `"pkg:oci/python@3.11"`, "statements[1].products[0].@id", "is the image digest"},
		{"statement time not UTC", `"2026-11-26T01:00:00Z"`, `"2026-11-26T03:00:00+02:00"`, "statements[1].timestamp", "not in UTC"},
		{"document time not UTC", `"timestamp": "2026-11-26T00:00:00Z"`, `"timestamp": "2026-11-26T02:00:00+02:00"`, "timestamp", "not in UTC"},
		{"no author", `"author": "Platform security <sec@example.com>",`, ``, "author", "missing"},
		{"no id", `"@id": "https://example.com/vex/doc/v1",`, ``, "@id", "missing"},
		{"id not an IRI", `"https://example.com/vex/doc/v1"`, `"doc v1"`, "@id", "not an IRI"},
		{"version zero", `"version": 1,`, `"version": 0,`, "version", "versions start at 1"},
		{"last_updated before timestamp", `"version": 1,`, `"version": 1, "last_updated": "2026-01-01T00:00:00Z",`, "last_updated", "is before the timestamp"},
		{"no document timestamp", `"timestamp": "2026-11-26T00:00:00Z",`, ``, "timestamp", "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(validDoc, tc.old) {
				t.Fatalf("test case does not apply: %q not in the document", tc.old)
			}
			d := parse(t, strings.Replace(validDoc, tc.old, tc.new, 1))
			probs := Check(d, CheckOptions{Images: images, Now: testNow})
			for _, p := range probs {
				if p.Field == tc.field && strings.Contains(p.Message, tc.want) {
					if p.File != "vex/doc.json" {
						t.Errorf("problem names file %q", p.File)
					}
					if strings.HasPrefix(tc.field, "statements[") && (p.Statement == nil || p.Line == 0) {
						t.Errorf("statement problem without index or line: %+v", p)
					}
					return
				}
			}
			t.Fatalf("no problem at %s containing %q; got %v", tc.field, tc.want, probs)
		})
	}
}

// A timestamp later than now plus the clock skew dates a document or a
// statement in the future: vex validate refuses it, naming file:line, the
// field and the time.
func TestCheckRefusesFutureTimestamps(t *testing.T) {
	future := testNow.Add(ClockSkew + time.Second).Format(time.RFC3339)
	within := testNow.Add(ClockSkew).Format(time.RFC3339)
	for _, tc := range []struct {
		name, old, new string
		want           string // Problem.Error(), up to the time
	}{
		{"document timestamp", `"timestamp": "2026-11-26T00:00:00Z"`, `"timestamp": "` + future + `"`,
			"vex/doc.json:5: timestamp: " + future + " is in the future"},
		{"document last_updated", `"version": 1,`, `"version": 1, "last_updated": "` + future + `",`,
			"vex/doc.json:6: last_updated: " + future + " is in the future"},
		{"statement timestamp", `"timestamp": "2026-11-26T01:00:00Z"`, `"timestamp": "` + future + `"`,
			"vex/doc.json:14: statements[1].timestamp: " + future + " is in the future"},
		{"statement last_updated", `"timestamp": "2026-11-26T01:00:00Z"`, `"timestamp": "2026-11-26T01:00:00Z", "last_updated": "` + future + `"`,
			"vex/doc.json:14: statements[1].last_updated: " + future + " is in the future"},
		{"statement without timestamp", `"justification": "inline_mitigations_already_exist"`, `"justification": "inline_mitigations_already_exist", "last_updated": "` + future + `"`,
			"vex/doc.json:8: statements[0].last_updated: " + future + " is in the future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(validDoc, tc.old) {
				t.Fatalf("test case does not apply: %q not in the document", tc.old)
			}
			d := parse(t, strings.Replace(validDoc, tc.old, tc.new, 1))
			probs := Check(d, CheckOptions{Images: testImages(t), Now: testNow})
			if len(probs) != 1 || !strings.HasPrefix(probs[0].Error(), tc.want) || !strings.Contains(probs[0].Message, "clock skew") {
				t.Fatalf("problems %v, want one starting %q", probs, tc.want)
			}
			if !errors.Is(probs, ErrInvalid) {
				t.Error("the problems do not wrap ErrInvalid")
			}
			// Within the clock skew, the same document passes.
			d = parse(t, strings.Replace(validDoc, tc.old, strings.ReplaceAll(tc.new, future, within), 1))
			if probs := Check(d, CheckOptions{Images: testImages(t), Now: testNow}); len(probs) != 0 {
				t.Errorf("%s, within the clock skew: %v", within, probs)
			}
		})
	}
	// CheckStatement, which vex create applies before writing, refuses a
	// future statement too.
	ts := testNow.Add(time.Hour)
	st := openvex.Statement{Vulnerability: openvex.Vulnerability{Name: "CVE-2023-45853"}, Status: openvex.StatusFixed,
		Products: []openvex.Product{{Component: openvex.Component{ID: "pkg:nix/zlib"}}}, Timestamp: &ts}
	if probs := CheckStatement(&st, CheckOptions{Now: testNow}); len(probs) != 1 || probs[0].Field != "timestamp" {
		t.Errorf("future statement: %v", probs)
	}
	// No Now is the time of the call.
	if probs := CheckStatement(&st, CheckOptions{}); len(probs) != 0 && ts.Before(time.Now()) {
		t.Errorf("statement of %s at the time of the call: %v", ts, probs)
	}
}

func TestEmptyStatementsIsAProblem(t *testing.T) {
	d := parse(t, `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:x:y", "author": "a", "timestamp": "2026-11-26T00:00:00Z", "version": 1, "statements": []}`)
	probs := Check(d, CheckOptions{Now: testNow})
	if len(probs) != 1 || probs[0].Field != "statements" {
		t.Fatalf("problems %v", probs)
	}
}

func TestVulnerabilityIDs(t *testing.T) {
	for _, ok := range []string{"CVE-2023-4911", "CVE-2021-1234567", "GHSA-j8r2-6x86-q33q", "PYSEC-2023-74", "GO-2023-1234", "RUSTSEC-2023-0001", "DSA-5514-1", "RHSA-2023:5455"} {
		if err := CheckVulnerabilityID(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "CVE-2023-1", "cve-2023-4911", "CVE-23-4911", " CVE-2023-4911", "ghsa-j8r2-6x86-q33q", "GHSA-J8R2-6X86-Q33Q", "glibc", "2023-4911", "https://nvd.nist.gov/vuln/detail/CVE-2023-4911"} {
		if err := CheckVulnerabilityID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPURLs(t *testing.T) {
	for _, ok := range []string{"pkg:nix/glibc", "pkg:nix/glibc@2.36", "pkg:nix/glibc@2.36?outputhash=abc", "pkg:pypi/requests@2.25.0",
		"pkg:oci/python?tag=slim", "pkg:oci/python@sha256%3A" + strings.Repeat("0", 64), "pkg:golang/github.com/anchore/grype@v0.121.2"} {
		if err := CheckPURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "glibc", "nix/glibc", "pkg:glibc", "pkg:nix/", "pkg:nix/glibc@", "pkg:nix/glibc@?x=y", "pkg:nix/gli bc", "pkg:oci/python@latest", "pkg:oci/python@sha256%3Aabc"} {
		if err := CheckPURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The image product a statement records for runtime:tier is matched by
// go-vex against the scanned image of that tier only.
func TestImageProductMatchesItsTierOnly(t *testing.T) {
	images := testImages(t)
	var slim fleet.Image
	for _, im := range images {
		if im.RefName == "python:slim" {
			slim = im
		}
	}
	p := ImageProduct(slim)
	if p != "pkg:oci/python?tag=slim" {
		t.Fatalf("ImageProduct(python:slim) = %s", p)
	}
	if names, isImage := NamedImages(p, images); !isImage || len(names) != 1 || names[0] != "python:slim" {
		t.Fatalf("NamedImages(%s) = %v, %v", p, names, isImage)
	}
	if names, _ := NamedImages("pkg:oci/python", images); len(names) != 3 {
		t.Errorf("pkg:oci/python names %v, want every tier of python", names)
	}
	if names, _ := NamedImages("pkg:oci/python?repository_url=ghcr.io/clearcutt/fleet/python&tag=3.11-dev", images); len(names) != 1 || names[0] != "python:dev" {
		t.Errorf("repository_url and version tag name %v", names)
	}
	if names, _ := NamedImages("pkg:oci/python?repository_url=docker.io/library/python", images); len(names) != 0 {
		t.Errorf("another repository names %v", names)
	}
	if _, isImage := NamedImages("pkg:nix/python3", images); isImage {
		t.Error("a nix package is not an image")
	}

	st := openvex.Statement{Vulnerability: openvex.Vulnerability{Name: "CVE-2023-40217"}, Status: openvex.StatusNotAffected,
		Justification: openvex.VulnerableCodeNotInExecutePath,
		Products:      []openvex.Product{{Component: openvex.Component{ID: p}, Subcomponents: []openvex.Subcomponent{{Component: openvex.Component{ID: "pkg:nix/python3"}}}}}}
	hex := strings.Repeat("ab", 32)
	pkg := []string{"pkg:nix/python3@3.11.2?outputhash=8y0s1qhbh4sqf66nwvnxvyqv45xb7rrz"}
	if !st.Matches("CVE-2023-40217", SubjectProduct("python", "slim", "sha256", hex), pkg) {
		t.Error("the statement does not match python:slim")
	}
	if st.Matches("CVE-2023-40217", SubjectProduct("python", "dev", "sha256", hex), pkg) {
		t.Error("the statement about python:slim matches python:dev")
	}
	if st.Matches("CVE-2023-40217", SubjectProduct("python", "slim", "sha256", hex), []string{"pkg:nix/glibc@2.36"}) {
		t.Error("the statement about python3 matches glibc")
	}
}

func TestConflicts(t *testing.T) {
	doc := func(path string, stmts ...string) *Document {
		t.Helper()
		d, err := Parse(path, []byte(`{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:x:`+path+`", "author": "a", "timestamp": "2026-11-26T00:00:00Z", "version": 1,
"statements": [`+strings.Join(stmts, ",\n")+`]}`))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	na := func(vuln, product, sub string) string {
		s := `{"vulnerability": {"name": "` + vuln + `"}, "products": [{"@id": "` + product + `"`
		if sub != "" {
			s += `, "subcomponents": [{"@id": "` + sub + `"}]`
		}
		return s + `}], "status": "not_affected", "justification": "component_not_present"}`
	}
	fixed := func(vuln, product, sub string) string {
		return strings.Replace(strings.Replace(na(vuln, product, sub), `"not_affected"`, `"fixed"`, 1), `, "justification": "component_not_present"`, ``, 1)
	}
	for _, tc := range []struct {
		name     string
		docs     []*Document
		conflict bool
	}{
		{"same statement twice", []*Document{doc("a", na("CVE-2023-1111", "pkg:nix/zlib", ""), na("CVE-2023-1111", "pkg:nix/zlib", ""))}, false},
		{"same triple, other status", []*Document{doc("a", na("CVE-2023-1111", "pkg:nix/zlib", "")), doc("b", fixed("CVE-2023-1111", "pkg:nix/zlib", ""))}, true},
		{"general and specific purl", []*Document{doc("a", na("CVE-2023-1111", "pkg:nix/zlib", "")), doc("b", fixed("CVE-2023-1111", "pkg:nix/zlib@1.2.13", ""))}, true},
		{"other versions", []*Document{doc("a", na("CVE-2023-1111", "pkg:nix/zlib@1.3", "")), doc("b", fixed("CVE-2023-1111", "pkg:nix/zlib@1.2.13", ""))}, false},
		{"other vulnerability", []*Document{doc("a", na("CVE-2023-1111", "pkg:nix/zlib", ""), fixed("CVE-2023-2222", "pkg:nix/zlib", ""))}, false},
		{"whole image and one subcomponent", []*Document{doc("a", na("CVE-2023-1111", "pkg:oci/python?tag=slim", ""), fixed("CVE-2023-1111", "pkg:oci/python?tag=slim", "pkg:nix/zlib"))}, true},
		{"other subcomponents", []*Document{doc("a", na("CVE-2023-1111", "pkg:oci/python", "pkg:nix/expat"), fixed("CVE-2023-1111", "pkg:oci/python", "pkg:nix/zlib"))}, false},
		{"other tiers", []*Document{doc("a", na("CVE-2023-1111", "pkg:oci/python?tag=slim", "pkg:nix/zlib"), fixed("CVE-2023-1111", "pkg:oci/python?tag=dev", "pkg:nix/zlib"))}, false},
		{"alias", []*Document{doc("a", na("GHSA-j8r2-6x86-q33q", "pkg:pypi/requests", "")), doc("b",
			strings.Replace(fixed("CVE-2023-32681", "pkg:pypi/requests", ""), `"name": "CVE-2023-32681"`, `"name": "CVE-2023-32681", "aliases": ["GHSA-j8r2-6x86-q33q"]`, 1))}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probs := Conflicts(tc.docs)
			if got := len(probs) > 0; got != tc.conflict {
				t.Fatalf("conflict %v, want %v: %v", got, tc.conflict, probs)
			}
			if tc.conflict {
				p := probs[0]
				last := tc.docs[len(tc.docs)-1]
				if p.File != last.Path || p.Statement == nil || !strings.HasSuffix(p.Field, ".status") || !strings.Contains(p.Message, "keep one status") {
					t.Errorf("problem %+v", p)
				}
				if len(tc.docs) > 1 && !strings.Contains(p.Message, tc.docs[0].Path+" statements[0]") {
					t.Errorf("problem does not name the other document: %s", p.Message)
				}
			}
		})
	}
}

func TestUpsertVersionsAndMarshal(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	doc := NewDocument("https://example.com/vex/zlib", "Security <sec@example.com>", "", t0)
	st := openvex.Statement{Vulnerability: openvex.Vulnerability{Name: "CVE-2023-45853"}, Status: openvex.StatusUnderInvestigation,
		Products: []openvex.Product{{Component: openvex.Component{ID: "pkg:nix/zlib"}}}}
	if c, i := Upsert(&doc, st, t0); c != Appended || i != 0 || doc.Version != 2 || doc.ID != "https://example.com/vex/zlib/v2" {
		t.Fatalf("first upsert: %s %d, version %d, @id %s", c, i, doc.Version, doc.ID)
	}
	before, err := Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := Upsert(&doc, st, t0.Add(time.Hour)); c != Unchanged || doc.Version != 2 {
		t.Fatalf("identical statement: %s, version %d", c, doc.Version)
	}
	again, _ := Marshal(&doc)
	if !bytes.Equal(before, again) {
		t.Fatal("an unchanged document marshals differently")
	}
	if bytes.Contains(before, []byte(`\u003c`)) || !bytes.Contains(before, []byte("<sec@example.com>")) || !bytes.HasSuffix(before, []byte("}\n")) {
		t.Errorf("marshalled form:\n%s", before)
	}

	// A new status for the same vulnerability and product replaces the statement.
	st.Status, st.ActionStatement = openvex.StatusAffected, "Upgrade zlib to 1.3.1"
	t1 := time.Date(2026, 11, 27, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	if c, i := Upsert(&doc, st, t1); c != Updated || i != 0 || len(doc.Statements) != 1 || doc.Version != 3 {
		t.Fatalf("update: %s %d, %d statements, version %d", c, i, len(doc.Statements), doc.Version)
	}
	if got := doc.Statements[0].Timestamp; got == nil || got.Location() != time.UTC || !got.Equal(t1) || !doc.LastUpdated.Equal(t1) {
		t.Errorf("timestamps %v %v", got, doc.LastUpdated)
	}
	// Another product is another statement.
	st.Products = []openvex.Product{{Component: openvex.Component{ID: "pkg:nix/zlib@1.2.13"}}}
	if c, i := Upsert(&doc, st, t1); c != Appended || i != 1 || doc.ID != "https://example.com/vex/zlib/v4" {
		t.Fatalf("append: %s %d %s", c, i, doc.ID)
	}

	// What Marshal writes parses back strictly and passes every rule.
	data, err := Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse("zlib.json", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if probs := Check(d, CheckOptions{Now: testNow}); len(probs) != 0 {
		t.Fatalf("%v\n%s", probs, data)
	}
	if _, err := openvex.Parse(data); err != nil {
		t.Fatal(err)
	}
}

func TestWriteFileIsAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vex")
	p := filepath.Join(dir, "a.openvex.json")
	for _, content := range []string{"one\n", "two\n"} {
		if err := WriteFile(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	// A directory in the way: the error leaves nothing behind.
	if err := WriteFile(dir, []byte("x")); err == nil {
		t.Fatal("renaming over a directory succeeded")
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("temporary files left behind after a failure: %v", entries)
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{"CVE-2023-4911": "cve-2023-4911.openvex.json", "RHSA-2023:5455": "rhsa-2023-5455.openvex.json"} {
		if got := FileName(in); got != want {
			t.Errorf("FileName(%s) = %s, want %s", in, got, want)
		}
	}
}
