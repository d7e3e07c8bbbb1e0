//go:build linux

package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Another process sees the directory locked: its own flock of the
// directory would block while LockDir holds it, and succeeds after.
func TestLockDirTakesTheAdvisoryLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := LockDir(filepath.Join(dir, ".", ""))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Fatalf("flock while LockDir holds %s: %v, want EWOULDBLOCK", dir, err)
	}
	unlock()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("flock after the unlock: %v", err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// Callers in one process take turns, however they spell the directory.
func TestLockDirExcludesInProcess(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	unlock, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		u, err := LockDir(link)
		if err != nil {
			t.Error(err)
		} else {
			u()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("a second LockDir, through a symbolic link, did not wait for the first")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	<-got
}

func TestLockDirMissing(t *testing.T) {
	if _, err := LockDir(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Fatal("LockDir of a missing directory succeeded")
	}
}
