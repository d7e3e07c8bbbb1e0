package remediate

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/clearcutt/clearcutt/internal/fsutil"
)

// WriteFile replaces path with data atomically: a temporary file in the
// same directory, renamed over it. An existing file keeps its mode; a new
// one is 0644.
func WriteFile(path string, data []byte) error {
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, data, mode)
}
