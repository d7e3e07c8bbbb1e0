package oci

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/closure"
)

// DefaultStoreDir is the Nix store directory.
const DefaultStoreDir = "/nix/store"

// storeDirMode is the mode of the store directory and its parents in every
// layer (the host's /nix/store is 1775 root:nixbld; the image needs neither
// the sticky bit nor the group).
const storeDirMode = 0o755

// tarSource writes deterministic layer tars for one closure.
//
// Every entry has uid/gid 0 (unless a Permission overrides it), mtime =
// epoch, no user or group names, and GNU headers (long names without PAX
// records). Entries come in depth-first order with directory listings sorted
// by name, so a parent always precedes its children. Store-path modes are
// kept as on disk: the Nix store is already normalised.
type tarSource struct {
	storeDir string
	fsRoot   string
	epoch    time.Time
	root     string
	// allowed are the store paths the image materialises under storeDir.
	allowed map[string]bool
	perms   []closure.Permission
}

// fsPath is where the file at logical path p is read from.
func (s *tarSource) fsPath(p string) string { return s.fsRoot + p }

// storeParents are the store directory and its parents, outermost first,
// without leading "/": ["nix", "nix/store"].
func (s *tarSource) storeParents() []string {
	parts := strings.Split(strings.Trim(s.storeDir, "/"), "/")
	out := make([]string, len(parts))
	for i := range parts {
		out[i] = strings.Join(parts[:i+1], "/")
	}
	return out
}

func (s *tarSource) header(name string, mode int64, typ byte) *tar.Header {
	return &tar.Header{
		Typeflag: typ,
		Name:     name,
		Mode:     mode,
		ModTime:  s.epoch,
		Format:   tar.FormatGNU,
	}
}

// writeLayer writes the tar of planned layer l to w.
func (s *tarSource) writeLayer(w io.Writer, l PlannedLayer) error {
	tw := tar.NewWriter(w)
	var err error
	if l.Kind == KindRoot {
		err = s.writeRoot(tw, l.Paths[0].Path)
	} else {
		err = s.writeStorePaths(tw, l.Paths)
	}
	if err != nil {
		return err
	}
	return tw.Close()
}

