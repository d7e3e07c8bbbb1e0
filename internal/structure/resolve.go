package structure

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// maxSymlinks bounds symlink expansion, as Linux does (ELOOP after 40).
const maxSymlinks = 40

var (
	errNotFound = errors.New("does not exist")
	errLoop     = errors.New("too many levels of symbolic links")
	errNotDir   = errors.New("not a directory")
)

// resolve follows symlinks inside the image, never on the host: absolute
// targets start at the image root and ".." stops at it. It returns the
// final entry and its path.
func (ix *index) resolve(p string) (*entry, string, error) {
	hops := 0
	return ix.resolveFrom(p, &hops)
}

func (ix *index) resolveFrom(p string, hops *int) (*entry, string, error) {
	p = path.Clean("/" + p)
	if p == "/" {
		return &entry{Path: "/", Type: typeDir, Mode: 0o755}, "/", nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for i, part := range parts {
		next := path.Join(cur, part)
		e := ix.entries[next]
		if e == nil {
			return nil, next, fmt.Errorf("%s: %w", next, errNotFound)
		}
		last := i == len(parts)-1
		if e.Type == typeSymlink {
			*hops++
			if *hops > maxSymlinks {
				return nil, next, fmt.Errorf("%s: %w", p, errLoop)
			}
			target := e.Link
			if !path.IsAbs(target) {
				target = path.Join(cur, target)
			}
			rest := strings.Join(parts[i+1:], "/")
			resolved, rp, err := ix.resolveFrom(path.Join(target, rest), hops)
			if err != nil {
				return nil, rp, fmt.Errorf("%s -> %s: %w", next, e.Link, err)
			}
			return resolved, rp, nil
		}
		if !last && e.Type != typeDir {
			return nil, next, fmt.Errorf("%s: %w", next, errNotDir)
		}
		cur = next
	}
	return ix.entries[cur], cur, nil
}

// lookPath finds name the way execve callers do: a name with a slash is
// taken as is (relative to cwd), otherwise each PATH directory is tried.
func (ix *index) lookPath(name, pathEnv, cwd string) (string, error) {
	if strings.Contains(name, "/") {
		if !path.IsAbs(name) {
			name = path.Join(cwd, name)
		}
		return name, nil
	}
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			dir = cwd
		}
		cand := path.Join(dir, name)
		if e, _, err := ix.resolve(cand); err == nil && e.Type == typeFile && e.Mode&0o111 != 0 {
			return cand, nil
		}
	}
	return "", fmt.Errorf("%q not found in PATH %q", name, pathEnv)
}
