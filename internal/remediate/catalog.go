package remediate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/clearcutt/clearcutt/internal/catalog"
)

// ErrInvalidCatalog: the catalog directory holds no readable catalog.
var ErrInvalidCatalog = errors.New("invalid catalog")

// ReadCatalog reads DIR/catalog.json.
func ReadCatalog(dir string) (*catalog.Catalog, error) {
	p := filepath.Join(dir, catalog.FileName)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (run 'clearcutt catalog' first)", ErrInvalidCatalog, err)
	}
	var c catalog.Catalog
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidCatalog, p, err)
	}
	if c.APIVersion != catalog.APIVersion {
		return nil, fmt.Errorf("%w: %s: apiVersion %q, want %q", ErrInvalidCatalog, p, c.APIVersion, catalog.APIVersion)
	}
	for i, im := range c.Images {
		if im.Runtime == "" || im.Tier == "" {
			return nil, fmt.Errorf("%w: %s: images[%d] (%q) has no runtime or tier", ErrInvalidCatalog, p, i, im.Name)
		}
	}
	return &c, nil
}

// purlParts returns the type and name of a package URL ("pkg:nix/libwebp@1.3.0?…"
// → "nix", "libwebp"); ok is false for anything else.
func purlParts(purl string) (typ, name string, ok bool) {
	rest, found := strings.CutPrefix(purl, "pkg:")
	if !found {
		return "", "", false
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[:i]
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if len(segs) < 2 || segs[0] == "" || segs[len(segs)-1] == "" {
		return "", "", false
	}
	n, err := url.PathUnescape(segs[len(segs)-1])
	if err != nil {
		return "", "", false
	}
	return strings.ToLower(segs[0]), n, true
}

// packageOf is a finding's package as type and name: from its package URL
// when it has one, else from its package and type fields.
func packageOf(f catalog.Finding) (typ, name string) {
	if t, n, ok := purlParts(f.PURL); ok {
		return t, n
	}
	return f.Type, f.Package
}
