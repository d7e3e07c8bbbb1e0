package cli

import (
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
			"root.yaml:28:30: build.user.uid: is 0, the root user"},
		{"branch-wildcard", replace("ref: refs/heads/main", `ref: "refs/heads/*"`),
			`branch-wildcard.yaml:22:8: identity.ref: holds "*"`},
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
