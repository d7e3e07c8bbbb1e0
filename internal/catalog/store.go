package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/clearcutt/clearcutt/internal/fsutil"
)

// Read returns the catalog in dir (nil without a catalog.json). A file that
// is not a catalog of this APIVersion is an error naming it.
func Read(dir string) (*Catalog, error) {
	p := filepath.Join(dir, FileName)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c Catalog
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, p, err)
	}
	if c.APIVersion != APIVersion {
		return nil, fmt.Errorf("%w: %s: apiVersion %q, want %q", ErrInvalid, p, c.APIVersion, APIVersion)
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
