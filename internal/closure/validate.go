package closure

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

var modeRe = regexp.MustCompile(`^[0-7]{3,4}$`)

// Validate checks the manifest's internal consistency: the schema, that
// Root and RuntimePath are in the closure, that every reference stays
// inside the closure, and that every permission names a clean relative path
// inside the root.
func (m *Manifest) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrManifest, fmt.Sprintf(format, a...))
	}
	if m.Schema != ManifestSchema {
		return bad("schema is %q, want %q", m.Schema, ManifestSchema)
	}
	if _, err := archOf(m.System); err != nil {
		return bad("field system: %v", err)
	}
	if len(m.Paths) == 0 {
		return bad("field paths is empty")
	}
	in := make(map[string]bool, len(m.Paths))
	for i, p := range m.Paths {
		if err := CheckStorePath(p.Path); err != nil {
			return bad("paths[%d]: %v", i, err)
		}
		if in[p.Path] {
			return bad("paths[%d]: %s appears twice", i, p.Path)
		}
		if _, err := SRIHash(p.NarHash); err != nil || !strings.HasPrefix(p.NarHash, "sha256-") {
			return bad("paths[%d] (%s): narHash %q is not an SRI sha256 hash", i, p.Path, p.NarHash)
		}
		in[p.Path] = true
	}
	for _, p := range m.Paths {
		for _, r := range p.References {
			if !in[r] {
				return bad("%s references %s, which is not in the closure", p.Path, r)
			}
		}
	}
	if m.Root == "" || !in[m.Root] {
		return bad("field root %q is not in the closure", m.Root)
	}
	if m.RuntimePath == "" || !in[m.RuntimePath] {
		return bad("field runtimePath %q is not in the closure", m.RuntimePath)
	}
	for i, p := range m.Permissions {
		if err := checkRelPath(p.Path); err != nil {
			return bad("permissions[%d].path: %v", i, err)
		}
		if !modeRe.MatchString(p.Mode) {
			return bad("permissions[%d] (%s): mode %q is not an octal mode", i, p.Path, p.Mode)
		}
		if p.UID < 0 || p.GID < 0 {
			return bad("permissions[%d] (%s): negative uid/gid", i, p.Path)
		}
	}
	return nil
}

// checkRelPath accepts "tmp", "home/nonroot"; rejects "", "/tmp", "a/../b",
// "../etc", "./tmp", "tmp/".
func checkRelPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path")
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("%q is absolute, want a path relative to the image root", p)
	case path.Clean(p) != p:
		return fmt.Errorf("%q is not clean (want %q)", p, path.Clean(p))
	case p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("%q escapes the image root", p)
	case p == ".":
		return fmt.Errorf("%q names the root itself", p)
	}
	return nil
}
