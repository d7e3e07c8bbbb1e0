package oci

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// maxLinkHops bounds symlink resolution inside the image (as Linux's 40).
const maxLinkHops = 40

// checkLink refuses a symlink at image path img (read from logical path src)
// whose target escapes:
//   - a relative target that climbs above "/";
//   - a target under the store directory that is not inside a store path
//     the image materialises;
//   - a target elsewhere that does not resolve inside the image (the root
//     tree and the materialised store paths).
func (s *tarSource) checkLink(src, img, target string) error {
	if target == "" {
		return fmt.Errorf("%w: symlink %s has an empty target", ErrEscape, src)
	}
	resolved := target
	if !path.IsAbs(target) {
		depth := strings.Count(strings.Trim(path.Dir(img), "/"), "/") + 1
		if path.Dir(img) == "/" {
			depth = 0
		}
		for _, c := range strings.Split(target, "/") {
			switch c {
			case "", ".":
			case "..":
				depth--
				if depth < 0 {
					return fmt.Errorf("%w: symlink %s -> %s climbs above /", ErrEscape, src, target)
				}
			default:
				depth++
			}
		}
		resolved = path.Join(path.Dir(img), target)
	}
	resolved = path.Clean(resolved)
	if resolved == s.storeDir || strings.HasPrefix(s.storeDir, resolved+"/") || resolved == "/" {
		return nil
	}
	if rest, ok := strings.CutPrefix(resolved, s.storeDir+"/"); ok {
		first, _, _ := strings.Cut(rest, "/")
		if !s.allowed[s.storeDir+"/"+first] {
			return fmt.Errorf("%w: symlink %s -> %s points to %s, which is not in the closure", ErrEscape, src, target, s.storeDir+"/"+first)
		}
		return nil
	}
	if !s.existsInImage(resolved, 0) {
		return fmt.Errorf("%w: symlink %s -> %s points outside the closure and the image root", ErrEscape, src, target)
	}
	return nil
}

// existsInImage resolves image path p component by component, following
// symlinks inside the image, and reports whether it names an entry.
func (s *tarSource) existsInImage(p string, hops int) bool {
	if hops > maxLinkHops {
		return false
	}
	comps := strings.Split(strings.Trim(path.Clean(p), "/"), "/")
	cur := "/"
	for i, c := range comps {
		if c == "" {
			continue
		}
		next := path.Join(cur, c)
		if next == s.storeDir || strings.HasPrefix(s.storeDir, next+"/") {
			cur = next
			continue
		}
		var fsp string
		if rest, ok := strings.CutPrefix(next, s.storeDir+"/"); ok {
			first, _, _ := strings.Cut(rest, "/")
			if !s.allowed[s.storeDir+"/"+first] {
				return false
			}
			fsp = s.fsPath(next)
		} else {
			fsp = s.fsPath(s.root + next)
		}
		fi, err := os.Lstat(fsp)
		if err != nil {
			return false
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			t, err := os.Readlink(fsp)
			if err != nil {
				return false
			}
			if !path.IsAbs(t) {
				t = path.Join(cur, t)
			}
			return s.existsInImage(path.Join(append([]string{t}, comps[i+1:]...)...), hops+1)
		}
		cur = next
	}
	return true
}
