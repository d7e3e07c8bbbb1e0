package structure

import (
	"fmt"
	"path"
	"strings"
)

// DefaultPath is the PATH a runtime uses when the config env has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// checkEntrypoint: the program the image starts (Entrypoint[0], else
// Cmd[0]) resolves inside the image to an executable file, and so does
// its ELF interpreter or, for a script, its shebang interpreter (and the
// program `env` would look up).
func checkEntrypoint(in *inputs) Check {
	const name = "entrypoint resolves to an executable"
	argv := in.cfg.Config.Entrypoint
	if len(argv) == 0 {
		argv = in.cfg.Config.Cmd
	}
	if len(argv) == 0 && in.noProgram {
		return Check{ID: IDEntrypoint, Name: name, Status: NotApplicable, Detail: "not applicable: the image is a base that starts no program of its own"}
	}
	if len(argv) == 0 || argv[0] == "" {
		return fail(IDEntrypoint, name, "config has neither Entrypoint nor Cmd")
	}
	pathEnv := envValue(in.cfg.Config.Env, "PATH")
	if pathEnv == "" {
		pathEnv = DefaultPath
	}
	cwd := in.cfg.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	chain, err := resolveProgram(in.ix, argv[0], pathEnv, cwd, 0)
	if err != nil {
		return fail(IDEntrypoint, name, err.Error(), argv[0])
	}
	return pass(IDEntrypoint, name, strings.Join(chain, " => "))
}

// resolveProgram resolves one program and, recursively, the interpreter it
// needs. It returns the chain of resolved paths.
func resolveProgram(ix *index, prog, pathEnv, cwd string, depth int) ([]string, error) {
	if depth > 4 {
		return nil, fmt.Errorf("%s: interpreter chain too deep", prog)
	}
	p, err := ix.lookPath(prog, pathEnv, cwd)
	if err != nil {
		return nil, err
	}
	e, rp, err := ix.resolve(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	if e.Type != typeFile {
		return nil, fmt.Errorf("%s resolves to %s, which is not a regular file", p, rp)
	}
	if e.Mode&0o111 == 0 {
		return nil, fmt.Errorf("%s resolves to %s, which is not executable (mode %s)", p, rp, modeString(e.Mode))
	}
	chain := []string{rp}
	if p != rp {
		chain[0] = p + " -> " + rp
	}
	switch {
	case e.ELF != nil:
		if !e.ELF.Valid {
			return nil, fmt.Errorf("%s: not a valid ELF file", rp)
		}
		if e.ELF.Interp == "" {
			return chain, nil
		}
		ie, irp, err := ix.resolve(e.ELF.Interp)
		if err != nil {
			return nil, fmt.Errorf("%s: ELF interpreter %v", rp, err)
		}
		if ie.Type != typeFile {
			return nil, fmt.Errorf("%s: ELF interpreter %s is not a regular file", rp, irp)
		}
		return append(chain, "interp "+irp), nil
	case e.Shebang != "":
		interp, arg := shebangArgs(e.Shebang)
		if !path.IsAbs(interp) {
			return nil, fmt.Errorf("%s: shebang interpreter %q is not an absolute path", rp, interp)
		}
		sub, err := resolveProgram(ix, interp, pathEnv, cwd, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%s: shebang: %w", rp, err)
		}
		chain = append(chain, sub...)
		if path.Base(interp) == "env" {
			for _, f := range strings.Fields(arg) {
				if strings.HasPrefix(f, "-") || strings.Contains(f, "=") {
					continue
				}
				sub, err := resolveProgram(ix, f, pathEnv, cwd, depth+1)
				if err != nil {
					return nil, fmt.Errorf("%s: env: %w", rp, err)
				}
				chain = append(chain, sub...)
				break
			}
		}
		return chain, nil
	}
	return nil, fmt.Errorf("%s is neither an ELF file nor a script", rp)
}
