package remediate

import (
	"net/url"
	"strings"

	"github.com/clearcutt/clearcutt/internal/catalog"
)

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
