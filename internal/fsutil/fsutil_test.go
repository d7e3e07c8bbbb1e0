package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "new" {
		t.Fatalf("content = %q, %v; want new", got, err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
}

func TestWriteFileAtomicFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	// A directory at path: the rename fails, the directory stays and no
	// temporary file is left behind.
	p := filepath.Join(dir, "out")
	if err := os.MkdirAll(filepath.Join(p, "child"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("x"), 0o644); err == nil {
		t.Fatal("writing over a non-empty directory succeeded")
	}
	if st, err := os.Stat(filepath.Join(p, "child")); err != nil || !st.IsDir() {
		t.Fatalf("directory at path damaged: %v", err)
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}

func mkdirWith(t *testing.T, dir, file, content string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSwapDir(t *testing.T) {
	root := t.TempDir()
	out, next, prev := filepath.Join(root, "out"), filepath.Join(root, "next"), filepath.Join(root, "prev")

	// No previous directory: next is simply moved.
	mkdirWith(t, next, "f", "one")
	if err := SwapDir(next, out, prev); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(out, "f")); got != "one" {
		t.Errorf("out/f = %q, want one", got)
	}
	if _, err := os.Lstat(prev); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("previous used although out did not exist: %v", err)
	}

	// An existing directory is replaced and kept at previous.
	mkdirWith(t, next, "f", "two")
	if err := SwapDir(next, out, prev); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(out, "f")); got != "two" {
		t.Errorf("out/f = %q, want two", got)
	}
	if got := read(t, filepath.Join(prev, "f")); got != "one" {
		t.Errorf("prev/f = %q, want one", got)
	}
	if _, err := os.Lstat(next); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("next still exists: %v", err)
	}
}

func TestSwapDirRestores(t *testing.T) {
	root := t.TempDir()
	out, prev := filepath.Join(root, "out"), filepath.Join(root, "prev")
	mkdirWith(t, out, "f", "old")
	// next does not exist: moving it fails and out is put back.
	err := SwapDir(filepath.Join(root, "missing"), out, prev)
	if err == nil {
		t.Fatal("swapping in a missing directory succeeded")
	}
	var re *RestoreError
	if errors.As(err, &re) {
		t.Fatalf("restore reported as failed: %v", err)
	}
	if got := read(t, filepath.Join(out, "f")); got != "old" {
		t.Errorf("out/f = %q after a failed swap, want old", got)
	}
	if _, err := os.Lstat(prev); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("previous left behind: %v", err)
	}
}

func TestRestoreError(t *testing.T) {
	base := errors.New("rename failed")
	err := error(&RestoreError{Err: base, RestoreErr: errors.New("restore failed"), Previous: "/x/prev"})
	if !errors.Is(err, base) {
		t.Error("RestoreError does not unwrap to the swap error")
	}
	want := "rename failed; restoring the previous directory failed (restore failed): it is at /x/prev"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}
