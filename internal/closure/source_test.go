package closure

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/clearcutt/clearcutt/internal/nixcmd"
)

// A build over the package set added to the store as a source gives the
// closure the directory itself gives.
func TestAddSourceBuildsTheSameClosure(t *testing.T) {
	o := fixtures(t)
	dir := o.OverrideNixpkgs[len("path:"):]
	nix := nixcmd.Nix{Env: o.Env}
	p, err := AddSource(context.Background(), nix, dir)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := AddSource(context.Background(), nix, dir); err != nil || again != p {
		t.Fatalf("the same directory added twice: %s, then %s (%v)", p, again, err)
	}
	if _, err := os.Stat(filepath.Join(p, "flake.nix")); err != nil {
		t.Fatalf("%s is not the flake: %v", p, err)
	}
	o.Runtime, o.Tier, o.System = "static", "distroless", "x86_64-linux"
	fromDir := build(t, o)
	o.OverrideNixpkgs = "path:" + p
	fromStore := build(t, o)
	if !reflect.DeepEqual(fromDir.Paths, fromStore.Paths) || fromDir.Root != fromStore.Root {
		t.Errorf("the stored package set built another closure:\n%+v\n%+v", fromDir.Paths, fromStore.Paths)
	}
	if _, err := AddSource(context.Background(), nix, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing directory was added")
	}
}