func (s *tarSource) writeStorePaths(tw *tar.Writer, paths []closure.StorePath) error {
	for _, d := range s.storeParents() {
		if err := tw.WriteHeader(s.header(d+"/", storeDirMode, tar.TypeDir)); err != nil {
			return err
		}
	}
	sorted := append([]closure.StorePath(nil), paths...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for _, p := range sorted {
		if err := s.checkStorePath(p.Path); err != nil {
			return err
		}
		if err := s.writeEntry(tw, p.Path, p.Path, nil); err != nil {
			return err
		}
	}
	return nil
}

// checkStorePath refuses a path that is not a direct child of the store
// directory.
func (s *tarSource) checkStorePath(p string) error {
	if hasDotDot(p) || path.Dir(p) != s.storeDir || path.Base(p) == "" {
		return fmt.Errorf("%w: store path %q is not under %s", ErrEscape, p, s.storeDir)
	}
	return nil
}

func (s *tarSource) writeRoot(tw *tar.Writer, root string) error {
	if err := s.checkStorePath(root); err != nil {
		return err
	}
	perms := map[string]closure.Permission{}
	for i, p := range s.perms {
		rel := strings.Trim(p.Path, "/")
		if rel == "" || hasDotDot(rel) || path.Clean(rel) != rel {
			return fmt.Errorf("%w: permissions[%d].path %q must be a clean path inside the root", ErrEscape, i, p.Path)
		}
		if _, err := strconv.ParseUint(p.Mode, 8, 12); err != nil {
			return fmt.Errorf("%w: permissions[%d] (%s): mode %q is not octal", ErrBadManifest, i, p.Path, p.Mode)
		}
		perms["/"+rel] = p
	}
	used := map[string]bool{}
	ents, err := readDirSorted(s.fsPath(root))
	if err != nil {
		return fmt.Errorf("root %s: %w", root, err)
	}
	parents := s.storeParents()
	top := parents[0]
	names := []string{top}
	for _, e := range ents {
		if e == top {
			return fmt.Errorf("%w: root %s holds %q, which the store directory occupies", ErrBadManifest, root, "/"+top)
		}
		names = append(names, e)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == top {
			for _, d := range parents {
				if err := tw.WriteHeader(s.header(d+"/", storeDirMode, tar.TypeDir)); err != nil {
					return err
				}
			}
			continue
		}
		if err := s.writeEntry(tw, path.Join(root, n), "/"+n, func(img string, h *tar.Header) (string, error) {
			p, ok := perms[img]
			if !ok {
				return "", nil
			}
			used[img] = true
			mode, _ := strconv.ParseUint(p.Mode, 8, 12)
			content := ""
			if h.Typeflag == tar.TypeSymlink {
				// A mode on a symlink means nothing: the link is replaced
				// by a copy of the file it resolves to, carrying the mode,
				// as NixOS's security wrappers do. Never dropped silently.
				target, size, err := s.resolveFile(root, path.Join(root, strings.TrimPrefix(img, "/")), h.Linkname)
				if err != nil {
					return "", fmt.Errorf("%w: permission for %s: %w", ErrBadManifest, img, err)
				}
				h.Typeflag, h.Linkname, h.Size = tar.TypeReg, "", size
				content = target
			}
			h.Mode, h.Uid, h.Gid = int64(mode), p.UID, p.GID
			return content, nil
		}); err != nil {
			return err
		}
	}
	for img := range perms {
		if !used[img] {
			return fmt.Errorf("%w: permission for %s: no such path in root %s", ErrBadManifest, img, root)
		}
	}
	return nil
}

// resolveFile follows the symlink at logical path src (whose target is
// link) to a regular file inside the store, and returns that file's
// logical path and size. Absolute targets outside the store are image
// paths, resolved in the root tree.
func (s *tarSource) resolveFile(root, src, link string) (string, int64, error) {
	cur := src
	for hops := 0; hops < 16; hops++ {
		switch {
		case !path.IsAbs(link):
			link = path.Join(path.Dir(cur), link)
		case !strings.HasPrefix(link, s.storeDir+"/"):
			link = path.Join(root, link)
		}
		if !strings.HasPrefix(link, s.storeDir+"/") || hasDotDot(link) {
			return "", 0, fmt.Errorf("symlink %s resolves to %s, outside the store", src, link)
		}
		fi, err := os.Lstat(s.fsPath(link))
		if err != nil {
			return "", 0, fmt.Errorf("symlink %s: %w", src, err)
		}
		switch {
		case fi.Mode().IsRegular():
			return link, fi.Size(), nil
		case fi.Mode()&fs.ModeSymlink != 0:
			cur = link
			if link, err = os.Readlink(s.fsPath(link)); err != nil {
				return "", 0, err
			}
		default:
			return "", 0, fmt.Errorf("symlink %s resolves to %s, which is not a regular file", src, link)
		}
	}
	return "", 0, fmt.Errorf("symlink %s: too many levels of links", src)
}

// writeEntry writes the file at logical path src as image path img, and its
// children if it is a directory. adjust may rewrite a header; when it turns
// a symlink into a regular file it returns the logical path whose content
// the file takes.
func (s *tarSource) writeEntry(tw *tar.Writer, src, img string, adjust func(string, *tar.Header) (string, error)) error {
	fsp := s.fsPath(src)
	fi, err := os.Lstat(fsp)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	name := strings.TrimPrefix(img, "/")
	mode := int64(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if fi.Mode()&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	var h *tar.Header
	switch {
	case fi.Mode().IsDir():
		h = s.header(name+"/", mode, tar.TypeDir)
	case fi.Mode().IsRegular():
		h = s.header(name, mode, tar.TypeReg)
		h.Size = fi.Size()
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(fsp)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		if err := s.checkLink(src, img, target); err != nil {
			return err
		}
		h = s.header(name, 0o777, tar.TypeSymlink)
		h.Linkname = target
	default:
		return fmt.Errorf("%s: unsupported file type %v", src, fi.Mode().Type())
	}
	if adjust != nil {
		content, err := adjust(img, h)
		if err != nil {
			return err
		}
		if content != "" {
			fsp = s.fsPath(content)
		}
	}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	switch h.Typeflag {
	case tar.TypeReg:
		f, err := os.Open(fsp)
		if err != nil {
			return err
		}
		n, err := io.Copy(tw, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		if n != h.Size {
			return fmt.Errorf("%s: size changed while reading (%d != %d)", src, n, h.Size)
		}
	case tar.TypeDir:
		ents, err := readDirSorted(fsp)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		for _, e := range ents {
			if err := s.writeEntry(tw, path.Join(src, e), path.Join(img, e), adjust); err != nil {
				return err
			}
		}
	}
	return nil
}

func readDirSorted(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		if e.Name() == ".." || e.Name() == "." || strings.Contains(e.Name(), "/") {
			return nil, fmt.Errorf("%w: %s holds the name %q", ErrEscape, dir, e.Name())
		}
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names, nil
}

func hasDotDot(p string) bool {
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return true
		}
	}
	return false
}
