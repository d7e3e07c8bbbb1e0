package site

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/clearcutt/clearcutt/internal/catalog"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

var pages = template.Must(template.New("site").Funcs(template.FuncMap{
	"statusLabel":  statusLabel,
	"statusSymbol": statusSymbol,
	"statusClass":  func(s catalog.Status) string { return strings.ReplaceAll(string(s), "_", "-") },
	"findingStatus": func(s string) string {
		switch s {
		case findingSuppressed:
			return "suppressed by VEX"
		case findingExcepted:
			return "excepted"
		}
		return s
	},
	"sevClass": func(s string) string {
		s = strings.ToLower(s)
		if _, ok := severityFill[s]; ok {
			return s
		}
		return "unknown"
	},
	"sevTotal":   severityTotal,
	"join":       strings.Join,
	"timeOf":     timeOf,
	"isZero":     func(t time.Time) bool { return t.IsZero() },
	"iso":        func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"human":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"humanBytes": humanBytes,
	"advisory":   advisoryURL,
	"execForm":   execForm,
	"date":       func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"deref":      func(p *int) int { return *p },
	"num":        func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
}).ParseFS(templateFS, "templates/*.html"))

// execForm shows a command as the exec-form JSON array an image config
// and a Dockerfile use.
func execForm(ws []string) string {
	b, _ := json.Marshal(ws)
	return string(b)
}

func humanBytes(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }

// timeOf turns an optional time into a time (zero when absent).
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// File is one file of the site: its path relative to the site root, and
// its content.
type File struct {
	Path string
	Data []byte
	// Page is true for HTML pages.
	Page bool
}

// Render renders the site of catalog c, whose SBOM files are read from
// dir. The same catalog always renders to the same bytes.
func Render(c *catalog.Catalog, dir string) ([]File, error) {
	var files []File
	page := func(name, tmpl string, data any) error {
		var b bytes.Buffer
		if err := pages.ExecuteTemplate(&b, tmpl, data); err != nil {
			return fmt.Errorf("rendering %s: %w", name, err)
		}
		files = append(files, File{Path: name, Data: b.Bytes(), Page: true})
		return nil
	}
	if err := page("index.html", "index.html", newIndexPage(c)); err != nil {
		return nil, err
	}
	for _, im := range c.Images {
		if err := page(pageName(im), "image.html", newImagePage(c, im)); err != nil {
			return nil, err
		}
	}
	files = append(files, File{Path: "style.css", Data: styleCSS})
	if c.Fleet.Identity == nil && c.Fleet.PublicKeyPEM != "" {
		files = append(files, File{Path: KeyFile, Data: []byte(c.Fleet.PublicKeyPEM)})
	}
	copied := map[string]bool{}
	for _, im := range c.Images {
		for _, p := range im.Platforms {
			name := sbomName(p.Digest)
			if p.SBOM == "" || copied[name] {
				continue
			}
			data, err := readSBOM(dir, p.SBOM)
			if err != nil {
				return nil, fmt.Errorf("%w: %s %s: %v", catalog.ErrInvalidCatalog, im.Name, p.Platform, err)
			}
			copied[name] = true
			files = append(files, File{Path: name, Data: data})
		}
	}
	return files, nil
}
