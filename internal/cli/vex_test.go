package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/testenv"
	"github.com/clearcutt/clearcutt/internal/verify"
	"github.com/clearcutt/clearcutt/internal/vexdoc"
)

// vexFleet copies the example fleet file into a temporary directory and
// returns the file; with withRepoVEX the repository's vex/ documents are
// copied next to it.
func vexFleet(t *testing.T, withRepoVEX bool) string {
	t.Helper()
	repo := testenv.RepoRoot(t)
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(repo, "clearcutt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "clearcutt.yaml"), string(data))
	if withRepoVEX {
		docs, _ := filepath.Glob(filepath.Join(repo, "vex", "*.json"))
		if len(docs) == 0 {
			t.Fatal("the repository has no vex/*.json")
		}
		for _, d := range docs {
			b, err := os.ReadFile(d)
			if err != nil {
				t.Fatal(err)
			}
			writeDoc(t, filepath.Join(dir, "vex", filepath.Base(d)), string(b))
		}
	}
	return filepath.Join(dir, "clearcutt.yaml")
}

// writeDoc writes a file, creating its directory.
func writeDoc(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, s)
}

func vexJSON[T any](t *testing.T, wantCode int, args ...string) T {
	t.Helper()
	code, out, errs := run(t, append(args, "--json")...)
	if code != wantCode {
		t.Fatalf("%v: exit %d, want %d\nstderr: %s\nstdout: %s", args, code, wantCode, errs, out)
	}
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v --json: %v\n%s", args, err, out)
	}
	return v
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVEXRepositoryDocumentsValidate(t *testing.T) {
	rep := vexJSON[vexdoc.ValidateReport](t, ExitOK, "-f", filepath.Join(testenv.RepoRoot(t), "clearcutt.yaml"), "vex", "validate")
	if !rep.Passed || len(rep.Documents) == 0 || rep.Statements == 0 || len(rep.Problems) != 0 {
		t.Fatalf("the repository's vex/ does not validate: %+v", rep)
	}
}

