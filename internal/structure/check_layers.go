package structure

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layerFinding is one layer entry a check refuses: the path it is reported
// under and the sentence that says why.
type layerFinding struct {
	path, detail string
}

// layerScan is what the layers say entry by entry, before they are
// flattened: the runtime unpacks every layer, so an entry that a later
// layer removes or replaces is still written to the node once.
type layerScan struct {
	layers, entries int
	// outside: entries whose name, hard link target or relative symlink
	// target leaves the image root.
	outside []layerFinding
	// outsideNames counts the entries of outside whose own name leaves
	// the root: such layers have no flattened filesystem.
	outsideNames int
	// special: device nodes and FIFOs.
	special []layerFinding
}

// scanLayers reads the tar stream of every layer of img, to its end (a
// layer's digest is verified when its stream is read through). A layer
// that cannot be read is an error.
//
// Each uncompressed stream is kept in a file under dir as it is read: the
// returned image has the same layers, read back from those files, so the
// passes that follow (the flattened index, the smoke run's root
// filesystem) read plain tar, and exactly the bytes this pass checked,
// instead of decompressing every layer again.
func scanLayers(img v1.Image, dir string) (*layerScan, v1.Image, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: layers: %v", ErrImage, err)
	}
	s := &layerScan{layers: len(layers)}
	spooled := &spooledImage{Image: img, layers: make([]v1.Layer, len(layers))}
	for i, l := range layers {
		f := filepath.Join(dir, fmt.Sprintf("layer-%d.tar", i))
		if err := s.scanLayer(l, f); err != nil {
			var se *spoolError
			if errors.As(err, &se) {
				// The machine's failure (a full disk), not the image's.
				return nil, nil, fmt.Errorf("layer %d of %d: keeping its stream in %s: %w", i+1, len(layers), f, se.err)
			}
			return nil, nil, fmt.Errorf("%w: layer %d of %d: %v", ErrImage, i+1, len(layers), err)
		}
		spooled.layers[i] = &spooledLayer{Layer: l, path: f}
	}
	return s, spooled, nil
}

// spoolError is a failure to write a layer's stream to its file.
type spoolError struct{ err error }

func (e *spoolError) Error() string { return e.err.Error() }

// spoolWriter writes to w and keeps the first error, which the tar reader
// would otherwise report as its own.
type spoolWriter struct {
	w   io.Writer
	err error
}

func (s *spoolWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil && s.err == nil {
		s.err = &spoolError{err}
	}
	return n, err
}

// scanLayer inspects every entry of one layer and writes its uncompressed
// stream to the file spool. A failure to write it is a *spoolError.
func (s *layerScan) scanLayer(l v1.Layer, spool string) (err error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.OpenFile(spool, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return &spoolError{err}
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = &spoolError{cerr}
		}
	}()
	buf := bufio.NewWriterSize(f, 1<<20)
	w := &spoolWriter{w: buf}
	defer func() {
		if w.err != nil {
			err = w.err
		}
	}()
	r := io.TeeReader(rc, w)
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		// With GODEBUG=tarinsecurepath=0 the reader reports names with
		// ".." or a leading "/" along with the header: those are judged
		// here like every other name.
		if err != nil && !(hdr != nil && errors.Is(err, tar.ErrInsecurePath)) {
			return err
		}
		s.inspect(hdr)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	if err := buf.Flush(); err != nil {
		return &spoolError{err}
	}
	return nil
}

// spooledImage is an image whose layers are read from the files
// scanLayers wrote.
type spooledImage struct {
	v1.Image
	layers []v1.Layer
}

func (s *spooledImage) Layers() ([]v1.Layer, error) { return s.layers, nil }

// spooledLayer is a layer whose uncompressed stream is the file path.
type spooledLayer struct {
	v1.Layer
	path string
}

func (l *spooledLayer) Uncompressed() (io.ReadCloser, error) { return os.Open(l.path) }

