package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// dirLocks serialises LockDir within this process as well: the advisory
// lock alone would also do on Linux, where two descriptors of one process
// exclude each other, but not everywhere.
var dirLocks sync.Map // cleaned path → *sync.Mutex

// LockDir takes an exclusive lock on the directory dir, which must exist,
// and returns the function that releases it. It excludes other callers of
// LockDir on the same directory, in this process and (through an advisory
// lock on the directory itself, where the system has one) in others. It
// is meant for read-modify-write of a file in dir, such as an OCI
// layout's index.json.
func LockDir(dir string) (func(), error) {
	key, err := canonical(dir)
	if err != nil {
		return nil, err
	}
	m, _ := dirLocks.LoadOrStore(key, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	f, err := os.Open(key)
	if err != nil {
		mu.Unlock()
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		mu.Unlock()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		unlockFile(f)
		f.Close()
		mu.Unlock()
	}, nil
}

// canonical is dir as one key however it is spelled: absolute, with
// symbolic links resolved.
func canonical(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if p, err := filepath.EvalSymlinks(abs); err == nil {
		return p, nil
	}
	return abs, nil
}
