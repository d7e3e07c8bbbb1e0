package structure

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// unpack writes the flattened filesystem of img into dir, preserving
// modes and owners. Every write goes through an os.Root, so no entry and
// no symlink in the image can make it write outside dir. Device nodes
// and fifos are skipped (the runtime provides /dev).
func unpack(img v1.Image, dir string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	if err := unpackTar(rc, dir); err != nil {
		return err
	}
	if err := flattenErr(rc); err != nil {
		return fmt.Errorf("flattening the layers: %w", err)
	}
	return nil
}

// unpackTar writes a flattened filesystem tar stream into dir.
func unpackTar(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	type dirMode struct {
		name string
		mode fs.FileMode
	}
	var dirs []dirMode
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading flattened filesystem: %w", err)
		}
		name := strings.TrimPrefix(cleanTarName(hdr.Name), "/")
		if name == "" {
			continue
		}
		mode := hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		if err := unpackEntry(root, tr, hdr, name, mode); err != nil {
			return fmt.Errorf("unpacking /%s: %w", name, err)
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirMode{name, mode})
		}
	}
	// Directory modes last: a read-only directory must not stop its
	// children from being written.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := root.Chmod(dirs[i].name, dirs[i].mode); err != nil {
			return fmt.Errorf("chmod /%s: %w", dirs[i].name, err)
		}
	}
	return nil
}

func unpackEntry(root *os.Root, r io.Reader, hdr *tar.Header, name string, mode fs.FileMode) error {
	if parent := parentOf(name); parent != "" {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if fi, err := root.Lstat(name); err == nil && fi.IsDir() {
			return root.Lchown(name, hdr.Uid, hdr.Gid)
		}
		_ = root.RemoveAll(name)
		if err := root.Mkdir(name, 0o700); err != nil {
			return err
		}
		return root.Lchown(name, hdr.Uid, hdr.Gid)
	case tar.TypeReg, tar.TypeRegA:
		_ = root.RemoveAll(name) // never write through an existing symlink
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		// chown clears setuid/setgid, so it comes before chmod.
		if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
		return root.Chmod(name, mode)
	case tar.TypeSymlink:
		_ = root.RemoveAll(name)
		if err := root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		return root.Lchown(name, hdr.Uid, hdr.Gid)
	case tar.TypeLink:
		_ = root.RemoveAll(name)
		return root.Link(strings.TrimPrefix(cleanTarName(hdr.Linkname), "/"), name)
	}
	return nil
}

func parentOf(name string) string {
	if i := strings.LastIndexByte(name, '/'); i > 0 {
		return name[:i]
	}
	return ""
}
