package site

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clearcutt/clearcutt/internal/catalog"
)

// Finding statuses (catalog.Finding.Status).
const (
	findingActive     = catalog.FindingActive
	findingSuppressed = catalog.FindingSuppressed
	findingExcepted   = catalog.FindingExcepted
)

// Channels in report order.
var channels = catalog.Channels

// load reads and checks DIR/catalog.json (catalog.Read) with what the
// site relies on besides: the fleet's verification mode (the site prints
// verification commands), every status it renders, no two images that
// render to the same page, and every SBOM file the catalog names an SPDX
// JSON document. Every error wraps catalog.ErrInvalidCatalog and names the
// catalog file.
func load(dir string) (*catalog.Catalog, error) {
	c, err := catalog.Read(dir, catalog.RequireVerificationMode, catalog.RequireStatuses)
	if err != nil {
		return nil, err
	}
	if err := checkFiles(c, dir); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", catalog.ErrInvalidCatalog, catalog.Path(dir), err)
	}
	return c, nil
}

// checkFiles refuses two images of one page name, and an SBOM file that
// is missing or not SPDX JSON.
func checkFiles(c *catalog.Catalog, dir string) error {
	pages := map[string]string{}
	for i, im := range c.Images {
		at := fmt.Sprintf("images[%d]", i)
		page := pageName(im)
		if prev, dup := pages[page]; dup {
			return fmt.Errorf("%s (%s) and %s have the same runtime and tier", at, im.Name, prev)
		}
		pages[page] = at
		for j, p := range im.Platforms {
			if p.SBOM == "" {
				continue
			}
			if _, err := readSBOM(dir, p.SBOM); err != nil {
				return fmt.Errorf("%s.platforms[%d].sbom: %v", at, j, err)
			}
		}
	}
	return nil
}

// readSBOM reads an SPDX JSON document at a path inside the catalog
// directory.
func readSBOM(dir, rel string) ([]byte, error) {
	if !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("%q is not a path inside the catalog directory", rel)
	}
	data, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		return nil, err
	}
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", rel, err)
	}
	if !strings.HasPrefix(doc.SPDXVersion, "SPDX-") {
		return nil, fmt.Errorf("%s: not an SPDX JSON document (spdxVersion %q)", rel, doc.SPDXVersion)
	}
	return data, nil
}

// splitRef splits repository@digest at its last '@'.
func splitRef(ref string) (repo, digest string) {
	i := strings.LastIndex(ref, "@")
	if i < 0 {
		return "", ""
	}
	return ref[:i], ref[i+1:]
}
