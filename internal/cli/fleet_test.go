package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
