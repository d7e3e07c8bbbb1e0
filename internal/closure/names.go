package closure

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// storeBase matches the last element of a store path: 32 nix32 characters,
// a dash, and a name.
var storeBase = regexp.MustCompile(`^[0123456789abcdfghijklmnpqrsvwxyz]{32}-[A-Za-z0-9+._?=-]+$`)

// outputSuffixes are the output names Nix appends to non-default outputs
// ("openssl-3.0.13-dev").
var outputSuffixes = []string{"bin", "dev", "lib", "out", "doc", "man", "info", "debug", "static", "devdoc"}

// CheckStorePath reports whether p is an absolute store path without
// sub-path: /<store>/<hash>-<name>.
func CheckStorePath(p string) error {
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p || !storeBase.MatchString(path.Base(p)) {
		return fmt.Errorf("%q is not a store path", p)
	}
	return nil
}

// ParseStorePathName splits a store path (or its base name) into package
// name and version the way `builtins.parseDrvName` and syft do: the version
// starts at the first dash that is followed by something other than a
// letter. A trailing output name ("-dev", "-lib") is dropped from the
// version. Paths without a version (sources, "clearcutt-python-root") give
// an empty version.
func ParseStorePathName(p string) (pname, version string) {
	base := path.Base(p)
	if storeBase.MatchString(base) {
		base = base[33:]
	}
	for i := 0; i+1 < len(base); i++ {
		if base[i] != '-' {
			continue
		}
		c := base[i+1]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			continue
		}
		pname, version = base[:i], base[i+1:]
		for _, o := range outputSuffixes {
			if v, ok := strings.CutSuffix(version, "-"+o); ok && v != "" {
				version = v
				break
			}
		}
		return pname, version
	}
	return base, ""
}
