package admission

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotRegularFile: a policy file WriteFiles is to write exists and is
// not a regular file (a directory, a symbolic link, ...). The error names
// the path.
var ErrNotRegularFile = errors.New("exists and is not a regular file")

// WriteFiles writes every file to dir, each to a temporary file first,
// and renames them only when all were written: a failure leaves no policy
// file half-written. It returns the paths written. It refuses to replace
// anything but a regular file (ErrNotRegularFile).
func WriteFiles(dir string, files []File) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var temps, paths []string
	cleanup := func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}
	for _, file := range files {
		tmp, err := os.CreateTemp(dir, "."+file.Name+".*")
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		temps = append(temps, tmp.Name())
		_, werr := tmp.WriteString(file.Content)
		cerr := tmp.Close()
		if werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(tmp.Name(), 0o644)
		}
		if werr != nil {
			cleanup()
			return nil, fmt.Errorf("%s: %s: %w", dir, file.Name, werr)
		}
		paths = append(paths, filepath.Join(dir, file.Name))
	}
	for _, p := range paths {
		if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
			cleanup()
			return nil, fmt.Errorf("%s %w", p, ErrNotRegularFile)
		}
	}
	for i, t := range temps {
		if err := os.Rename(t, paths[i]); err != nil {
			cleanup()
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
	}
	return paths, nil
}
