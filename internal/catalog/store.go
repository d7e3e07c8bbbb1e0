package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/clearcutt/clearcutt/internal/fsutil"
)

// Path is the catalog file of catalog directory dir.
func Path(dir string) string { return filepath.Join(dir, FileName) }

// Read reads DIR/catalog.json and checks it as Parse does. Every error
// wraps ErrInvalidCatalog and names the file; a missing file also wraps
// fs.ErrNotExist.
func Read(dir string, reqs ...Requirement) (*Catalog, error) {
	p := Path(dir)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w (run 'clearcutt catalog' first)", ErrInvalidCatalog, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCatalog, err)
	}
	return Parse(p, b, reqs...)
}

// Parse decodes the catalog data read from path (which names it in
// errors) strictly: an unknown field, or data after the catalog object, is
// refused. It then checks the catalog with Validate and each of reqs: the
// format version first, then reqs, then the rest of Validate, and names
// the first fault found. Every error wraps ErrInvalidCatalog.
func Parse(path string, data []byte, reqs ...Requirement) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidCatalog, path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: %s: data after the catalog object", ErrInvalidCatalog, path)
	}
	checks := append([]Requirement{(*Catalog).checkVersion}, reqs...)
	checks = append(checks, (*Catalog).checkContent)
	for _, check := range checks {
		if err := check(&c); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidCatalog, path, err)
		}
	}
	return &c, nil
}

// Marshal is the catalog as written to catalog.json: indented JSON with a
// final newline.
func Marshal(c Catalog) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var sbomName = regexp.MustCompile(`^[0-9a-f]{64}\.spdx\.json$`)

// Write stores r in dir: the SBOM documents first, then catalog.json, each
// through a temporary file in the same directory and a rename, so readers
// see the previous catalog or the new one, never a part of either. SBOM
// documents the new catalog no longer names are removed afterwards.
func Write(dir string, r Result) error {
	js, err := Marshal(r.Catalog)
	if err != nil {
		return err
	}
	named := map[string]bool{}
	for _, im := range r.Catalog.Images {
		for _, p := range im.Platforms {
			if p.SBOM == "" {
				continue
			}
			if _, ok := r.SBOMs[p.SBOM]; !ok {
				return fmt.Errorf("%w: %s %s names %s, which the result does not hold", ErrInvalid, im.Name, p.Platform, p.SBOM)
			}
			named[p.SBOM] = true
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "sbom"), 0o755); err != nil {
		return err
	}
	for rel, doc := range r.SBOMs {
		if !named[rel] {
			return fmt.Errorf("%w: SBOM %s is named by no platform", ErrInvalid, rel)
		}
		if dir, file := filepath.Split(filepath.FromSlash(rel)); dir != "sbom"+string(filepath.Separator) || !sbomName.MatchString(file) {
			return fmt.Errorf("%w: SBOM path %q is not sbom/<hex>.spdx.json", ErrInvalid, rel)
		}
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, filepath.FromSlash(rel)), doc, 0o644); err != nil {
			return err
		}
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, FileName), js, 0o644); err != nil {
		return err
	}
	ents, err := os.ReadDir(filepath.Join(dir, "sbom"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if sbomName.MatchString(e.Name()) && !named["sbom/"+e.Name()] {
			if err := os.Remove(filepath.Join(dir, "sbom", e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
