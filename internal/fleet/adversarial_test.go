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
// control characters (file-*), optional fields written with their zero
// value (zero-*), and a field reported again through another field that
// defaults to it (identity-repository-missing, identity-repository-no-owner,
// user-uid-negative).
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

// TestFleetFileSizeCap: a fleet file larger than MaxFileSize is refused
// with its size, without being read whole (an endless device is refused
// too); a file of exactly MaxFileSize is read.
func TestFleetFileSizeCap(t *testing.T) {
	dir := t.TempDir()
	sparse := filepath.Join(dir, "huge.yaml")
	if err := os.WriteFile(sparse, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(sparse, 64<<20); err != nil {
		t.Fatal(err)
	}
	over := filepath.Join(dir, "over.yaml")
	if err := os.WriteFile(over, []byte(valid+strings.Repeat("#", MaxFileSize+1-len(valid))), 0o644); err != nil {
		t.Fatal(err)
	}
	exact := filepath.Join(dir, "exact.yaml")
	if err := os.WriteFile(exact, []byte(valid+strings.Repeat("#", MaxFileSize-len(valid))), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path, want string
	}{
		{"64 MiB", sparse, sparse + ": the file is 67108864 bytes; a fleet file is at most 1 MiB (1048576 bytes)"},
		{"one byte over", over, over + ": the file is 1048577 bytes; a fleet file is at most 1 MiB"},
		{"endless", "/dev/zero", "/dev/zero: the file is more than 1048576 bytes; a fleet file is at most 1 MiB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(c.path); err != nil {
				t.Skip(err)
			}
			_, err := Load(c.path)
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("Load: %v, want %q", err, c.want)
			}
		})
	}
	if _, err := Parse("big.yaml", make([]byte, 2<<20)); !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "big.yaml: the file is 2097152 bytes; a fleet file is at most 1 MiB") {
		t.Errorf("Parse: %v", err)
	}
	if _, err := Load(exact); err != nil {
		t.Errorf("a file of exactly %d bytes: %v", MaxFileSize, err)
	}
}
