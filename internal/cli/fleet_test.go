package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

// TestFleetValidateNamesTheProblem: `fleet validate` refuses, as a usage
// error naming the file (and line, column and field where there is one),
// a fleet file that is empty, not UTF-8, too large, asks for root or puts
// a pattern character in the identity; admission refuses the same file
// before generating anything.
func TestFleetValidateNamesTheProblem(t *testing.T) {
	example, err := os.ReadFile("../../clearcutt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) []byte {
		if !strings.Contains(string(example), old) {
			t.Fatalf("clearcutt.yaml lacks %q", old)
		}
		return []byte(strings.Replace(string(example), old, new, 1))
	}
	// lineOf is the line of clearcutt.yaml that holds s.
	lineOf := func(s string) int {
		return strings.Count(string(example)[:strings.Index(string(example), s)], "\n") + 1
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty.yaml: the file is empty (0 bytes)"},
		{"not-utf8", append([]byte("# caf\xe9\n"), example...), "not-utf8.yaml:1:6: byte 0xe9 is not UTF-8"},
		{"too-large", append(append([]byte{}, example...), []byte("#"+strings.Repeat("x", 1<<20))...), "too-large.yaml: the file is "},
		{"root", replace("user: {name: nonroot, uid: 65532, gid: 65532}", "user: {name: nonroot, uid: 0, gid: 65532}"),
			fmt.Sprintf("root.yaml:%d:30: build.user.uid: is 0, the root user", lineOf("user: {name: nonroot, uid: 65532, gid: 65532}"))},
		{"branch-wildcard", replace("ref: refs/heads/main", `ref: "refs/heads/*"`),
			fmt.Sprintf(`branch-wildcard.yaml:%d:8: identity.ref: holds "*"`, lineOf("ref: refs/heads/main"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".yaml")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range [][]string{{"fleet", "validate"}, {"admission"}} {
				code, out, errs := run(t, append([]string{"-f", path}, cmd...)...)
				if code != ExitUsage || !strings.Contains(errs, filepath.Join(dir, c.want)) {
					t.Errorf("%v: exit %d (%s), want %d with %q", cmd, code, errs, ExitUsage, c.want)
				}
				if out != "" {
					t.Errorf("%v printed %q", cmd, out)
				}
			}
		})
	}
}

// TestFleetValidateJSON: `fleet validate --json` reports a valid file with
// its counts and an invalid one with every problem at its file, line,
// column and field, keeping the exit status of the text form.
func TestFleetValidateJSON(t *testing.T) {
	decode := func(out string) validateReport {
		t.Helper()
		var rep validateReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("report %q: %v", out, err)
		}
		return rep
	}
	code, out, errs := run(t, "-f", "../../clearcutt.yaml", "fleet", "validate", "--json")
	if code != ExitOK {
		t.Fatalf("valid file: exit %d: %s", code, errs)
	}
	if rep := decode(out); !rep.Valid || rep.Images == 0 || rep.Builds < rep.Images || len(rep.Problems) != 0 || !strings.Contains(out, `"problems": []`) {
		t.Errorf("valid file: %s", out)
	}

	path := filepath.Join(t.TempDir(), "clearcutt.yaml")
	writeFile(t, path, "apiVersion: clearcutt.dev/v1alpha1\nkind: Fleet\nmetdata: {}\nregistri: {}\n")
	code, out, errs = run(t, "-f", path, "fleet", "validate", "--json")
	if code != ExitUsage || !strings.Contains(errs, path+":3:1: metdata: unknown field") {
		t.Fatalf("invalid file: exit %d, want %d: %s", code, ExitUsage, errs)
	}
	rep := decode(out)
	if rep.Valid || rep.File != path || len(rep.Problems) < 2 {
		t.Fatalf("invalid file: %s", out)
	}
	for _, w := range []validateProblem{{File: path, Line: 3, Column: 1, Field: "metdata"}, {File: path, Line: 4, Column: 1, Field: "registri"}} {
		found := false
		for _, p := range rep.Problems {
			if p.Field == w.Field {
				found = true
				if p.File != w.File || p.Line != w.Line || p.Column != w.Column || !strings.Contains(p.Message, "unknown field") {
					t.Errorf("problem %+v, want %+v with an unknown-field message", p, w)
				}
			}
		}
		if !found {
			t.Errorf("no problem at %s: %s", w.Field, out)
		}
	}

	// A file that cannot be read is one problem of the file, without a position.
	missing := filepath.Join(t.TempDir(), "absent.yaml")
	code, out, _ = run(t, "-f", missing, "fleet", "validate", "--json")
	if rep := decode(out); code != ExitUsage || rep.Valid || len(rep.Problems) != 1 || rep.Problems[0].File != missing || rep.Problems[0].Line != 0 {
		t.Errorf("missing file: exit %d, %s", code, out)
	}
}

