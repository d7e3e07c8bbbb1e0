package vexdoc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

// testFleet is the repository's fleet file with its directory moved to an
// empty temporary one, where its vex/ is written.
func testFleet(t *testing.T) *fleet.File {
	t.Helper()
	f, err := fleet.Load(filepath.Join(testenv.RepoRoot(t), "clearcutt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f.Dir = t.TempDir()
	return f
}

// writeDoc writes a file, creating its directory.
func writeDoc(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// docWith is a version-1 document @id urn:test:<name> issued at
// 2026-11-26T00:00:00Z holding the statements (JSON objects).
func docWith(name string, stmts ...string) string {
	return "{\n  \"@context\": \"https://openvex.dev/ns/v0.2.0\",\n  \"@id\": \"urn:test:" + name + "\",\n  \"author\": \"a\",\n" +
		"  \"timestamp\": \"2026-11-26T00:00:00Z\",\n  \"version\": 1,\n  \"statements\": [\n    " + strings.Join(stmts, ",\n    ") + "\n  ]\n}\n"
}

// jsonFiles is the *.json files of dir, sorted: the documents a command
// gives Create, Validate and List.
func jsonFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// snapshot is every file of dir and its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func TestCreateRecordsAndVersionsAStatement(t *testing.T) {
	f := testFleet(t)
	vexDir := filepath.Join(f.Dir, "vex")
	file := filepath.Join(vexDir, "cve-2023-40217.openvex.json")
	const base = "https://github.com/clearcutt/clearcutt/vex/cve-2023-40217"
	imageStatement := func(o *CreateOptions) {
		o.Products, o.Subcomponents = []string{"python:dev"}, []string{"pkg:nix/python3"}
		o.Status, o.ActionStatement = "affected", "Do not open TLS sockets from build scripts in the dev image."
		o.Timestamp = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	}
	// The steps run in order on one document.
	for _, step := range []struct {
		name    string
		opts    func(*CreateOptions)
		want    CreateReport
		written bool
	}{
		{"a package statement makes a new document", func(o *CreateOptions) {
			o.Products, o.Status = []string{"pkg:nix/python3"}, "not_affected"
			o.Justification, o.ImpactStatement = "vulnerable_code_not_in_execute_path", "No image calls ssl.SSLSocket.recv before the handshake."
			o.Author, o.Role = "Platform security <sec@example.com>", "Fleet maintainer"
			o.Timestamp = time.Date(2026, 11, 26, 10, 0, 0, 0, time.FixedZone("CET", 3600))
		}, CreateReport{File: file, Change: Created, DocumentID: base + "/v1", Version: 1, Statement: 0,
			Vulnerability: "CVE-2023-40217", Status: "not_affected", Products: []string{"pkg:nix/python3"}}, true},
		{"an image as runtime:tier is appended", imageStatement,
			CreateReport{File: file, Change: Appended, DocumentID: base + "/v2", Version: 2, Statement: 1, Vulnerability: "CVE-2023-40217",
				Status: "affected", Products: []string{"pkg:oci/python?tag=dev"}, Subcomponents: []string{"pkg:nix/python3"}}, true},
		{"the same statement changes nothing", func(o *CreateOptions) {
			imageStatement(o)
			o.Timestamp = o.Timestamp.Add(time.Hour)
		}, CreateReport{File: file, Change: Unchanged, DocumentID: base + "/v2", Version: 2, Statement: 1, Vulnerability: "CVE-2023-40217",
			Status: "affected", Products: []string{"pkg:oci/python?tag=dev"}, Subcomponents: []string{"pkg:nix/python3"}}, false},
		{"a new status replaces the statement", func(o *CreateOptions) {
			o.Products, o.Subcomponents, o.Status = []string{"python:dev"}, []string{"pkg:nix/python3"}, "under_investigation"
			o.Timestamp = time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
		}, CreateReport{File: file, Change: Updated, DocumentID: base + "/v3", Version: 3, Statement: 1, Vulnerability: "CVE-2023-40217",
			Status: "under_investigation", Products: []string{"pkg:oci/python?tag=dev"}, Subcomponents: []string{"pkg:nix/python3"}}, true},
	} {
		before := snapshot(t, vexDir)
		o := CreateOptions{Fleet: f, Documents: jsonFiles(t, vexDir), ID: "CVE-2023-40217", Now: testNow}
		step.opts(&o)
		rep, err := Create(o)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if diff := cmp.Diff(step.want, rep); diff != "" {
			t.Errorf("%s: report (-want +got):\n%s", step.name, diff)
		}
		if !step.written {
			if diff := cmp.Diff(before, snapshot(t, vexDir)); diff != "" {
				t.Errorf("%s: the document was rewritten (-before +after):\n%s", step.name, diff)
			}
			continue
		}
		d, err := Load(file)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if probs := Check(d, CheckOptions{Images: f.Images(), Now: testNow}); len(probs) != 0 {
			t.Errorf("%s: the written document has problems: %v", step.name, probs)
		}
		st := d.VEX.Statements[rep.Statement]
		if d.VEX.ID != rep.DocumentID || d.VEX.Version != rep.Version || st.Timestamp == nil ||
			st.Timestamp.Location() != time.UTC || !st.Timestamp.Equal(o.Timestamp) {
			t.Errorf("%s: document %s version %d, statement timestamp %v", step.name, d.VEX.ID, d.VEX.Version, st.Timestamp)
		}
	}

	// The same statement makes the same bytes in another fleet.
	other := testFleet(t)
	if _, err := Create(CreateOptions{Fleet: other, ID: "CVE-2023-40217", Products: []string{"pkg:nix/python3"}, Status: "not_affected",
		Justification: "vulnerable_code_not_in_execute_path", ImpactStatement: "No image calls ssl.SSLSocket.recv before the handshake.",
		Author: "Platform security <sec@example.com>", Role: "Fleet maintainer", Timestamp: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), Now: testNow}); err != nil {
		t.Fatal(err)
	}
	first := testFleet(t)
	if _, err := Create(CreateOptions{Fleet: first, ID: "CVE-2023-40217", Products: []string{"pkg:nix/python3"}, Status: "not_affected",
		Justification: "vulnerable_code_not_in_execute_path", ImpactStatement: "No image calls ssl.SSLSocket.recv before the handshake.",
		Author: "Platform security <sec@example.com>", Role: "Fleet maintainer", Timestamp: time.Date(2026, 11, 26, 10, 0, 0, 0, time.FixedZone("CET", 3600)), Now: testNow}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(snapshot(t, filepath.Join(first.Dir, "vex")), snapshot(t, filepath.Join(other.Dir, "vex"))); diff != "" {
		t.Errorf("the same statement, other bytes (-first +other):\n%s", diff)
	}
}

func TestCreateDocumentIDWithoutSource(t *testing.T) {
	f := testFleet(t)
	f.Metadata.Source = ""
	rep, err := Create(CreateOptions{Fleet: f, ID: "CVE-2023-45853", Products: []string{"pkg:nix/zlib"}, Status: "fixed", Author: "a",
		File: filepath.Join(f.Dir, "elsewhere", "zlib.openvex.json"), Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if want := "urn:clearcutt:clearcutt-example/vex/zlib/v1"; rep.DocumentID != want {
		t.Errorf("@id %s, want %s", rep.DocumentID, want)
	}
}

func TestCreateRefuses(t *testing.T) {
	const glibc = `{"vulnerability": {"name": "CVE-2023-4911"}, "products": [{"@id": "pkg:nix/glibc"}], "status": "not_affected", "justification": "vulnerable_code_not_present"}`
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, vexDir string)
		opts  func(o *CreateOptions, vexDir string)
		want  error
		msg   string
		// problems, if set, are the statement's Problems errors.As finds.
		problems Problems
	}{
		{name: "lower-case id", opts: func(o *CreateOptions, _ string) { o.ID = "cve-2023-45853" },
			want: ErrInvalid, msg: `--id: "cve-2023-45853": write CVE ids in upper case`},
		{name: "subcomponent not a package URL", opts: func(o *CreateOptions, _ string) { o.Subcomponents = []string{"zlib"} },
			want: ErrInvalid, msg: `--subcomponent: "zlib" is not a package URL`},
		{name: "product neither package URL nor image", opts: func(o *CreateOptions, _ string) { o.Products = []string{"nix/zlib"} },
			want: ErrInvalid, msg: `--product: "nix/zlib" is neither a package URL (pkg:…) nor an image of the fleet (runtime:tier)`},
		{name: "empty package URL version", opts: func(o *CreateOptions, _ string) { o.Products = []string{"pkg:nix/zlib@"} },
			want: ErrInvalid, msg: "--product: \"pkg:nix/zlib@\": empty version after @"},
		{name: "unknown runtime", opts: func(o *CreateOptions, _ string) { o.Products = []string{"ruby:slim"} },
			want: ErrNotInFleet, msg: `--product: "ruby:slim" is not an image of`},
		{name: "tier not built", opts: func(o *CreateOptions, _ string) { o.Products = []string{"static:dev"} },
			want: ErrNotInFleet, msg: `--product: "static:dev" is not an image of`},
		{name: "oci package URL of no image", opts: func(o *CreateOptions, _ string) { o.Products = []string{"pkg:oci/ruby"} },
			want: ErrNotInFleet, msg: "--product: pkg:oci/ruby names no image of the fleet"},
		{name: "oci package URL by version tag", opts: func(o *CreateOptions, _ string) { o.Products = []string{"pkg:oci/python?tag=3.11-dev"} },
			want: ErrInvalid, msg: `--product: "pkg:oci/python?tag=3.11-dev": 3.11-dev is a tag of python:dev, not its tier`},
		{name: "not_affected without justification", opts: func(o *CreateOptions, _ string) { o.Status = "not_affected" },
			want: ErrInvalid, msg: "--justification: not_affected needs a justification",
			problems: Problems{{Field: "justification", Message: "not_affected needs a justification (one of component_not_present, vulnerable_code_not_present, " +
				"vulnerable_code_not_in_execute_path, vulnerable_code_cannot_be_controlled_by_adversary, inline_mitigations_already_exist) or an impact statement"}}},
		{name: "unknown status", opts: func(o *CreateOptions, _ string) { o.Status = "vulnerable" },
			want: ErrInvalid, msg: `--status: "vulnerable" is not an OpenVEX status`},
		{name: "fixed with a justification", opts: func(o *CreateOptions, _ string) { o.Justification = "component_not_present" },
			want: ErrInvalid, msg: "--justification: must not be set when the status is fixed",
			problems: Problems{{Field: "justification", Message: "must not be set when the status is fixed"}}},
		{name: "future timestamp", opts: func(o *CreateOptions, _ string) { o.Timestamp = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC) },
			want: ErrInvalid, msg: "statements[0].timestamp: 2099-01-01T00:00:00Z is in the future"},
		{name: "not a json file", opts: func(o *CreateOptions, vexDir string) { o.File = filepath.Join(vexDir, "zlib.yaml") },
			want: ErrNotJSONFile, msg: "zlib.yaml: clearcutt scan reads only *.json documents"},
		{name: "new document without author", opts: func(o *CreateOptions, _ string) { o.Author = " " },
			want: ErrNoAuthor, msg: "cve-2023-45853.openvex.json is a new document: --author is required"},
		{name: "another author", opts: func(o *CreateOptions, vexDir string) {
			o.File, o.Author = filepath.Join(vexDir, "glibc.json"), "someone else"
		}, want: ErrOtherAuthor, msg: `--author "someone else": ` + "%VEX%/glibc.json is authored by \"a\"; write to another --file"},
		{name: "another role", opts: func(o *CreateOptions, vexDir string) {
			o.File, o.Author, o.Role = filepath.Join(vexDir, "glibc.json"), "", "Auditor"
		}, want: ErrOtherAuthor, msg: `--role "Auditor": ` + "%VEX%/glibc.json gives the role \"\""},
		{name: "another status in another document", opts: func(o *CreateOptions, _ string) {
			o.ID, o.Products, o.Status, o.ActionStatement = "CVE-2023-4911", []string{"pkg:nix/glibc@2.36"}, "affected", "upgrade"
		}, want: ErrInvalid, msg: "%VEX%/glibc.json statements[0]"},
		{name: "malformed target document", setup: func(t *testing.T, vexDir string) {
			writeDoc(t, filepath.Join(vexDir, "zlib.json"), "{\n  \"@context\": \"https://openvex.dev/ns/v0.2.0\",\n  \"statements\": [\n}\n")
		}, opts: func(o *CreateOptions, vexDir string) { o.File = filepath.Join(vexDir, "zlib.json") },
			want: ErrInvalid, msg: "%VEX%/zlib.json:4: not JSON"},
		{name: "malformed other document", setup: func(t *testing.T, vexDir string) {
			writeDoc(t, filepath.Join(vexDir, "broken.json"), "{\n  \"version\": 1,,\n}\n")
		}, want: ErrInvalid, msg: "%VEX%/broken.json:2: not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testFleet(t)
			vexDir := filepath.Join(f.Dir, "vex")
			writeDoc(t, filepath.Join(vexDir, "glibc.json"), docWith("glibc", glibc))
			if tc.setup != nil {
				tc.setup(t, vexDir)
			}
			before := snapshot(t, vexDir)
			o := CreateOptions{Fleet: f, Documents: jsonFiles(t, vexDir), ID: "CVE-2023-45853", Products: []string{"pkg:nix/zlib"},
				Status: "fixed", Author: "a", Now: testNow}
			if tc.opts != nil {
				tc.opts(&o, vexDir)
			}
			_, err := Create(o)
			if !errors.Is(err, tc.want) || !outcome.IsUsage(err) {
				t.Fatalf("error %v: want a usage error matching %v", err, tc.want)
			}
			if msg := strings.ReplaceAll(tc.msg, "%VEX%", vexDir); !strings.Contains(err.Error(), msg) {
				t.Errorf("error %q does not say %q", err, msg)
			}
			if tc.problems != nil {
				var probs Problems
				if !errors.As(err, &probs) {
					t.Fatalf("%v holds no Problems", err)
				}
				if diff := cmp.Diff(tc.problems, probs); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(before, snapshot(t, vexDir)); diff != "" {
				t.Errorf("a refused statement changed vex/ (-before +after):\n%s", diff)
			}
		})
	}
}
