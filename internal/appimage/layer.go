package appimage

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/oci"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Artifact is one input of Build: a directory (its contents are placed
// under the destination) or a single file (placed under the destination by
// its name).
type Artifact struct {
	Path string `json:"path"`
	// Platform restricts the artifact to one platform ("linux/arm64");
	// empty for every platform of the base.
	Platform string `json:"platform,omitempty"`
}

// ParseArtifact reads "PATH" or "OS/ARCH[/VARIANT]=PATH" (the platform form
// is recognised by its "linux/" prefix).
func ParseArtifact(s string) (Artifact, error) {
	if s == "" {
		return Artifact{}, fmt.Errorf("%w: empty artifact", ErrBadOptions)
	}
	if plat, p, ok := strings.Cut(s, "="); ok && strings.HasPrefix(plat, "linux/") {
		parts := strings.Split(plat, "/")
		if len(parts) < 2 || len(parts) > 3 || parts[1] == "" || (len(parts) == 3 && parts[2] == "") {
			return Artifact{}, fmt.Errorf("%w: artifact %q: platform %q is not os/arch[/variant]", ErrBadOptions, s, plat)
		}
		if p == "" {
			return Artifact{}, fmt.Errorf("%w: artifact %q names no path", ErrBadOptions, s)
		}
		return Artifact{Path: p, Platform: plat}, nil
	}
	return Artifact{Path: s}, nil
}

func (a Artifact) platform() v1.Platform {
	parts := strings.Split(a.Platform, "/")
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p
}

// layerSpec is what shapes an application layer's bytes.
type layerSpec struct {
	src      string // artifact path on the host
	dest     string // clean absolute directory in the image
	uid, gid int
	epoch    time.Time
}

// describe names the layer in its annotation and history entry; it holds
// no host path, so the same artifact built anywhere gives the same image.
func (s layerSpec) describe() string {
	return filepath.Base(filepath.Clean(s.src)) + " -> " + s.dest
}

// appLayer is an application layer: a gzip file written by
// oci.WriteLayerFile, with the image paths of its entries.
type appLayer struct {
	*oci.FileLayer
	// paths are the image paths of the layer's non-directory entries.
	paths []string
}

// buildLayer writes the layer of spec into a new file under dir.
//
// Entries: the parents of dest (root-owned, 0755), dest itself and every
// file of the artifact, owned by uid:gid, in depth-first order with
// directory listings sorted by name, mtime = epoch, GNU headers without
// user or group names. Modes are normalised: directories 0755, files 0755
// when the owner may execute them and 0644 otherwise (no setuid, setgid or
// sticky bit); symlinks are kept as links. Devices, sockets and pipes are
// refused.
func buildLayer(dir string, s layerSpec) (*appLayer, error) {
	fi, err := os.Stat(s.src)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadArtifact, err)
	}
	var paths []string
	l, err := oci.WriteLayerFile(dir, "app-layer-*.tar.gz", func(out io.Writer) error {
		w := &tarWriter{tw: tar.NewWriter(out), s: s}
		if err := w.parents(); err != nil {
			return err
		}
		var err error
		if fi.IsDir() {
			err = w.dir(s.src, strings.TrimPrefix(s.dest, "/"))
		} else {
			if err = w.header(strings.TrimPrefix(s.dest, "/")+"/", 0o755, tar.TypeDir, true); err == nil {
				err = w.entry(s.src, path.Join(strings.TrimPrefix(s.dest, "/"), fi.Name()), fi)
			}
		}
		if err != nil {
			return err
		}
		paths = w.paths
		return w.tw.Close()
	})
	if err != nil {
		return nil, err
	}
	return &appLayer{FileLayer: l, paths: paths}, nil
}

type tarWriter struct {
	tw    *tar.Writer
	s     layerSpec
	paths []string
}

func (w *tarWriter) header(name string, mode int64, typ byte, owned bool) error {
	h := &tar.Header{Typeflag: typ, Name: name, Mode: mode, ModTime: w.s.epoch, Format: tar.FormatGNU}
	if owned {
		h.Uid, h.Gid = w.s.uid, w.s.gid
	}
	return w.tw.WriteHeader(h)
}

// parents writes the directories above dest, root-owned.
func (w *tarWriter) parents() error {
	parts := strings.Split(strings.Trim(w.s.dest, "/"), "/")
	for i := 1; i < len(parts); i++ {
		if err := w.header(strings.Join(parts[:i], "/")+"/", 0o755, tar.TypeDir, false); err != nil {
			return err
		}
	}
	return nil
}

// dir writes directory src as image path name and everything below it.
func (w *tarWriter) dir(src, name string) error {
	if err := w.header(name+"/", 0o755, tar.TypeDir, true); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadArtifact, err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(src, n)
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadArtifact, err)
		}
		if err := w.entry(p, path.Join(name, n), fi); err != nil {
			return err
		}
	}
	return nil
}

func (w *tarWriter) entry(src, name string, fi fs.FileInfo) error {
	switch m := fi.Mode(); {
	case m.IsDir():
		return w.dir(src, name)
	case m.IsRegular():
		mode := int64(0o644)
		if m.Perm()&0o100 != 0 {
			mode = 0o755
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: fi.Size(), ModTime: w.s.epoch,
			Uid: w.s.uid, Gid: w.s.gid, Format: tar.FormatGNU}
		if err := w.tw.WriteHeader(h); err != nil {
			return err
		}
		f, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadArtifact, err)
		}
		n, err := io.Copy(w.tw, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadArtifact, src, err)
		}
		if n != fi.Size() {
			return fmt.Errorf("%w: %s changed size while it was read", ErrBadArtifact, src)
		}
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadArtifact, err)
		}
		h := &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: w.s.epoch,
			Uid: w.s.uid, Gid: w.s.gid, Format: tar.FormatGNU}
		if err := w.tw.WriteHeader(h); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: %s is a %v, which an image layer does not carry", ErrBadArtifact, src, m.Type())
	}
	w.paths = append(w.paths, "/"+name)
	return nil
}

// cleanDest checks an image directory: absolute, clean, not "/".
func cleanDest(dest string) (string, error) {
	switch {
	case !path.IsAbs(dest):
		return "", fmt.Errorf("%w: destination %q is not an absolute path", ErrBadOptions, dest)
	case path.Clean(dest) != dest || strings.Contains(dest, "/../"):
		return "", fmt.Errorf("%w: destination %q is not a clean path", ErrBadOptions, dest)
	case dest == "/":
		return "", fmt.Errorf("%w: destination / would lay the application over the base's root; name a directory such as /app", ErrBadOptions)
	}
	return dest, nil
}
