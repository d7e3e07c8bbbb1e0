package structure

import (
	"path"
	"regexp"
	"strings"
)

// ShellNames are basenames that are command interpreters. BusyBox and
// toybox are included: either one is a shell under another name.
var ShellNames = []string{
	"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "pdksh", "yash",
	"csh", "tcsh", "fish", "rbash", "busybox", "toybox",
}

// PackageManagerNames are basenames of package managers: the system ones,
// Nix's own, and the language ones. A language package manager is exactly
// what an attacker uses to pull tools into a runtime image, so a tier that
// forbids package managers forbids pip and npm as well.
var PackageManagerNames = []string{
	// system
	"apt", "apt-get", "apt-cache", "aptitude", "dpkg", "dpkg-deb", "rpm",
	"yum", "dnf", "microdnf", "tdnf", "apk", "zypper", "pacman", "opkg",
	"emerge", "snap", "flatpak",
	// Nix
	"nix", "nix-env", "nix-store", "nix-build", "nix-shell", "nix-channel",
	"nix-instantiate", "nix-daemon",
	// language
	"pip", "pip3", "easy_install", "pipx", "uv", "poetry", "conda", "mamba",
	"npm", "npx", "yarn", "yarnpkg", "pnpm", "corepack", "gem", "bundle",
}

// pipVersioned matches pip3.12 and the like.
var pipVersioned = regexp.MustCompile(`^(pip|easy_install)[0-9]+(\.[0-9]+)*$`)

// PackageManagerDirs are directory suffixes that let a runtime install
// packages without a command on PATH: `python -m pip`, `python -m
// ensurepip`, npm and corepack shipped as Node modules.
var PackageManagerDirs = []string{
	"/site-packages/pip",
	"/dist-packages/pip",
	"/ensurepip",
	"/node_modules/npm",
	"/node_modules/corepack",
}

// CoreutilsNames are basenames of general-purpose file, process and
// network tools. env is included because `#!/usr/bin/env` is how scripts
// find interpreters; curl, wget and nc because they fetch second stages.
var CoreutilsNames = []string{
	"ls", "cat", "cp", "mv", "rm", "rmdir", "mkdir", "ln", "touch",
	"chmod", "chown", "chgrp", "install", "mktemp", "stat", "dd",
	"echo", "printf", "env", "id", "whoami", "uname", "kill", "ps",
	"head", "tail", "sed", "awk", "gawk", "grep", "find", "xargs",
	"tar", "base64", "mount",
	"wget", "curl", "nc", "ncat", "netcat", "socat",
}

// CredentialHelperName is the dev tier's registry credential helper.
const CredentialHelperName = "clearcutt-credential-helper"

// inBinDir reports whether p sits in a directory that holds commands:
// any directory named bin, sbin or libexec (/bin, /usr/local/bin,
// /nix/store/*/bin, ...), or anything under /nix/store/*/bin.
func inBinDir(p string) bool {
	switch path.Base(path.Dir(p)) {
	case "bin", "sbin", "libexec":
		return true
	}
	if rest, ok := strings.CutPrefix(p, "/nix/store/"); ok {
		if _, sub, ok := strings.Cut(rest, "/"); ok && strings.HasPrefix(sub, "bin/") {
			return true
		}
	}
	return false
}

func isShellName(base string) bool { return contains(ShellNames, base) }

func isPackageManagerName(base string) bool {
	return contains(PackageManagerNames, base) || pipVersioned.MatchString(base)
}

func isPackageManagerDir(p string) bool {
	for _, s := range PackageManagerDirs {
		if strings.HasSuffix(p, s) {
			return true
		}
	}
	return false
}

// shebangShell reports whether a shebang names a shell, directly or
// through env ("/usr/bin/env bash", "/usr/bin/env -S sh -e").
func shebangShell(shebang string) bool {
	interp, arg := shebangArgs(shebang)
	if isShellName(path.Base(interp)) {
		return true
	}
	if path.Base(interp) == "env" {
		for _, f := range strings.Fields(arg) {
			if strings.HasPrefix(f, "-") || strings.Contains(f, "=") {
				continue
			}
			return isShellName(path.Base(f))
		}
	}
	return false
}
