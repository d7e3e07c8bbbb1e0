package closure

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// With GCRoot set, the built graph is an indirect garbage-collector root:
// the closure the manifest names survives a collection until assembly.
func TestBuildRegistersGCRoot(t *testing.T) {
	o := fixtures(t)
	o.Runtime, o.Tier, o.System = "python", "distroless", "x86_64-linux"
	o.GCRoot = filepath.Join(t.TempDir(), "python-distroless-amd64.gcroot")
	m := build(t, o)
	target, err := os.Readlink(o.GCRoot)
	if err != nil {
		t.Fatalf("no GC root link: %v", err)
	}
	if !strings.HasPrefix(target, "/nix/store/") || !strings.HasSuffix(target, "-clearcutt-python-distroless") {
		t.Fatalf("GC root points at %s", target)
	}
	cmd := exec.Command("nix-store", "--gc", "--print-roots")
	cmd.Env = o.Env
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), o.GCRoot+" -> "+target) {
		t.Fatalf("%s is not among the GC roots:\n%s", o.GCRoot, out)
	}
	// The graph references the root tree, which references the runtime.
	cmd = exec.Command("nix-store", "-qR", target)
	cmd.Env = o.Env
	out, err = cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{m.Root, m.RuntimePath} {
		if !strings.Contains(string(out), p+"\n") {
			t.Errorf("%s is not kept alive by the root", p)
		}
	}
}
