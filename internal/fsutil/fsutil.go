// Package fsutil holds the file-system writes that must never leave a
// reader with half a result: a file replaced through a temporary file in
// the same directory, and a directory swapped in for another.
package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data: it writes a temporary file
// ".<name>.*.tmp" in path's directory with mode perm, syncs and closes it,
// then renames it over path. On any error the temporary file is removed
// and path is left as it was. The directory must exist.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return err
	}
	// The mode is set before any byte is written: a private key is never
	// readable by others, not even while it is being written.
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

// RestoreError reports that SwapDir could not move the new directory into
// place and could not put the previous one back either: the previous
// directory is at Previous.
type RestoreError struct {
	Err        error  // why the new directory could not be moved into place
	RestoreErr error  // why the previous directory could not be moved back
	Previous   string // where the previous directory now is
}

// Error implements error.
func (e *RestoreError) Error() string {
	return fmt.Sprintf("%v; restoring the previous directory failed (%v): it is at %s", e.Err, e.RestoreErr, e.Previous)
}

// Unwrap returns the error that stopped the swap.
func (e *RestoreError) Unwrap() error { return e.Err }

// SwapDir moves the directory next to dir, replacing dir. An existing dir
// is first renamed to previous (which must not exist) and renamed back if
// moving next fails; should that fail too, the error is a *RestoreError and
// the previous directory stays at previous. On success previous, if dir
// existed, holds the replaced directory: the caller removes it.
func SwapDir(next, dir, previous string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(next, dir)
	}
	if err := os.Rename(dir, previous); err != nil {
		return err
	}
	if err := os.Rename(next, dir); err != nil {
		if rerr := os.Rename(previous, dir); rerr != nil {
			return &RestoreError{Err: err, RestoreErr: rerr, Previous: previous}
		}
		return err
	}
	return nil
}