// inspect records what is wrong with one layer entry, if anything.
//
// Names and hard link targets are layer paths: with or without a leading
// "/", they must stay inside the root once cleaned. A symlink target is
// resolved when the link is followed: an absolute one from the root of
// the container (the runtime confines it there, and /nix/store/... links
// are how the images are made), a relative one from the link's directory,
// which must not climb above the root.
//
// Tar has no entry type for sockets (archive/tar and GNU tar refuse or
// skip them when archiving), so a layer cannot carry one: device nodes and
// FIFOs are the special files a layer can hold.
func (s *layerScan) inspect(hdr *tar.Header) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return
	}
	s.entries++
	rel, ok := insideRoot(hdr.Name)
	if !ok {
		what := entryKind(hdr)
		if hdr.Typeflag == tar.TypeLink || hdr.Typeflag == tar.TypeSymlink {
			what += fmt.Sprintf(" to %q", hdr.Linkname)
		}
		s.outside = append(s.outside, layerFinding{hdr.Name,
			fmt.Sprintf("%q (%s): entry name leaves the image root", hdr.Name, what)})
		s.outsideNames++
		return
	}
	p := path.Clean("/" + rel)
	switch hdr.Typeflag {
	case tar.TypeLink:
		if _, ok := insideRoot(hdr.Linkname); !ok {
			s.outside = append(s.outside, layerFinding{p,
				fmt.Sprintf("%s: hard link to %q: target leaves the image root", p, hdr.Linkname)})
		}
	case tar.TypeSymlink:
		if !path.IsAbs(hdr.Linkname) && escapes(path.Join(path.Dir(rel), hdr.Linkname)) {
			s.outside = append(s.outside, layerFinding{p,
				fmt.Sprintf("%s: symlink to %q: relative target leaves the image root", p, hdr.Linkname)})
		}
	case tar.TypeBlock, tar.TypeChar:
		s.special = append(s.special, layerFinding{p,
			fmt.Sprintf("%s: %s (%d,%d): deployable images carry no device nodes, FIFOs or sockets", p, entryKind(hdr), hdr.Devmajor, hdr.Devminor)})
	case tar.TypeFifo:
		s.special = append(s.special, layerFinding{p,
			fmt.Sprintf("%s: FIFO: deployable images carry no device nodes, FIFOs or sockets", p)})
	}
}

// insideRoot cleans a layer path, with or without a leading "/", into a
// path relative to the root ("." for the root itself); ok is false when
// it leaves the root.
func insideRoot(name string) (rel string, ok bool) {
	rel = path.Clean(strings.TrimLeft(name, "/"))
	return rel, !escapes(rel)
}

// escapes reports whether a cleaned relative path climbs above its start.
func escapes(rel string) bool {
	return rel == ".." || strings.HasPrefix(rel, "../")
}

func entryKind(hdr *tar.Header) string {
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		return "regular file"
	case tar.TypeDir:
		return "directory"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeChar:
		return "character device"
	case tar.TypeFifo:
		return "FIFO"
	}
	return fmt.Sprintf("tar entry type %q", hdr.Typeflag)
}

// checkPathsInsideRoot: no layer entry is named outside the image root,
// no hard link targets a path outside it and no relative symlink target
// climbs above it. It runs in every tier: such entries are how a layer
// writes or links host files when it is unpacked.
func checkPathsInsideRoot(in *inputs) Check {
	const name = "layer entries and links stay inside the image root"
	s := in.layers
	if len(s.outside) == 0 {
		return pass(IDPathsInsideRoot, name, fmt.Sprintf("%d entries in %d layer(s)", s.entries, s.layers))
	}
	detail := summarizeFindings(s.outside)
	if s.outsideNames > 0 {
		detail += " (the layers have no flattened filesystem, so the filesystem checks did not run)"
	}
	return fail(IDPathsInsideRoot, name, detail, findingPaths(s.outside)...)
}

// checkNoDeviceNodes: no layer of a deployable image holds a block or
// character device or a FIFO. The runtime provides /dev; a device node in
// an image is a way to the host's devices wherever the container gets the
// device cgroup permission or runs privileged, and a FIFO is a channel
// between processes that no deployable image needs on its filesystem.
func checkNoDeviceNodes(in *inputs) Check {
	const name = "no device nodes, FIFOs or sockets"
	s := in.layers
	if len(s.special) == 0 {
		return pass(IDNoDeviceNodes, name, "none found")
	}
	return fail(IDNoDeviceNodes, name, summarizeFindings(s.special), findingPaths(s.special)...)
}

// summarizeFindings joins the findings' sentences, each once and sorted;
// past five it says how many more there are.
func summarizeFindings(fs []layerFinding) string {
	seen := map[string]bool{}
	var lines []string
	for _, f := range fs {
		if !seen[f.detail] {
			seen[f.detail] = true
			lines = append(lines, f.detail)
		}
	}
	sort.Strings(lines)
	if len(lines) == 1 {
		return lines[0]
	}
	shown := lines
	if len(shown) > 5 {
		shown = shown[:5]
	}
	s := fmt.Sprintf("%d entries: %s", len(lines), strings.Join(shown, "; "))
	if len(lines) > len(shown) {
		s += fmt.Sprintf("; and %d more", len(lines)-len(shown))
	}
	return s
}

func findingPaths(fs []layerFinding) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range fs {
		if !seen[f.path] {
			seen[f.path] = true
			out = append(out, f.path)
		}
	}
	sort.Strings(out)
	return out
}
