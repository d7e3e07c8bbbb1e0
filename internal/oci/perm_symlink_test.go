package oci

import (
	"archive/tar"
	"errors"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/closure"
)

// A mode declared on a root-tree symlink is never dropped: the link becomes
// a copy of the file it resolves to, carrying the mode (a setuid wrapper),
// so the gates see exactly what the image holds.
func TestPermissionOnSymlinkMaterialisesTheFile(t *testing.T) {
	f, m := newFixture(t, "amd64")
	m.Permissions = append(m.Permissions, closure.Permission{Path: "usr/bin/python3", Mode: "4755"})
	r := assemble(t, assembleOpts(f.store, []*closure.Manifest{m}, t.TempDir()))
	layers, err := r.Images[0].Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	hs, contents := readTar(t, layers[len(layers)-1])
	var h *tar.Header
	for _, x := range hs {
		if x.Name == "usr/bin/python3" {
			h = x
		}
	}
	if h == nil {
		t.Fatal("usr/bin/python3 missing from the root layer")
	}
	if h.Typeflag != tar.TypeReg || h.Mode != 0o4755 || h.Linkname != "" {
		t.Fatalf("usr/bin/python3: type %c mode %o link %q, want a regular file 4755", h.Typeflag, h.Mode, h.Linkname)
	}
	// usr/bin/python3 -> /bin/python (root tree) -> runtime/bin/python -> python3.
	if got, want := contents["usr/bin/python3"], "#!elf "+f.libfoo.Path; got != want {
		t.Fatalf("content %q, want the runtime's python3 %q", got, want)
	}
}

func TestPermissionOnSymlinkToDirectoryIsRefused(t *testing.T) {
	f, _ := newFixture(t, "amd64")
	root := f.store.add("root-dirlink", []string{f.runtime.Path}, entry{rel: "lib", link: f.runtime.Path + "/lib"})
	m := manifest("amd64", root, f.cacert, f.libfoo, f.runtime)
	m.RuntimePath = f.runtime.Path
	m.Permissions = []closure.Permission{{Path: "lib", Mode: "0755"}}
	_, err := Assemble(t.Context(), assembleOpts(f.store, []*closure.Manifest{m}, t.TempDir()))
	if !errors.Is(err, ErrBadManifest) || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err = %v, want ErrBadManifest naming the directory", err)
	}
}
