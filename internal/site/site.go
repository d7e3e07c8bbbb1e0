// Package site renders the fleet catalog (catalog.json and the SBOMs beside
// it) as a static web site: an overview of every image with the status of
// each evidence channel and its vulnerability counts, and one page per
// image with its digests, per-architecture facts and evidence, copy-paste
// verification commands pinned to the fleet's identity, the SBOM for
// download, the findings and a trend chart of past scans.
//
// The site is plain HTML and one stylesheet: no scripts, no remote
// resources, relative links only, so it works from any static host and
// from file://. Every value is escaped by html/template; the same catalog
// always renders to the same bytes.
package site

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/clearcutt/clearcutt/internal/fsutil"
)

// Marker is the file that marks a directory as a site written by Build;
// Build replaces an existing directory only when it holds this file (or
// is empty).
const Marker = ".clearcutt-site"

// ErrNotASite is returned when the output directory exists, is not empty
// and was not written by Build: it is never replaced.
var ErrNotASite = errors.New("not a directory written by clearcutt site")

// Options says where the catalog is and where the site goes.
type Options struct {
	// CatalogDir holds catalog.json and the SBOM files it names.
	CatalogDir string
	// OutDir is the site directory; it is replaced as a whole.
	OutDir string
}

// Result is what Build wrote.
type Result struct {
	// OutDir is the site directory.
	OutDir string `json:"outDir"`
	// Images is the number of images in the catalog.
	Images int `json:"images"`
	// Pages are the HTML pages written, relative to OutDir.
	Pages []string `json:"pages"`
	// Files are every file written (pages, stylesheet, SBOMs), relative
	// to OutDir.
	Files []string `json:"files"`
}

// Build renders the catalog in opts.CatalogDir into opts.OutDir. The site
// is written into a temporary directory beside OutDir and swapped in
// whole: when Build fails, the previous site is left as it was.
func Build(opts Options) (Result, error) {
	if opts.CatalogDir == "" || opts.OutDir == "" {
		return Result{}, fmt.Errorf("site: the catalog and the output directory are both required")
	}
	c, err := load(opts.CatalogDir)
	if err != nil {
		return Result{}, err
	}
	files, err := Render(c, opts.CatalogDir)
	if err != nil {
		return Result{}, err
	}
	out := filepath.Clean(opts.OutDir)
	if err := outside(opts.CatalogDir, out); err != nil {
		return Result{}, err
	}
	if err := replaceable(out); err != nil {
		return Result{}, err
	}
	if err := writeSite(out, files); err != nil {
		return Result{}, err
	}
	res := Result{OutDir: out, Images: len(c.Images), Pages: []string{}, Files: []string{}}
	for _, f := range files {
		if f.Page {
			res.Pages = append(res.Pages, f.Path)
		}
		res.Files = append(res.Files, f.Path)
	}
	sort.Strings(res.Files)
	return res, nil
}

// outside refuses an output directory that is the catalog directory or
// holds it: replacing the site would delete the catalog.
func outside(catalogDir, out string) error {
	c, err := filepath.Abs(catalogDir)
	if err != nil {
		return err
	}
	o, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(o, c); err == nil && filepath.IsLocal(rel) || c == o {
		return fmt.Errorf("%w: %s holds the catalog %s; write the site elsewhere", ErrNotASite, out, catalogDir)
	}
	return nil
}

// replaceable refuses an output path that is not a directory, or a
// directory that holds something other than a previous site.
func replaceable(out string) error {
	fi, err := os.Lstat(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory", ErrNotASite, out)
	}
	if _, err := os.Stat(filepath.Join(out, Marker)); err == nil {
		return nil
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%w: %s is not empty and has no %s; refusing to replace it", ErrNotASite, out, Marker)
	}
	return nil
}

// writeSite writes files into a fresh directory beside out, then swaps it
// in for out.
func writeSite(out string, files []File) (err error) {
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".new-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	marker := File{Path: Marker, Data: []byte("written by clearcutt site; the whole directory is replaced at each run\n")}
	for _, f := range append(files, marker) {
		p := filepath.Join(tmp, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	return swap(tmp, out)
}

// swap moves dir to out, replacing a previous out. If the second rename
// fails, the previous out is put back.
func swap(dir, out string) error {
	old, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".old-")
	if err != nil {
		return err
	}
	// MkdirTemp reserved the name; rename needs it gone (empty directory).
	if err := os.Remove(old); err != nil {
		return err
	}
	if err := fsutil.SwapDir(dir, out, old); err != nil {
		var re *fsutil.RestoreError
		if errors.As(err, &re) {
			return fmt.Errorf("%w (and restoring the previous site from %s: %v)", re.Err, old, re.RestoreErr)
		}
		return err
	}
	return os.RemoveAll(old)
}
