package structure

import (
	"debug/elf"
	"fmt"
)

// elfMachines maps an OCI architecture to the ELF machine of its programs.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"386":     elf.EM_386,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

// checkELFMachine: every ELF file in the image (programs and libraries,
// in the store and outside it) is built for the image's architecture. It
// is what an image for an architecture this host cannot run is checked
// by, since its smoke run is skipped.
func checkELFMachine(in *inputs) Check {
	const name = "every ELF file is for the image's architecture"
	arch := in.cfg.Architecture
	want, ok := elfMachines[arch]
	if !ok {
		return fail(IDELFMachine, name, fmt.Sprintf("architecture %q has no known ELF machine", arch))
	}
	var bad, desc []string
	n := 0
	for _, p := range in.ix.paths() {
		e := in.ix.get(p)
		if e.Type != typeFile || e.ELF == nil {
			continue
		}
		n++
		switch {
		case !e.ELF.Valid:
			bad = append(bad, p)
			desc = append(desc, p+" (unreadable ELF header)")
		case e.ELF.Machine != want:
			bad = append(bad, p)
			desc = append(desc, fmt.Sprintf("%s (%s)", p, e.ELF.Machine))
		}
	}
	if len(bad) > 0 {
		return fail(IDELFMachine, name, summarize("ELF file not for "+want.String(), desc), bad...)
	}
	return pass(IDELFMachine, name, fmt.Sprintf("%d ELF file(s), all %s", n, want))
}
