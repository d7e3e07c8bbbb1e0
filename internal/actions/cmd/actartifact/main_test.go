package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCollectRootsAsUploadArtifact: the root and the files upload-artifact
// would upload, hidden entries left out unless asked for.
func TestCollectRootsAsUploadArtifact(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"out/legs/a.json", "out/evidence/sha256-1/vulns.json", "out/evidence/.hidden", "site/.clearcutt-site", "site/index.html", "one.json"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rel := func(root string, files []string) []string {
		var out []string
		for _, f := range files {
			r, _ := filepath.Rel(root, f)
			out = append(out, r)
		}
		return out
	}
	for _, c := range []struct {
		spec   string
		hidden bool
		root   string
		files  []string
	}{
		{"out/legs\nout/evidence\n", false, "out", []string{"evidence/sha256-1/vulns.json", "legs/a.json"}},
		{"out/evidence", true, "out/evidence", []string{".hidden", "sha256-1/vulns.json"}},
		{"site", false, "site", []string{"index.html"}},
		{"site", true, "site", []string{".clearcutt-site", "index.html"}},
		{"one.json", false, ".", []string{"one.json"}},
		{"missing", false, "missing", nil},
	} {
		t.Chdir(dir)
		root, files, err := collect(c.spec, c.hidden)
		if err != nil {
			t.Fatalf("%q: %v", c.spec, err)
		}
		if want := filepath.Join(dir, c.root); root != want || !slices.Equal(rel(root, files), c.files) {
			t.Errorf("%q hidden=%v: root %s files %v, want %s %v", c.spec, c.hidden, root, rel(root, files), want, c.files)
		}
	}
}
