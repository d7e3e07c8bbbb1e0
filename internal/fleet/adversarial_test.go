package fleet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdversarialFleetFiles loads every fleet file of
// testdata/adversarial: each NAME.yaml must be refused with an error that
// contains every line of NAME.want ({file} stands for the file's path; a
// line starting with "!" must not appear). The corpus holds, per class,
// several variants of a fleet file that once loaded, or loaded with a
// misleading error: pattern characters in the identity (identity-*,
// registry-repository-*), files that are empty, not UTF-8 text or hold
// control characters (file-*), and optional fields written with their zero
// value (zero-*).
func TestAdversarialFleetFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "adversarial", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no adversarial fleet files")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(file, ".yaml") + ".want")
			if err != nil {
				t.Fatalf("every adversarial file has its .want: %v", err)
			}
			_, err = Load(file)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				line = strings.ReplaceAll(line, "{file}", file)
				if never, ok := strings.CutPrefix(line, "!"); ok {
					if strings.Contains(err.Error(), never) {
						t.Errorf("error %q contains %q", err, never)
					}
					continue
				}
				if !strings.Contains(err.Error(), line) {
					t.Errorf("error %q does not contain %q", err, line)
				}
			}
		})
	}
}

// TestLiteralProblem: the characters an admission engine reads as pattern
// syntax, and spaces and control characters, are named; the characters of
// real identities are not.
func TestLiteralProblem(t *testing.T) {
	for _, ok := range []string{
		"https://token.actions.githubusercontent.com",
		"https://github.com/acme/fleet/.github/workflows/publish.yml@refs/heads/main",
		"refs/tags/v1.2.0", "refs/heads/feature/a+b_c.d-e", "acme/fleet", "ghcr.io/acme/images", "registry.example:5000/a/b",
	} {
		if p := LiteralProblem(ok); p != "" {
			t.Errorf("%q: %s", ok, p)
		}
	}
	for in, want := range map[string]string{
		"refs/heads/*":      `holds "*"`,
		"refs/heads/?":      `holds "?"`,
		"refs/heads/[a]":    `holds "["`,
		"refs/heads/a]":     `holds "]"`,
		"refs/heads/{{x}}":  `holds "{"`,
		"refs/heads/x}":     `holds "}"`,
		"refs/heads/$(x)":   `holds "$"`,
		`refs/heads/\x`:     `holds "\\"`,
		"refs/heads/a b":    "holds U+0020",
		"refs/heads/a\tb":   "holds U+0009",
		"refs/heads/a\x00":  "holds U+0000",
		"refs/heads/\u2028": "holds U+2028",
		"refs/heads/\xff":   "holds U+FFFD or a byte that is not UTF-8",
	} {
		if p := LiteralProblem(in); !strings.Contains(p, want) {
			t.Errorf("%q: %q, want %q", in, p, want)
		}
	}
}
