package admission_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/admission"
)

func TestWriteFilesAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	files := []admission.File{{Name: "a.yaml", Content: "a: 1\n"}, {Name: "b.yaml", Content: "b: 2\n"}}
	// b.yaml is a directory: nothing may be written, a.yaml included.
	if err := os.Mkdir(filepath.Join(dir, "b.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := admission.WriteFiles(dir, files); !errors.Is(err, admission.ErrNotRegularFile) || !strings.Contains(err.Error(), filepath.Join(dir, "b.yaml")) {
		t.Fatalf("WriteFiles over a directory: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "b.yaml" {
		t.Errorf("after a failed write the directory holds %v", entries)
	}
	if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	paths, err := admission.WriteFiles(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		b, err := os.ReadFile(p)
		fi, serr := os.Stat(p)
		if err != nil || serr != nil || string(b) != files[i].Content || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %q %v %v", p, b, err, serr)
		}
	}
}
