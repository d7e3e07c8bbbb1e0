package sbom

import (
	"regexp"
	"strings"

	"github.com/anchore/packageurl-go"
	"github.com/anchore/syft/syft/cpe"
	"github.com/spdx/tools-golang/spdx"
)

// upstream is the NVD vendor:product of a Nix package; the zero value
// means the package has no CPE (data, certificates, ClearCutt's own).
type upstream struct{ vendor, product string }

// upstreams maps Nix pnames to the CPE vendor:product scanners match.
// Syft guesses <pname>:<pname>, which is right for openssl and zlib and
// wrong for python3, nodejs, openjdk and every prefixed name.
var upstreams = map[string]upstream{
	"python3":          {"python", "python"},
	"python3-minimal":  {"python", "python"},
	"python":           {"python", "python"},
	"openssl":          {"openssl", "openssl"},
	"zlib":             {"zlib", "zlib"},
	"glibc":            {"gnu", "glibc"},
	"nodejs":           {"nodejs", "node.js"},
	"nodejs-slim":      {"nodejs", "node.js"},
	"openjdk":          {"oracle", "openjdk"},
	"openjdk-headless": {"oracle", "openjdk"},
	"jdk":              {"oracle", "openjdk"},
	"jre":              {"oracle", "openjdk"},
	"jre-minimal":      {"oracle", "openjdk"},
	"busybox":          {"busybox", "busybox"},
	"bash":             {"gnu", "bash"},
	"bash-interactive": {"gnu", "bash"},
	"expat":            {"libexpat_project", "libexpat"},
	"coreutils":        {"gnu", "coreutils"},
	"gnumake":          {"gnu", "make"},
	"gcc-wrapper":      {"gnu", "gcc"},
	"gcc":              {"gnu", "gcc"},
	"libgcc":           {"gnu", "gcc"},
	"xz":               {"tukaani", "xz"},
	"bzip2":            {"bzip", "bzip2"},
	"libffi":           {"libffi_project", "libffi"},
	"ncurses":          {"gnu", "ncurses"},
	"readline":         {"gnu", "readline"},
	"sqlite":           {"sqlite", "sqlite"},
	"curl":             {"haxx", "curl"},
	"freetype":         {"freetype", "freetype"},
	"fontconfig":       {"fontconfig_project", "fontconfig"},
	"libjpeg-turbo":    {"libjpeg-turbo", "libjpeg-turbo"},
	"cups":             {"openprinting", "cups"},
	"tzdata":           {},
	"nss-cacert":       {},
	"cacert":           {},
	"mailcap":          {},
	"iana-etc":         {},
}

// pythonPackage matches nixpkgs' Python package names: python3.11-<pypi name>.
var pythonPackage = regexp.MustCompile(`^python3\.[0-9]+-(.+)$`)

// upstreamRefs returns the external references a Nix package gets beyond
// its pkg:nix purl (a pypi purl, CPEs), and whether pname is known, in
// which case Syft's guessed CPEs are dropped.
func upstreamRefs(pname, version string) (refs []*spdx.PackageExternalReference, known bool) {
	u, known := upstreams[pname]
	if !known && strings.HasPrefix(pname, "clearcutt-") {
		known = true
	}
	if m := pythonPackage.FindStringSubmatch(pname); !known && m != nil {
		known = true
		py := strings.ToLower(m[1])
		u = upstream{"python", py}
		if version != "" {
			refs = append(refs, purlRef(packageurl.NewPackageURL("pypi", "", py, version, nil, "").ToString()))
		}
	}
	if u.vendor != "" && version != "" {
		c := cpe.Attributes{Part: "a", Vendor: u.vendor, Product: u.product, Version: version}
		refs = append(refs, &spdx.PackageExternalReference{Category: "SECURITY", RefType: "cpe23Type", Locator: c.String()})
	}
	return refs, known
}

func purlRef(p string) *spdx.PackageExternalReference {
	return &spdx.PackageExternalReference{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: p}
}
