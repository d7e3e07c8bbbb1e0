package structure

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Check IDs.
const (
	IDPlatform         = "platform"
	IDPathsInsideRoot  = "paths-inside-root"
	IDNoDeviceNodes    = "no-device-nodes"
	IDELFMachine       = "elf-machine"
	IDNoShell          = "no-shell"
	IDShellPresent     = "shell-present"
	IDNoPackageManager = "no-package-manager"
	IDNoCoreutils      = "no-coreutils"
	IDNoSetuid         = "no-setuid"
	IDNonrootUser      = "nonroot-user"
	IDCABundle         = "ca-bundle"
	IDEntrypoint       = "entrypoint-resolves"
	IDWorldWritable    = "world-writable"
	IDTmp              = "tmp"
	IDStripped         = "stripped"
	IDCredentialHelper = "credential-helper"
	IDSmoke            = "smoke"
)

// checkPlatform: the config names an OS and architecture, and they are the
// ones the caller resolved the image for.
func checkPlatform(in *inputs) Check {
	const name = "image config names the expected platform"
	got := in.cfg.OS + "/" + in.cfg.Architecture
	if in.cfg.Variant != "" {
		got += "/" + in.cfg.Variant
	}
	if in.cfg.OS == "" || in.cfg.Architecture == "" {
		return fail(IDPlatform, name, fmt.Sprintf("config os/architecture are empty (%q)", got))
	}
	if in.platform == "" {
		return pass(IDPlatform, name, got)
	}
	w := strings.Split(in.platform, "/")
	g := strings.Split(got, "/")
	if len(w) < 2 || w[0] != g[0] || w[1] != g[1] || (len(w) > 2 && (len(g) < 3 || w[2] != g[2])) {
		return fail(IDPlatform, name, fmt.Sprintf("config is %s, expected %s", got, in.platform))
	}
	return pass(IDPlatform, name, got)
}

// checkNoShell: no shell by name in a command directory, no ELF named like
// a shell anywhere, no BusyBox binary under any name, and no script whose
// interpreter is a shell.
func checkNoShell(in *inputs) Check {
	const name = "no shell in the image"
	var bad, desc []string
	for _, p := range in.ix.paths() {
		e := in.ix.get(p)
		base := path.Base(p)
		why := ""
		switch {
		case e.Type != typeDir && inBinDir(p) && isShellName(base):
			why = p
		case e.ELF != nil && isShellName(base):
			why = p
		case e.ELF != nil && e.ELF.BusyBox:
			why = p + " (BusyBox binary)"
		case e.Shebang != "" && shebangShell(e.Shebang):
			why = p + " (#!" + e.Shebang + ")"
		default:
			continue
		}
		bad = append(bad, p)
		desc = append(desc, why)
	}
	if len(bad) > 0 {
		return fail(IDNoShell, name, withChains(summarize("shell", desc), in.ix.explainStorePaths(bad, 3)), bad...)
	}
	return pass(IDNoShell, name, "no shell binary, link or shell script")
}

// checkShellPresent: /bin/sh resolves to an executable file.
func checkShellPresent(in *inputs) Check {
	const name = "/bin/sh is an executable"
	e, rp, err := in.ix.resolve("/bin/sh")
	if err != nil {
		return fail(IDShellPresent, name, fmt.Sprintf("/bin/sh: %v", err), "/bin/sh")
	}
	if e.Type != typeFile || e.Mode&0o111 == 0 {
		return fail(IDShellPresent, name, fmt.Sprintf("/bin/sh resolves to %s, which is not an executable file", rp), rp)
	}
	return pass(IDShellPresent, name, "/bin/sh -> "+rp)
}

// checkNoPackageManager: no package manager command in a command
// directory, and no package-manager module a runtime could run with -m.
func checkNoPackageManager(in *inputs) Check {
	const name = "no package manager in the image"
	var bad []string
	for _, p := range in.ix.paths() {
		e := in.ix.get(p)
		switch {
		case e.Type != typeDir && inBinDir(p) && isPackageManagerName(path.Base(p)):
			bad = append(bad, p)
		case e.Type == typeDir && isPackageManagerDir(p):
			bad = append(bad, p+"/")
		}
	}
	if len(bad) > 0 {
		return fail(IDNoPackageManager, name, summarize("package manager", bad), bad...)
	}
	return pass(IDNoPackageManager, name, "none found")
}

// checkNoCoreutils: none of CoreutilsNames in a command directory.
func checkNoCoreutils(in *inputs) Check {
	const name = "no general-purpose utilities in the image"
	var bad []string
	for _, p := range in.ix.paths() {
		e := in.ix.get(p)
		if e.Type != typeDir && inBinDir(p) && contains(CoreutilsNames, path.Base(p)) {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		return fail(IDNoCoreutils, name, withChains(summarize("utility", bad), in.ix.explainStorePaths(bad, 3)), bad...)
	}
	return pass(IDNoCoreutils, name, "none found")
}

// checkCredentialHelper: the helper is in a command directory and
// executable when the tier requires it; absent everywhere otherwise.
func checkCredentialHelper(in *inputs) Check {
	var found []string
	for _, p := range in.ix.paths() {
		if e := in.ix.get(p); e.Type != typeDir && path.Base(p) == CredentialHelperName {
			found = append(found, p)
		}
	}
	if !in.rules.CredentialHelper {
		const name = "no credential helper outside the dev tier"
		if len(found) > 0 {
			return fail(IDCredentialHelper, name, summarize(CredentialHelperName, found), found...)
		}
		return pass(IDCredentialHelper, name, "absent")
	}
	const name = "credential helper present"
	for _, p := range found {
		if !inBinDir(p) {
			continue
		}
		if e, _, err := in.ix.resolve(p); err == nil && e.Type == typeFile && e.Mode&0o111 != 0 {
			return pass(IDCredentialHelper, name, p)
		}
	}
	return fail(IDCredentialHelper, name, CredentialHelperName+" is not an executable in a bin directory", found...)
}

// withChains appends the reference chains that explain why store paths
// are in the image.
func withChains(detail string, chains []string) string {
	if len(chains) == 0 {
		return detail
	}
	return detail + "; " + strings.Join(chains, "; ")
}

// summarize renders "3 shells found: a, b, c" with at most five paths.
func summarize(what string, paths []string) string {
	sort.Strings(paths)
	shown := paths
	if len(shown) > 5 {
		shown = shown[:5]
	}
	s := fmt.Sprintf("%d %s path(s) found: %s", len(paths), what, strings.Join(shown, ", "))
	if len(paths) > len(shown) {
		s += fmt.Sprintf(", and %d more", len(paths)-len(shown))
	}
	return s
}
