package structure

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// entryType is the kind of a filesystem entry.
type entryType int

const (
	typeFile entryType = iota
	typeDir
	typeSymlink
	typeOther // devices, fifos
)

// entry is one path of the flattened image filesystem.
type entry struct {
	Path     string // absolute, cleaned
	Type     entryType
	Mode     fs.FileMode // permission, setuid, setgid and sticky bits
	UID, GID int
	Link     string // symlink target
	Size     int64
	// Implicit is true for a directory that has no entry of its own in
	// the image but is the parent of one.
	Implicit bool
	// Shebang is the interpreter line of a script ("" if not a script).
	Shebang string
	// ELF is set for ELF files.
	ELF *elfInfo
	// Content is kept for the files named in index.keep.
	Content []byte
	// Refs are the store hashes the file's bytes name (refs.go).
	Refs []string
}

// index is the flattened filesystem of one image.
type index struct {
	entries map[string]*entry
	sorted  []string
}

func (ix *index) get(p string) *entry { return ix.entries[p] }

// paths returns every path in lexical order.
func (ix *index) paths() []string { return ix.sorted }

// cleanTarName turns a tar entry name into an absolute, cleaned path.
func cleanTarName(name string) string {
	return path.Clean("/" + strings.TrimPrefix(name, "./"))
}

// flattenErr reads what is left of a mutate.Extract stream after its tar
// trailer. The flattened stream ends with a trailer even when a layer could
// not be read (a bad digest, a corrupt or unsafe entry); the error that cut
// it short comes only after it.
func flattenErr(rest io.Reader) error {
	_, err := io.Copy(io.Discard, rest)
	return err
}

// readLimit bounds how much of one file is read for ELF analysis.
const readLimit = 1 << 30

// buildIndex walks the flattened filesystem of img once (mutate.Extract
// applies whiteouts) and records every entry. The contents of the paths in
// keep are retained.
func buildIndex(img v1.Image, keep map[string]bool) (*index, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	ix := &index{entries: map[string]*entry{}}
	tr := tar.NewReader(rc)
	var links []*tar.Header
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if err := flattenErr(rc); err != nil {
				return nil, fmt.Errorf("%w: flattening the layers: %v", ErrImage, err)
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: reading flattened filesystem: %v", ErrImage, err)
		}
		p := cleanTarName(hdr.Name)
		if p == "/" {
			continue
		}
		e := &entry{Path: p, UID: hdr.Uid, GID: hdr.Gid, Size: hdr.Size,
			Mode: hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			e.Type = typeFile
			if err := inspectContent(e, tr, keep[p]); err != nil {
				return nil, fmt.Errorf("%w: reading %s: %v", ErrImage, p, err)
			}
		case tar.TypeDir:
			e.Type = typeDir
		case tar.TypeSymlink:
			e.Type = typeSymlink
			e.Link = hdr.Linkname
		case tar.TypeLink:
			// A target outside the root is no file of the image: the
			// paths-inside-root check refuses the link.
			if _, ok := insideRoot(hdr.Linkname); ok {
				links = append(links, hdr)
			}
			continue
		default:
			e.Type = typeOther
		}
		ix.entries[p] = e
	}
	// Hard links share the inode of their target: same type, mode, owner
	// and content.
	for _, hdr := range links {
		p := cleanTarName(hdr.Name)
		target := ix.entries[cleanTarName(hdr.Linkname)]
		if target == nil {
			return nil, fmt.Errorf("%w: hard link %s points to missing %s", ErrImage, p, hdr.Linkname)
		}
		cp := *target
		cp.Path = p
		ix.entries[p] = &cp
	}
	// Parents without an entry of their own.
	for p := range ix.entries {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := ix.entries[d]; ok {
				break
			}
			ix.entries[d] = &entry{Path: d, Type: typeDir, Mode: 0o755, Implicit: true}
		}
	}
	for p := range ix.entries {
		ix.sorted = append(ix.sorted, p)
	}
	sort.Strings(ix.sorted)
	return ix, nil
}

// inspectContent reads a regular file: its shebang, ELF facts, the store
// paths it names, and the whole content when keep is set.
func inspectContent(e *entry, r io.Reader, keep bool) error {
	var refs refScanner
	defer func() { e.Refs = refs.hashes() }()
	head := make([]byte, 4)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	head = head[:n]
	if bytes.HasPrefix(head, []byte("\x7fELF")) {
		data, err := io.ReadAll(io.LimitReader(r, readLimit))
		if err != nil {
			return err
		}
		data = append(head, data...)
		e.ELF = inspectELF(data)
		_, _ = refs.Write(data)
		if keep {
			e.Content = data
		}
		return nil
	}
	read := head
	if bytes.HasPrefix(head, []byte("#!")) {
		rest := make([]byte, 252)
		m, _ := io.ReadFull(r, rest)
		read = append(head, rest[:m]...)
		line := read
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		e.Shebang = strings.TrimSpace(string(line[2:]))
	}
	_, _ = refs.Write(read)
	if !keep {
		_, err := io.Copy(&refs, r)
		return err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, _ = refs.Write(data)
	e.Content = append(append([]byte{}, read...), data...)
	return nil
}

// shebangArgs splits an interpreter line into the interpreter and its
// optional argument, as the kernel does (one argument at most).
func shebangArgs(s string) (interp, arg string) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i+1:])
}

// loadContents fills Content for the given regular-file paths with a second
// pass over the image; it is used only when a symlink led outside the paths
// kept during the first pass.
func (ix *index) loadContents(img v1.Image, paths []string) error {
	want := map[string]bool{}
	for _, p := range paths {
		if e := ix.entries[p]; e != nil && e.Type == typeFile && e.Content == nil {
			want[p] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for len(want) > 0 {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if err := flattenErr(rc); err != nil {
				return fmt.Errorf("%w: flattening the layers: %v", ErrImage, err)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("%w: reading flattened filesystem: %v", ErrImage, err)
		}
		p := cleanTarName(hdr.Name)
		if !want[p] || hdr.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, readLimit))
		if err != nil {
			return fmt.Errorf("%w: reading %s: %v", ErrImage, p, err)
		}
		ix.entries[p].Content = data
		delete(want, p)
	}
	return nil
}
