package rescan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/oci"
)

// ErrInvalidCatalog is wrapped by every error about a catalog file.
var ErrInvalidCatalog = errors.New("invalid catalog")

// ReadCatalog reads DIR/catalog.json strictly (unknown fields are errors)
// and checks what the rescan relies on: the API version, and for every
// image a unique name, a reference by digest whose digest is the image's
// index digest, and platform digests. An image whose release failed with
// no release served has no reference (and nothing to rescan).
func ReadCatalog(dir string) (*catalog.Catalog, string, error) {
	path := filepath.Join(dir, catalog.FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, path, fmt.Errorf("%w: %v", ErrInvalidCatalog, err)
	}
	c, err := ParseCatalog(path, data)
	return c, path, err
}

// ParseCatalog decodes and checks a catalog (named path in errors).
func ParseCatalog(path string, data []byte) (*catalog.Catalog, error) {
	var c catalog.Catalog
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidCatalog, path, err)
	}
	if c.APIVersion != catalog.APIVersion {
		return nil, fmt.Errorf("%w: %s: apiVersion is %q, want %q", ErrInvalidCatalog, path, c.APIVersion, catalog.APIVersion)
	}
	if len(c.Images) == 0 {
		return nil, fmt.Errorf("%w: %s: images: the catalog lists no image", ErrInvalidCatalog, path)
	}
	names := map[string]int{}
	for i, im := range c.Images {
		fail := func(field, format string, args ...any) error {
			return fmt.Errorf("%w: %s: images[%d].%s (%s): %s", ErrInvalidCatalog, path, i, field, im.Name, fmt.Sprintf(format, args...))
		}
		if im.Name == "" {
			return nil, fail("name", "empty")
		}
		if j, dup := names[im.Name]; dup {
			return nil, fail("name", "also images[%d]", j)
		}
		names[im.Name] = i
		if im.Reference == "" && im.IndexDigest == "" && im.ReleaseFailed() {
			if len(im.Platforms) > 0 {
				return nil, fail("platforms", "listed, but no release of the image is served")
			}
			continue
		}
		want, err := v1.NewHash(im.IndexDigest)
		if err != nil {
			return nil, fail("indexDigest", "%v", err)
		}
		ref, err := oci.RequireDigest(im.Reference)
		if err != nil {
			return nil, fail("reference", "%v", err)
		}
		if got, _ := ref.Hash(); got != want {
			return nil, fail("reference", "names %s, not the index digest %s", got, want)
		}
		seen := map[string]bool{}
		for j, p := range im.Platforms {
			if _, err := v1.NewHash(p.Digest); err != nil {
				return nil, fail(fmt.Sprintf("platforms[%d].digest", j), "%v", err)
			}
			if seen[p.Digest] {
				return nil, fail(fmt.Sprintf("platforms[%d].digest", j), "%s listed twice", p.Digest)
			}
			seen[p.Digest] = true
		}
	}
	return &c, nil
}