func TestVEXCreateValidateListRoundTrip(t *testing.T) {
	fleetFile := vexFleet(t, true)
	dir := filepath.Dir(fleetFile)
	doc := filepath.Join(dir, "vex", "cve-2023-40217.openvex.json")
	create := func(want int, extra ...string) vexdoc.CreateReport {
		t.Helper()
		return vexJSON[vexdoc.CreateReport](t, want, append([]string{"-f", fleetFile, "vex", "create", "--id", "CVE-2023-40217"}, extra...)...)
	}

	// A package statement makes a new document, its timestamps in UTC.
	rep := create(ExitOK, "--product", "pkg:nix/python3", "--status", "not_affected", "--justification", "vulnerable_code_not_in_execute_path",
		"--impact-statement", "No image calls ssl.SSLSocket.recv before the handshake.", "--author", "Platform security <sec@example.com>",
		"--role", "Fleet maintainer", "--timestamp", "2026-11-26T10:00:00+01:00")
	if rep.Change != "created" || rep.File != doc || rep.Version != 1 || rep.Statement != 0 ||
		rep.DocumentID != "https://github.com/clearcutt/clearcutt/vex/cve-2023-40217/v1" {
		t.Fatalf("create: %+v", rep)
	}
	first := readString(t, doc)
	for _, want := range []string{`"timestamp": "2026-11-26T09:00:00Z"`, `"author": "Platform security <sec@example.com>"`, `"role": "Fleet maintainer"`, `"@id": "pkg:nix/python3"`} {
		if !strings.Contains(first, want) {
			t.Errorf("document lacks %s:\n%s", want, first)
		}
	}
	// The same input writes the same bytes in another fleet: deterministic.
	other := vexFleet(t, false)
	vexJSON[vexdoc.CreateReport](t, ExitOK, "-f", other, "vex", "create", "--id", "CVE-2023-40217", "--product", "pkg:nix/python3", "--status", "not_affected",
		"--justification", "vulnerable_code_not_in_execute_path", "--impact-statement", "No image calls ssl.SSLSocket.recv before the handshake.",
		"--author", "Platform security <sec@example.com>", "--role", "Fleet maintainer", "--timestamp", "2026-11-26T09:00:00Z")
	if got := readString(t, filepath.Join(filepath.Dir(other), "vex", "cve-2023-40217.openvex.json")); got != first {
		t.Errorf("same statement, different bytes:\n%s\n---\n%s", first, got)
	}

	// An image of the fleet as runtime:tier: appended, version and @id bumped.
	imageArgs := []string{"--product", "python:dev", "--subcomponent", "pkg:nix/python3", "--status", "affected",
		"--action-statement", "Do not open TLS sockets from build scripts in the dev image.", "--timestamp", "2026-11-27T08:00:00Z"}
	rep = create(ExitOK, imageArgs...)
	if rep.Change != "appended" || rep.Version != 2 || rep.Statement != 1 || !slices.Equal(rep.Products, []string{"pkg:oci/python?tag=dev"}) ||
		!strings.HasSuffix(rep.DocumentID, "/vex/cve-2023-40217/v2") {
		t.Fatalf("append: %+v", rep)
	}
	second := readString(t, doc)
	if !strings.Contains(second, `"last_updated": "2026-11-27T08:00:00Z"`) {
		t.Errorf("no last_updated:\n%s", second)
	}
	// The same statement again changes nothing.
	if rep = create(ExitOK, imageArgs...); rep.Change != "unchanged" || rep.Version != 2 {
		t.Fatalf("repeat: %+v", rep)
	}
	if readString(t, doc) != second {
		t.Fatal("an unchanged statement rewrote the document")
	}
	// A new status for the same vulnerability, product and subcomponent
	// replaces the statement (a second status would conflict).
	rep = create(ExitOK, "--product", "python:dev", "--subcomponent", "pkg:nix/python3", "--status", "under_investigation", "--timestamp", "2026-11-28T08:00:00Z")
	if rep.Change != "updated" || rep.Version != 3 || rep.Statement != 1 {
		t.Fatalf("update: %+v", rep)
	}

	val := vexJSON[vexdoc.ValidateReport](t, ExitOK, "-f", fleetFile, "vex", "validate")
	if !val.Passed || len(val.Documents) != 2 || val.Statements != 3 {
		t.Fatalf("validate: %+v", val)
	}

	code, out, errs := run(t, "-f", fleetFile, "vex", "list")
	if code != ExitOK {
		t.Fatalf("list: exit %d: %s", code, errs)
	}
	for _, want := range []string{"VULNERABILITY", "STATUS", "JUSTIFICATION", "PRODUCTS", "SUBCOMPONENTS", "FILE", "TIMESTAMP",
		"under_investigation", "pkg:oci/python?tag=dev", "vulnerable_code_not_in_execute_path", "CVE-2023-4911", doc, "2026-11-28T08:00:00Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
	type row struct{ vuln, status, file string }
	rows := func(args ...string) []row {
		t.Helper()
		l := vexJSON[vexdoc.ListReport](t, ExitOK, append([]string{"-f", fleetFile, "vex", "list"}, args...)...)
		var out []row
		for _, s := range l.Statements {
			out = append(out, row{s.Vulnerability, s.Status, filepath.Base(s.File)})
		}
		return out
	}
	all := rows()
	if len(all) != 3 {
		t.Fatalf("list: %v", all)
	}
	// python:slim: the package statements, not the one about python:dev.
	if got := rows("--image", "python:slim"); !slices.Equal(got, []row{
		{"CVE-2023-40217", "not_affected", "cve-2023-40217.openvex.json"}, {"CVE-2023-4911", "not_affected", "glibc-cve-2023-4911.openvex.json"}}) {
		t.Errorf("--image python:slim: %v", got)
	}
	if got := rows("--image", "python:dev"); len(got) != 3 {
		t.Errorf("--image python:dev: %v", got)
	}
	if got := rows("--vuln", "CVE-2023-4911"); !slices.Equal(got, []row{{"CVE-2023-4911", "not_affected", "glibc-cve-2023-4911.openvex.json"}}) {
		t.Errorf("--vuln: %v", got)
	}
	if code, _, errs := run(t, "-f", fleetFile, "vex", "list", "--image", "ruby:slim"); code != ExitUsage || !strings.Contains(errs, `"ruby:slim" is not an image`) {
		t.Errorf("--image ruby:slim: exit %d: %s", code, errs)
	}
}

func TestVEXCreateRejectsBadInput(t *testing.T) {
	base := []string{"vex", "create", "--id", "CVE-2023-45853", "--author", "a"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing justification", []string{"--product", "pkg:nix/zlib", "--status", "not_affected"}, "--justification: not_affected needs a justification"},
		{"unknown justification", []string{"--product", "pkg:nix/zlib", "--status", "not_affected", "--justification", "minizip_not_built"}, `"minizip_not_built" is not an OpenVEX justification`},
		{"unknown status", []string{"--product", "pkg:nix/zlib", "--status", "vulnerable"}, `--status: "vulnerable" is not an OpenVEX status`},
		{"affected without action", []string{"--product", "pkg:nix/zlib", "--status", "affected"}, "--action-statement: affected needs an action statement"},
		{"fixed with justification", []string{"--product", "pkg:nix/zlib", "--status", "fixed", "--justification", "component_not_present"}, "--justification: must not be set when the status is fixed"},
		{"bad product purl", []string{"--product", "nix/zlib", "--status", "fixed"}, `--product: "nix/zlib" is neither a package URL`},
		{"empty purl version", []string{"--product", "pkg:nix/zlib@", "--status", "fixed"}, "empty version after @"},
		{"bad subcomponent", []string{"--product", "python:slim", "--subcomponent", "zlib", "--status", "fixed"}, `--subcomponent: "zlib" is not a package URL`},
		{"unknown image", []string{"--product", "ruby:slim", "--status", "fixed"}, `"ruby:slim" is not an image of`},
		{"tier not built", []string{"--product", "static:dev", "--status", "fixed"}, `"static:dev" is not an image of`},
		{"oci purl of no image", []string{"--product", "pkg:oci/ruby", "--status", "fixed"}, "pkg:oci/ruby names no image of the fleet"},
		{"oci purl by version tag", []string{"--product", "pkg:oci/python?tag=3.11-dev", "--status", "fixed"}, "--product: \"pkg:oci/python?tag=3.11-dev\": 3.11-dev is a tag of python:dev, not its tier"},
		{"lower-case id", []string{"--id", "cve-2023-45853", "--product", "pkg:nix/zlib", "--status", "fixed"}, "--id: \"cve-2023-45853\": write CVE ids in upper case"},
		{"bad timestamp", []string{"--product", "pkg:nix/zlib", "--status", "fixed", "--timestamp", "yesterday"}, "--timestamp"},
		{"future timestamp", []string{"--product", "pkg:nix/zlib", "--status", "fixed", "--timestamp", "2099-01-01T00:00:00Z"},
			"statements[0].timestamp: 2099-01-01T00:00:00Z is in the future"},
		{"not a json file", []string{"--product", "pkg:nix/zlib", "--status", "fixed", "--file", "vex/zlib.yaml"}, "reads only *.json"},
		{"missing status flag", []string{"--product", "pkg:nix/zlib"}, `required flag(s) "status"`},
		{"conflicting status", []string{"--id", "CVE-2023-4911", "--product", "pkg:nix/glibc", "--status", "affected", "--action-statement", "upgrade"},
			"glibc-cve-2023-4911.openvex.json statements[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fleetFile := vexFleet(t, true)
			vexDir := filepath.Join(filepath.Dir(fleetFile), "vex")
			code, _, errs := run(t, append(append([]string{"-f", fleetFile}, base...), tc.args...)...)
			if code != ExitUsage || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", code, ExitUsage, tc.want, errs)
			}
			if entries, _ := os.ReadDir(vexDir); len(entries) != 1 {
				t.Errorf("a rejected statement left files: %v", entries)
			}
		})
	}

	t.Run("new document without author", func(t *testing.T) {
		fleetFile := vexFleet(t, false)
		code, _, errs := run(t, "-f", fleetFile, "vex", "create", "--id", "CVE-2023-45853", "--product", "pkg:nix/zlib", "--status", "fixed")
		if code != ExitUsage || !strings.Contains(errs, "--author is required") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
	t.Run("malformed target document", func(t *testing.T) {
		fleetFile := vexFleet(t, false)
		target := filepath.Join(filepath.Dir(fleetFile), "vex", "zlib.json")
		writeDoc(t, target, "{\n  \"@context\": \"https://openvex.dev/ns/v0.2.0\",\n  \"statements\": [\n}\n")
		code, _, errs := run(t, "-f", fleetFile, "vex", "create", "--id", "CVE-2023-45853", "--product", "pkg:nix/zlib", "--status", "fixed", "--file", target)
		if code != ExitUsage || !strings.Contains(errs, target+":4: not JSON") {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if got := readString(t, target); !strings.HasSuffix(got, "[\n}\n") {
			t.Errorf("the malformed document was rewritten: %s", got)
		}
	})
	t.Run("other author", func(t *testing.T) {
		fleetFile := vexFleet(t, true)
		target := filepath.Join(filepath.Dir(fleetFile), "vex", "glibc-cve-2023-4911.openvex.json")
		before := readString(t, target)
		code, _, errs := run(t, "-f", fleetFile, "vex", "create", "--id", "CVE-2010-4756", "--product", "pkg:nix/glibc", "--status", "fixed",
			"--file", target, "--author", "someone else")
		if code != ExitUsage || !strings.Contains(errs, "is authored by") || readString(t, target) != before {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
}

func TestVEXValidateReportsEveryProblem(t *testing.T) {
	fleetFile := vexFleet(t, false)
	vexDir := filepath.Join(filepath.Dir(fleetFile), "vex")
	doc := func(stmts ...string) string {
		return "{\n  \"@context\": \"https://openvex.dev/ns/v0.2.0\",\n  \"@id\": \"urn:test:doc\",\n  \"author\": \"a\",\n" +
			"  \"timestamp\": \"2026-11-26T00:00:00Z\",\n  \"version\": 1,\n  \"statements\": [\n    " + strings.Join(stmts, ",\n    ") + "\n  ]\n}\n"
	}
	writeDoc(t, filepath.Join(vexDir, "a-malformed.json"), "{\n  \"@context\": \"https://openvex.dev/ns/v0.2.0\",\n  \"version\": 1,,\n}\n")
	writeDoc(t, filepath.Join(vexDir, "b-rules.json"), doc(
		`{"vulnerability": {"name": "CVE-2023-45853"}, "products": [{"@id": "pkg:nix/zlib"}], "status": "not_affected"}`,
		`{"vulnerability": {"name": "CVE-2023-45853"}, "products": [{"@id": "pkg:oci/ruby?tag=slim"}], "status": "fixed"}`,
		`{"vulnerability": {"name": "CVE-2023-45853"}, "products": [{"@id": "zlib"}], "status": "fixed"}`))
	writeDoc(t, filepath.Join(vexDir, "c-unknown-field.json"), doc(
		`{"vulnerability": {"name": "CVE-2023-45853"}, "products": [{"@id": "pkg:nix/zlib"}], "status": "fixed", "justfication": "x"}`))
	writeDoc(t, filepath.Join(vexDir, "d-first.json"), doc(
		`{"vulnerability": {"name": "CVE-2023-52426"}, "products": [{"@id": "pkg:nix/expat"}], "status": "not_affected", "justification": "vulnerable_code_not_present"}`))
	writeDoc(t, filepath.Join(vexDir, "e-second.json"), doc(
		`{"vulnerability": {"name": "CVE-2023-52426"}, "products": [{"@id": "pkg:nix/expat@2.5.0"}], "status": "affected", "action_statement": "upgrade"}`))
	writeDoc(t, filepath.Join(vexDir, "notes.md"), "not a document")

	rep := vexJSON[vexdoc.ValidateReport](t, ExitFailed, "-f", fleetFile, "vex", "validate")
	if rep.Passed || len(rep.Documents) != 5 {
		t.Fatalf("validate: %+v", rep)
	}
	want := []struct{ file, field, msg string }{
		{"a-malformed.json", "", "not JSON"},
		{"b-rules.json", "statements[0].justification", "not_affected needs a justification"},
		{"b-rules.json", "statements[1].products[0].@id", `"pkg:oci/ruby?tag=slim" names no image of the fleet`},
		{"b-rules.json", "statements[2].products[0].@id", "is not a package URL"},
		{"c-unknown-field.json", "statements[0]", `unknown field "justfication"`},
		{"e-second.json", "statements[0].status", "d-first.json statements[0]"},
	}
	if len(rep.Problems) != len(want) {
		t.Errorf("%d problems, want %d: %v", len(rep.Problems), len(want), rep.Problems)
	}
	for _, w := range want {
		found := false
		for _, p := range rep.Problems {
			if filepath.Base(p.File) == w.file && p.Field == w.field && strings.Contains(p.Message, w.msg) && p.Line > 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem in %s at %q (with a line) saying %q: %v", w.file, w.field, w.msg, rep.Problems)
		}
	}

	code, out, _ := run(t, "-f", fleetFile, "vex", "validate")
	out = strings.Join(strings.Fields(out), " ") // a long problem is wrapped
	if code != ExitFailed || !strings.Contains(out, "INVALID "+filepath.Join(vexDir, "a-malformed.json")+":3: not JSON") ||
		!strings.Contains(out, "INVALID "+filepath.Join(vexDir, "b-rules.json")+":8: statements[0].justification") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	// A path given: only that document.
	if code, out, errs := run(t, "-f", fleetFile, "vex", "validate", filepath.Join(vexDir, "d-first.json")); code != ExitOK {
		t.Errorf("one valid document: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := run(t, "-f", fleetFile, "vex", "validate", filepath.Join(vexDir, "missing.json")); code != ExitUsage || !strings.Contains(errs, "missing.json") {
		t.Errorf("missing path: exit %d: %s", code, errs)
	}
	// list refuses what it cannot read, naming the file.
	if code, _, errs := run(t, "-f", fleetFile, "vex", "list"); code != ExitUsage || !strings.Contains(errs, "a-malformed.json:3: not JSON") {
		t.Errorf("list: exit %d: %s", code, errs)
	}
}

// A document or statement dated later than now (beyond the clock skew)
// is a problem naming file:line, the field and the time.
func TestVEXValidateRefusesFutureTimestamps(t *testing.T) {
	fleetFile := vexFleet(t, true)
	vexDir := filepath.Join(filepath.Dir(fleetFile), "vex")
	file := filepath.Join(vexDir, "future.json")
	writeDoc(t, file, `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "urn:test:future",
  "author": "a",
  "timestamp": "2099-01-01T00:00:00Z",
  "last_updated": "2099-01-02T00:00:00Z",
  "version": 1,
  "statements": [
    {"vulnerability": {"name": "CVE-2023-45853"}, "products": [{"@id": "pkg:nix/zlib"}], "status": "fixed"},
    {"vulnerability": {"name": "CVE-2023-52426"}, "products": [{"@id": "pkg:nix/expat"}], "status": "fixed",
     "timestamp": "2098-01-01T00:00:00Z", "last_updated": "2098-01-02T00:00:00Z"}
  ]
}
`)
	rep := vexJSON[vexdoc.ValidateReport](t, ExitFailed, "-f", fleetFile, "vex", "validate")
	want := []string{
		file + ":5: timestamp: 2099-01-01T00:00:00Z is in the future",
		file + ":6: last_updated: 2099-01-02T00:00:00Z is in the future",
		file + ":10: statements[1].timestamp: 2098-01-01T00:00:00Z is in the future",
		file + ":10: statements[1].last_updated: 2098-01-02T00:00:00Z is in the future",
	}
	if len(rep.Problems) != len(want) {
		t.Errorf("%d problems, want %d: %v", len(rep.Problems), len(want), rep.Problems)
	}
	code, out, _ := run(t, "-f", fleetFile, "vex", "validate")
	out = strings.Join(strings.Fields(out), " ") // a long problem is wrapped
	for _, w := range want {
		if !strings.Contains(out, "INVALID "+w) {
			t.Errorf("no %q in:\n%s", w, out)
		}
	}
	if code != ExitFailed {
		t.Errorf("exit %d", code)
	}
}

// TestVEXPublishedDocumentSuppressesInGrype records a statement with vex
// create, runs the real pipeline on the fixture fleet (key mode, into an
// OCI layout), takes the predicate of the verified OpenVEX attestation and
// gives it to the real grype CLI with the image's SBOM: the vulnerabilities
// the statements cover move to grype's ignored matches, and nothing else.
func TestVEXPublishedDocumentSuppressesInGrype(t *testing.T) {
	repo := needPipelineTools(t)
	grype := testenv.Need(t, "grype", "scripts/install-tools.sh")
	fleetFile := filepath.Join(repo, "clearcutt.yaml")
	tmp := t.TempDir()
	vexDir := filepath.Join(tmp, "vex")
	for _, d := range []string{"glibc-cve-2023-4911.openvex.json"} {
		writeDoc(t, filepath.Join(vexDir, d), readString(t, filepath.Join(repo, "vex", d)))
	}
	created := vexJSON[vexdoc.CreateReport](t, ExitOK, "-f", fleetFile, "vex", "create", "--file", filepath.Join(vexDir, "python3.json"),
		"--id", "CVE-2023-40217", "--product", "pkg:nix/python3", "--status", "not_affected",
		"--justification", "vulnerable_code_not_in_execute_path", "--author", "test")
	if created.Change != "created" {
		t.Fatalf("create: %+v", created)
	}

	db := testDB(t, repo)
	pub := filepath.Join(tmp, "published")
	rep := pipelineJSON(t, ExitOK, "-f", fleetFile, "pipeline", "--nixpkgs", filepath.Join(repo, "nix/fixtures"), "--db", db,
		"--work", filepath.Join(tmp, "work"), "--cache", filepath.Join(tmp, "cache"), "--only", "python:distroless", "--no-smoke",
		"--vex-dir", vexDir, "--to", "oci:"+pub)
	if len(rep.Images) != 1 || !rep.Verified {
		t.Fatalf("pipeline: %+v", rep)
	}

	f, err := fleet.Load(fleetFile)
	if err != nil {
		t.Fatal(err)
	}
	g := &globals{stdout: io.Discard, stderr: io.Discard}
	key := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "clearcutt", "signing.key.pub")
	vrep, err := runVerify(context.Background(), g, f, "oci:"+pub+"@"+rep.Images[0].Digest, verifyFlags{key: key, maxScanAge: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var entry *verify.Entry
	for i, e := range vrep.Channel(verify.ChannelVEX).Entries {
		if e.Arch == "linux/amd64" && e.Status == verify.StatusVerified {
			entry = &vrep.Channel(verify.ChannelVEX).Entries[i]
		}
	}
	if entry == nil || len(entry.Predicate) == 0 {
		t.Fatalf("no verified OpenVEX attestation for linux/amd64: %+v", vrep.Channel(verify.ChannelVEX))
	}
	// The verified predicate passes vexdoc.CheckAttested for its own
	// platform image and fails for another digest.
	var published openvex.VEX
	if err := json.Unmarshal(entry.Predicate, &published); err != nil {
		t.Fatal(err)
	}
	if err := vexdoc.CheckAttested(&published, vexdoc.AttestedImage{Name: "python", Digest: entry.Digest}, time.Now()); err != nil {
		t.Errorf("the published OpenVEX document fails for its own image %s: %v", entry.Digest, err)
	}
	if err := vexdoc.CheckAttested(&published, vexdoc.AttestedImage{Name: "python", Digest: "sha256:" + strings.Repeat("0", 64)}, time.Now()); err == nil {
		t.Error("the published OpenVEX document passes for another digest")
	}
	vexFile := filepath.Join(tmp, "published.openvex.json")
	writeFile(t, vexFile, string(entry.Predicate))
	// The published document passes the rules vex validate applies.
	if code, out, errs := run(t, "-f", fleetFile, "vex", "validate", vexFile); code != ExitOK {
		t.Fatalf("the published OpenVEX document does not validate:\n%s%s\n%s", out, errs, entry.Predicate)
	}

	home := filepath.Join(tmp, "home")
	env := testenv.CleanEnv(
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"GRYPE_DB_CACHE_DIR="+filepath.Join(tmp, "grype-db"),
		"GRYPE_DB_AUTO_UPDATE=false",
		"GRYPE_DB_VALIDATE_AGE=false",
		"GRYPE_DB_REQUIRE_UPDATE_CHECK=false",
		"GRYPE_CHECK_FOR_APP_UPDATE=false",
	)
	grypeRun := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(grype, args...)
		cmd.Env, cmd.Dir = env, tmp
		var out, errs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errs
		if err := cmd.Run(); err != nil {
			t.Fatalf("grype %v: %v\n%s", args, err, errs.String())
		}
		return out.Bytes()
	}
	grypeRun("db", "import", filepath.Join(db, "vulnerability.db"))
	type match struct {
		Vulnerability struct{ ID string } `json:"vulnerability"`
		Rules         []struct {
			Namespace string `json:"namespace"`
			Status    string `json:"vex-status"`
		} `json:"appliedIgnoreRules"`
	}
	scanSBOM := func(extra ...string) (active, ignored map[string][]match) {
		t.Helper()
		sbom := filepath.Join(tmp, "work", "evidence", strings.Replace(entry.Digest, ":", "-", 1), "sbom.spdx.json")
		var r struct {
			Matches []match `json:"matches"`
			Ignored []match `json:"ignoredMatches"`
		}
		out := grypeRun(append([]string{"sbom:" + sbom, "-o", "json"}, extra...)...)
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("grype -o json: %v", err)
		}
		active, ignored = map[string][]match{}, map[string][]match{}
		for _, m := range r.Matches {
			active[m.Vulnerability.ID] = append(active[m.Vulnerability.ID], m)
		}
		for _, m := range r.Ignored {
			ignored[m.Vulnerability.ID] = append(ignored[m.Vulnerability.ID], m)
		}
		return active, ignored
	}
	before, _ := scanSBOM()
	after, ignored := scanSBOM("--vex", vexFile)
	for _, id := range []string{"CVE-2023-40217", "CVE-2023-4911"} {
		if len(before[id]) == 0 {
			t.Errorf("grype does not find %s without the VEX document: the check proves nothing", id)
		}
		if len(after[id]) != 0 || len(ignored[id]) == 0 {
			t.Errorf("%s with the published VEX: %d active, %d ignored matches", id, len(after[id]), len(ignored[id]))
		}
		for _, m := range ignored[id] {
			if len(m.Rules) == 0 || m.Rules[0].Namespace != "vex" || m.Rules[0].Status != "not_affected" {
				t.Errorf("%s ignored by %+v, want the VEX not_affected rule", id, m.Rules)
			}
		}
	}
	// Only what the statements cover is suppressed.
	for id := range before {
		if id != "CVE-2023-40217" && id != "CVE-2023-4911" && len(after[id]) == 0 {
			t.Errorf("%s is no longer active with the published VEX", id)
		}
	}
}
