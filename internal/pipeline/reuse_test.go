package pipeline

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReuseKeepsAResultAndItsEvidence(t *testing.T) {
	r := &Reuse{Dir: t.TempDir()}
	evidence := t.TempDir()
	stmt := filepath.Join(evidence, "sha256-aa", "test-result.json")
	if err := os.MkdirAll(filepath.Dir(stmt), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stmt, []byte(`{"passed":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	type report struct{ Passed bool }
	key, inputs, err := r.key("test", map[string]any{"image": "oci:stage@sha256:aa"})
	if err != nil {
		t.Fatal(err)
	}
	if again, _, _ := r.key("test", map[string]any{"image": "oci:stage@sha256:aa"}); again != key {
		t.Fatalf("the same inputs give keys %s and %s", key, again)
	}
	for _, other := range []map[string]any{{"image": "oci:stage@sha256:bb"}, {"image": "oci:stage@sha256:aa", "runc": true}} {
		if k, _, _ := r.key("test", other); k == key {
			t.Errorf("inputs %v have the key of other inputs", other)
		}
	}
	if k, _, _ := r.key("sbom", map[string]any{"image": "oci:stage@sha256:aa"}); k == key {
		t.Error("two steps over the same inputs share a key")
	}

	var got report
	if hit, err := r.load("test", key, &got, evidence, nil); hit || err != nil {
		t.Fatalf("a result nobody saved: hit %v, %v", hit, err)
	}
	if err := r.save("test", key, inputs, report{Passed: true}, evidence, []string{stmt}); err != nil {
		t.Fatal(err)
	}
	// The evidence directory is wiped between runs: the statement comes back.
	if err := os.RemoveAll(evidence); err != nil {
		t.Fatal(err)
	}
	if hit, err := r.load("test", key, &got, evidence, nil); !hit || err != nil || !got.Passed {
		t.Fatalf("hit %v, %v, %+v", hit, err, got)
	}
	if b, err := os.ReadFile(stmt); err != nil || string(b) != `{"passed":true}` {
		t.Fatalf("the statement was not restored: %q %v", b, err)
	}
	// What the result names is gone: not a hit, and the entry is dropped.
	if hit, _ := r.load("test", key, &got, evidence, func() bool { return false }); hit {
		t.Fatal("a result whose output is gone was reused")
	}
	if _, err := os.Stat(r.path("test", key)); !os.IsNotExist(err) {
		t.Errorf("the stale entry is kept: %v", err)
	}
	// An entry that cannot be read whole is a miss, never an error or a guess.
	if err := r.save("test", key, inputs, report{Passed: true}, evidence, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path("test", key), []byte(`{"step":"test","value":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if hit, err := r.load("test", key, &got, evidence, nil); hit || err != nil {
		t.Fatalf("a truncated entry: hit %v, %v", hit, err)
	}
	// An entry may not write outside the evidence directory.
	bad, _ := json.Marshal(reuseEntry{Step: "test", Value: json.RawMessage(`{}`), Files: map[string][]byte{"../escape": []byte("x")}})
	if err := os.WriteFile(r.path("test", key), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if hit, _ := r.load("test", key, &got, evidence, nil); hit {
		t.Fatal("an entry writing outside the evidence directory was reused")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(evidence), "escape")); !os.IsNotExist(err) {
		t.Fatalf("a file was written outside the evidence directory: %v", err)
	}
	// Off: nothing is stored or taken.
	var off *Reuse
	if k, _, err := off.keyOf("test", nil); k != "" || err != nil {
		t.Fatalf("reuse off made key %q (%v)", k, err)
	}
	if hit, err := off.load("test", key, &got, evidence, nil); hit || err != nil || off.save("test", key, nil, got, evidence, nil) != nil {
		t.Fatal("reuse off took or stored a result")
	}
}

func TestTreeDigestAndStamp(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("flake.nix", "{}")
	write("lib/a.nix", "1")
	write("fixtures/big", "x")
	skip := func(rel string, _ fs.DirEntry) bool { return rel == "fixtures" }
	d1, err := treeDigest(dir, skip)
	if err != nil {
		t.Fatal(err)
	}
	write("fixtures/big", "y")
	if d2, _ := treeDigest(dir, skip); d2 != d1 {
		t.Error("a skipped directory changed the digest")
	}
	write("lib/a.nix", "2")
	if d3, _ := treeDigest(dir, skip); d3 == d1 {
		t.Error("an edited file left the digest as it was")
	}
	s1, err := treeStamp(dir)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "fixtures", "big"), later, later); err != nil {
		t.Fatal(err)
	}
	if s2, _ := treeStamp(dir); s2 == s1 {
		t.Error("a touched file left the stamp as it was")
	}
}
