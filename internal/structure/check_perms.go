package structure

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// checkNoSetuid: no file carries the setuid or setgid bit. A setgid
// directory only sets the group of new files and is not reported.
func checkNoSetuid(in *inputs) Check {
	const name = "no setuid or setgid files"
	var bad, desc []string
	for _, p := range in.ix.paths() {
		e := in.ix.get(p)
		if e.Type == typeDir || e.Type == typeSymlink || e.Mode&(fs.ModeSetuid|fs.ModeSetgid) == 0 {
			continue
		}
		bad = append(bad, p)
		desc = append(desc, fmt.Sprintf("%s (%s)", p, modeString(e.Mode)))
	}
	if len(bad) > 0 {
		return fail(IDNoSetuid, name, summarize("setuid/setgid", desc), bad...)
	}
	return pass(IDNoSetuid, name, "none found")
}

// checkWorldWritable: nothing is writable by others, except directories
// with the sticky bit (/tmp).
func checkWorldWritable(in *inputs) Check {
	const name = "no world-writable files or directories"
	var bad, desc []string
	for _, p := range in.ix.paths() {
		e := in.ix.get(p)
		if e.Type == typeSymlink || e.Mode&0o002 == 0 {
			continue
		}
		if e.Type == typeDir && e.Mode&fs.ModeSticky != 0 {
			continue
		}
		bad = append(bad, p)
		desc = append(desc, fmt.Sprintf("%s (%s)", p, modeString(e.Mode)))
	}
	if len(bad) > 0 {
		return fail(IDWorldWritable, name, summarize("world-writable", desc), bad...)
	}
	return pass(IDWorldWritable, name, "none found")
}

// checkTmp: /tmp is a directory with mode 1777.
func checkTmp(in *inputs) Check {
	const name = "/tmp exists with mode 1777"
	e, rp, err := in.ix.resolve("/tmp")
	if err != nil {
		return fail(IDTmp, name, fmt.Sprintf("/tmp: %v", err), "/tmp")
	}
	if e.Type != typeDir || e.Implicit {
		return fail(IDTmp, name, fmt.Sprintf("%s is not a directory entry of the image", rp), rp)
	}
	if e.Mode != fs.ModeSticky|0o777 {
		return fail(IDTmp, name, fmt.Sprintf("%s has mode %s, want 1777", rp, modeString(e.Mode)), rp)
	}
	return pass(IDTmp, name, rp+" 1777")
}

// checkStripped: no ELF file keeps a symbol table, debug sections or
// source file names. Failed when the tier forbids symbols; passed when it
// allows them, with the files that keep them in the detail.
func checkStripped(in *inputs) Check {
	const name = "ELF files are stripped"
	var bad, desc []string
	symtabs := 0
	for _, p := range in.ix.paths() {
		e := in.ix.get(p)
		if e.ELF != nil && e.ELF.Symtab {
			symtabs++
		}
		if e.ELF == nil || !e.ELF.unstripped() {
			continue
		}
		var what []string
		if e.ELF.Symtab {
			what = append(what, ".symtab")
		}
		if n := len(e.ELF.DebugSections); n > 0 {
			what = append(what, fmt.Sprintf("%d debug sections", n))
		}
		if n := len(e.ELF.SourceFiles); n > 0 {
			src := append([]string(nil), e.ELF.SourceFiles...)
			sort.Strings(src)
			if len(src) > 3 {
				src = append(src[:3], "...")
			}
			what = append(what, "source files "+strings.Join(src, " "))
		}
		bad = append(bad, p)
		desc = append(desc, fmt.Sprintf("%s (%s)", p, strings.Join(what, ", ")))
	}
	if len(bad) == 0 {
		if symtabs > 0 {
			return pass(IDStripped, name, fmt.Sprintf("no debug info or source file names; %d file(s) keep a symbol table (function names), as `strip -S` and nixpkgs leave them", symtabs))
		}
		return pass(IDStripped, name, "no symbols or debug info")
	}
	c := fail(IDStripped, name, summarize("unstripped ELF", desc), bad...)
	if in.rules.Symbols == Allowed {
		c.Status = Passed
		c.Detail = "the tier allows symbols: " + c.Detail
	}
	return c
}

// modeString renders permission bits as octal with the special bits,
// e.g. 4755 or 1777.
func modeString(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%04o", v)
}
