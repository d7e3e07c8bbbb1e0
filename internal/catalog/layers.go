package catalog

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/closure"
)

// DefaultMaxPruningCandidates caps a platform's pruning candidates.
const DefaultMaxPruningCandidates = 20

// storeDir is where Nix store paths live inside an image.
const storeDir = "/nix/store/"

// Pruning candidate reasons.
const (
	ReasonHeaders    = "headers (include/)"
	ReasonStaticLibs = "static libraries (*.a)"
	ReasonLibtool    = "libtool archives (*.la)"
	ReasonDocs       = "documentation (share/doc)"
	ReasonManPages   = "manual pages (share/man)"
	ReasonInfo       = "info manuals (share/info)"
	ReasonPkgConfig  = "pkg-config files (pkgconfig/)"
)

// OCI whiteouts: a file ".wh.NAME" deletes NAME from the layers below, and
// ".wh..wh..opq" deletes every child of its directory.
const (
	whiteoutPrefix     = ".wh."
	whiteoutOpaqueName = ".wh..wh..opq"
)

// layerFacts is what one layer's tar headers say: its regular files under
// the store, and the paths it deletes from the layers below.
type layerFacts struct {
	files []fileEntry
	// whiteouts are deleted paths; a path ending in "/" deletes the
	// directory's children only (an opaque directory).
	whiteouts []string
	// links are the symbolic links the scrub report is reached through,
	// and scrubs the contents of scrub reports in the store.
	links  map[string]string
	scrubs map[string][]byte
}

// scrubLink is where an image root holds its runtime's scrub report; the
// report itself lives in the runtime's store path.
var (
	scrubLink   = "/" + closure.ScrubPath
	scrubSuffix = "/nix-support/clearcutt-scrub.json"
)

// maxScrubReport bounds the bytes read of one scrub report.
const maxScrubReport = 1 << 20

type fileEntry struct {
	path string
	size int64
}

// readLayer walks the tar headers of l's uncompressed stream. File
// contents are skipped, never interpreted, except the runtime's scrub
// report; the stream is read to its end, so that a registry layer's digest
// is checked.
func readLayer(l v1.Layer) (layerFacts, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return layerFacts{}, err
	}
	defer rc.Close()
	var f layerFacts
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if _, err := io.Copy(io.Discard, rc); err != nil {
				return layerFacts{}, err
			}
			return f, nil
		}
		if err != nil {
			return layerFacts{}, fmt.Errorf("tar: %w", err)
		}
		name := path.Clean("/" + h.Name)
		dir, base := path.Split(name)
		switch {
		case base == whiteoutOpaqueName:
			f.whiteouts = append(f.whiteouts, dir)
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			f.whiteouts = append(f.whiteouts, dir+strings.TrimPrefix(base, whiteoutPrefix))
			continue
		}
		if h.Typeflag == tar.TypeSymlink && name == scrubLink {
			if f.links == nil {
				f.links = map[string]string{}
			}
			f.links[name] = h.Linkname
		}
		// The reader reports old-style regular files (TypeRegA) as TypeReg.
		if h.Typeflag == tar.TypeReg && strings.HasPrefix(name, storeDir) {
			f.files = append(f.files, fileEntry{path: name, size: h.Size})
			if strings.HasSuffix(name, scrubSuffix) {
				data, err := io.ReadAll(io.LimitReader(tr, maxScrubReport+1))
				if err != nil {
					return layerFacts{}, fmt.Errorf("tar: %s: %w", name, err)
				}
				if len(data) > maxScrubReport {
					return layerFacts{}, fmt.Errorf("%s: scrub report larger than %d bytes", name, maxScrubReport)
				}
				if f.scrubs == nil {
					f.scrubs = map[string][]byte{}
				}
				f.scrubs[name] = data
			}
		}
	}
}

// filesystem applies layers in order (whiteouts of a layer delete from the
// layers below it) and returns the regular files under the store with
// their sizes.
func filesystem(layers []layerFacts) map[string]int64 {
	fs := map[string]int64{}
	for _, l := range layers {
		for _, w := range l.whiteouts {
			children := strings.HasSuffix(w, "/")
			for p := range fs {
				if (!children && p == w) || strings.HasPrefix(p, strings.TrimSuffix(w, "/")+"/") {
					delete(fs, p)
				}
			}
		}
		for _, e := range l.files {
			fs[e.path] = e.size
		}
	}
	return fs
}

// scrubOf returns the scrub report the image root links to (nil when it
// has none: the dev tier, an image not built by nix/lib). The top layer's
// link and report win, as in the flattened filesystem.
func scrubOf(layers []layerFacts) (*closure.Scrub, error) {
	target := ""
	reports := map[string][]byte{}
	for _, l := range layers {
		if t, ok := l.links[scrubLink]; ok {
			target = t
		}
		for p, d := range l.scrubs {
			reports[p] = d
		}
	}
	if target == "" {
		return nil, nil
	}
	if !path.IsAbs(target) {
		target = path.Join(path.Dir(scrubLink), target)
	}
	data, ok := reports[path.Clean(target)]
	if !ok {
		return nil, fmt.Errorf("%s links to %s, which the image does not hold", scrubLink, target)
	}
	s, err := closure.ParseScrub(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	return s, nil
}

// closureFacts are the closure size and the pruning candidates (largest
// first, at most max) of the files under the store.
func closureFacts(fs map[string]int64, max int) (int64, []PruningCandidate) {
	var total int64
	groups := map[string]*PruningCandidate{}
	for p, size := range fs {
		total += size
		group, reason, ok := pruningGroup(p)
		if !ok {
			continue
		}
		c := groups[group]
		if c == nil {
			c = &PruningCandidate{Path: group, Reason: reason}
			groups[group] = c
		}
		c.Size += size
	}
	out := make([]PruningCandidate, 0, len(groups))
	for _, c := range groups {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Size != out[j].Size {
			return out[i].Size > out[j].Size
		}
		return out[i].Path < out[j].Path
	})
	if len(out) > max {
		out = out[:max]
	}
	return total, out
}

// pruningGroup classifies a file under the store: the directory (or the
// file pattern) it is counted under and why it is rarely needed at run
// time. Headers, documentation and manuals count from the top of their
// store path; pkg-config directories wherever they are; static libraries
// and libtool archives per directory.
func pruningGroup(p string) (string, string, bool) {
	rest := strings.TrimPrefix(p, storeDir)
	sp, rel, ok := strings.Cut(rest, "/")
	if !ok || sp == "" {
		return "", "", false
	}
	root := storeDir + sp
	for _, top := range []struct{ dir, reason string }{
		{"include/", ReasonHeaders},
		{"share/doc/", ReasonDocs},
		{"share/man/", ReasonManPages},
		{"share/info/", ReasonInfo},
	} {
		if strings.HasPrefix(rel, top.dir) {
			return root + "/" + strings.TrimSuffix(top.dir, "/"), top.reason, true
		}
	}
	dir, file := path.Split(p)
	if i := strings.Index(dir, "/pkgconfig/"); i >= 0 {
		return dir[:i+len("/pkgconfig")], ReasonPkgConfig, true
	}
	switch {
	case strings.HasSuffix(file, ".a"):
		return dir + "*.a", ReasonStaticLibs, true
	case strings.HasSuffix(file, ".la"):
		return dir + "*.la", ReasonLibtool, true
	}
	return "", "", false
}
