package structure

import (
	"bytes"
	"debug/elf"
	"strings"
)

// elfInfo holds what the checks need to know about one ELF file.
type elfInfo struct {
	// Valid is false when debug/elf could not parse the file.
	Valid bool
	// Interp is the PT_INTERP program interpreter ("" if static or a
	// library without one).
	Interp string
	// Symtab is true when a .symtab section is present.
	Symtab bool
	// DebugSections lists .debug_* / .zdebug_* sections.
	DebugSections []string
	// SourceFiles are the names of STT_FILE symbols (source file names
	// the compiler recorded).
	SourceFiles []string
	// BusyBox is true when the file is a BusyBox multi-call binary,
	// whatever its name.
	BusyBox bool
	// Machine is the ELF header's target architecture.
	Machine elf.Machine
}

// unstripped reports whether the file still carries debug information or
// the names of its source files: what `strip -S` removes, and what nixpkgs'
// stdenv removes from every binary and library. A symbol table alone
// (function names; `strip -S` keeps it, so nixpkgs' binaries have one) is
// not unstripped.
func (i *elfInfo) unstripped() bool {
	return len(i.DebugSections) > 0 || len(i.SourceFiles) > 0
}

func inspectELF(data []byte) *elfInfo {
	info := &elfInfo{BusyBox: bytes.Contains(data, []byte("BusyBox v"))}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return info
	}
	defer f.Close()
	info.Valid = true
	info.Machine = f.Machine
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				info.Interp = strings.TrimRight(string(b), "\x00")
			}
		}
	}
	for _, s := range f.Sections {
		switch {
		case s.Name == ".symtab":
			info.Symtab = true
		case strings.HasPrefix(s.Name, ".debug_"), strings.HasPrefix(s.Name, ".zdebug_"):
			info.DebugSections = append(info.DebugSections, s.Name)
		}
	}
	if info.Symtab {
		if syms, err := f.Symbols(); err == nil {
			seen := map[string]bool{}
			for _, s := range syms {
				if elf.ST_TYPE(s.Info) == elf.STT_FILE && s.Name != "" && !seen[s.Name] {
					seen[s.Name] = true
					info.SourceFiles = append(info.SourceFiles, s.Name)
				}
			}
		}
	}
	return info
}