// TestFleetValidatePackages: validation is offline and passes a runtime
// attribute the package set lacks; fleet validate --packages evaluates the
// package set (here nix/fixtures replacing nixpkgs) and refuses it at its
// field of the fleet file, before any build. --nixpkgs alone is a usage
// error.
func TestFleetValidatePackages(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.Need(t, "nix", "apt-get install nix-bin")
	repo := testenv.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(repo, "nix/fixtures/vendor")); err != nil {
		if testenv.Required() {
			t.Fatal("nix/fixtures/vendor is missing: run scripts/nix-fixtures.sh (scripts/test.sh does)")
		}
		t.Skip("nix/fixtures/vendor is missing: run scripts/nix-fixtures.sh")
	}
	t.Setenv("NIX_CONFIG", testenv.NixConfig(t))
	example, err := os.ReadFile(filepath.Join(repo, "clearcutt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const old = "nix: {attribute: tzdata}"
	i := strings.Index(string(example), old)
	if i < 0 {
		t.Fatalf("clearcutt.yaml lacks %q", old)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "nix"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := closure.StageFlake(filepath.Join(repo, "nix"), filepath.Join(dir, "nix")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "clearcutt.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(string(example), old, "nix: {attribute: tzdata-missing}", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	fixtures := filepath.Join(repo, "nix/fixtures")

	if code, _, errs := run(t, "-f", path, "fleet", "validate"); code != ExitOK {
		t.Fatalf("offline validation: exit %d: %s", code, errs)
	}
	code, out, errs := run(t, "-f", path, "fleet", "validate", "--packages", "--nixpkgs", fixtures)
	want := fmt.Sprintf(`%s:%d:22: runtimes[3].nix.attribute: the package set (path:%s replacing nixpkgs) has no attribute "tzdata-missing" on x86_64-linux, aarch64-linux`,
		path, strings.Count(string(example[:i]), "\n")+1, fixtures)
	if code != ExitUsage || errs != want || out != "" {
		t.Errorf("--packages: exit %d, stdout %q, stderr %q; want %d and %q", code, out, errs, ExitUsage, want)
	}
	if code, _, errs := run(t, "-f", filepath.Join(repo, "clearcutt.yaml"), "fleet", "validate", "--packages", "--nixpkgs", fixtures); code != ExitOK {
		t.Errorf("--packages, the example fleet: exit %d: %s", code, errs)
	}
	if code, _, errs := run(t, "-f", path, "fleet", "validate", "--nixpkgs", fixtures); code != ExitUsage || !strings.Contains(errs, "needs --packages") {
		t.Errorf("--nixpkgs alone: exit %d: %s", code, errs)
	}
}

// TestFleetValidateWarnsOfUpstreamDecisions: in a fork (identity.repository
// not clearcutt/clearcutt) that kept upstream's exceptions.yaml and vex/,
// fleet validate warns on stderr and in the --json report of each upstream
// exception owner and VEX author, and still exits 0; --strict exits 1.
func TestFleetValidateWarnsOfUpstreamDecisions(t *testing.T) {
	dir := t.TempDir()
	example, err := os.ReadFile("../../clearcutt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fork := strings.Replace(string(example), "repository: clearcutt/clearcutt", "repository: acme/base-images", 1)
	path := filepath.Join(dir, "clearcutt.yaml")
	writeFile(t, path, fork)
	exc, err := os.ReadFile("../../exceptions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "exceptions.yaml"), string(exc))
	if err := os.Mkdir(filepath.Join(dir, "vex"), 0o755); err != nil {
		t.Fatal(err)
	}
	vex, err := os.ReadFile("../../vex/glibc-cve-2023-4911.openvex.json")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "vex", "glibc-cve-2023-4911.openvex.json"), string(vex))

	code, out, errs := run(t, "-f", path, "fleet", "validate")
	if code != ExitOK || !strings.Contains(out, "valid (") || !strings.Contains(out, ", 2 warnings)") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	for _, want := range []string{
		"warning: " + filepath.Join(dir, "exceptions.yaml") + ":",
		"exceptions[0].owner: CVE-2023-45853 in zlib: owner platform-security@clearcutt.dev is the upstream project's",
		"warning: " + filepath.Join(dir, "vex", "glibc-cve-2023-4911.openvex.json") + ":4: author: \"ClearCutt platform security <security@clearcutt.dev>\" is the upstream project's",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}

	code, out, _ = run(t, "-f", path, "fleet", "validate", "--json")
	var rep validateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitOK {
		t.Fatalf("--json: exit %d, %v: %s", code, err, out)
	}
	if !rep.Valid || len(rep.Warnings) != 2 || rep.Warnings[0].Field != "exceptions[0].owner" || rep.Warnings[1].Field != "author" {
		t.Errorf("--json: %s", out)
	}

	if code, _, errs := run(t, "-f", path, "fleet", "validate", "--strict"); code != ExitFailed || !strings.Contains(errs, "2 warnings (--strict)") {
		t.Errorf("--strict: exit %d, want %d: %s", code, ExitFailed, errs)
	}
	if code, out, errs := run(t, "-f", "../../clearcutt.yaml", "fleet", "validate", "--strict"); code != ExitOK || errs != "" || strings.Contains(out, "warning") {
		t.Errorf("upstream's own fleet, --strict: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestFleetInit: fleet init --dir makes a copy of the example fleet the
// fork's own (a file fleet validate --strict passes), prints what it
// changed, the next steps and the settings checklist; run again it changes
// nothing; --json reports the same; bad flags and a missing fleet file are
// usage errors.
func TestFleetInit(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"clearcutt.yaml", "exceptions.yaml", "vex/glibc-cve-2023-4911.openvex.json"} {
		b, err := os.ReadFile(filepath.Join("../..", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), string(b))
	}
	path := filepath.Join(dir, "clearcutt.yaml")

	code, out, errs := run(t, "fleet", "init", "--dir", dir, "--repository", "acme/base-images")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		path + ": identity.repository: clearcutt/clearcutt → acme/base-images",
		path + ": registry.repository: ghcr.io/clearcutt/fleet → ghcr.io/acme/base-images",
		"removed exceptions[0]: CVE-2023-45853 in zlib, owner platform-security@clearcutt.dev",
		filepath.Join(dir, "vex", "glibc-cve-2023-4911.openvex.json") + " → " + filepath.Join(dir, "vex", "upstream", "glibc-cve-2023-4911.openvex.json"),
		"Next steps:",
		`Settings checklist: docs/forking.md, section 4 "Settings checklist"`,
	} {
		// A line wider than 120 columns is wrapped: read it with the lines joined.
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, _, errs := run(t, "-f", path, "fleet", "validate", "--strict"); code != ExitOK || errs != "" {
		t.Errorf("fleet validate --strict after init: exit %d: %s", code, errs)
	}

	code, out, errs = run(t, "-f", path, "fleet", "init", "--repository", "acme/base-images", "--json")
	var rep struct {
		Fleet             string `json:"fleet"`
		Fields            []any  `json:"fields"`
		ExceptionsWritten bool   `json:"exceptionsWritten"`
		VEX               []any  `json:"vex"`
		Checklist         string `json:"checklist"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitOK {
		t.Fatalf("again, --json: exit %d, %v: %s %s", code, err, out, errs)
	}
	if rep.Fleet != path || len(rep.Fields) != 0 || rep.ExceptionsWritten || len(rep.VEX) != 0 || rep.Checklist == "" {
		t.Errorf("again: %s", out)
	}
	if code, out, _ := run(t, "-f", path, "fleet", "init", "--repository", "acme/base-images"); code != ExitOK || !strings.Contains(out, "nothing to change") {
		t.Errorf("again, text: exit %d: %s", code, out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fleet", "init", "--dir", dir}, "--repository OWNER/NAME is required"},
		{[]string{"fleet", "init", "--dir", dir, "--repository", "acme"}, "--repository must be owner/name"},
		{[]string{"-f", path, "fleet", "init", "--dir", dir, "--repository", "acme/x"}, "--dir and -f"},
		{[]string{"fleet", "init", "--dir", t.TempDir(), "--repository", "acme/x"}, "reading fleet file"},
		{[]string{"fleet", "init", "--dir", dir, "--repository", "acme/x", "--ref", "main"}, "identity.ref"},
	} {
		if code, out, errs := run(t, c.args...); code != ExitUsage || !strings.Contains(errs, c.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d with %q", c.args, code, out, errs, ExitUsage, c.want)
		}
	}
}
