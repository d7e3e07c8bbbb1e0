package oci

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/closure"
)

// expectEscape assembles m and wants ErrEscape with an error naming want.
func expectEscape(t *testing.T, s *fakeStore, m *closure.Manifest, want string) {
	t.Helper()
	_, err := Assemble(context.Background(), assembleOpts(s, []*closure.Manifest{m}, t.TempDir()))
	if !errors.Is(err, ErrEscape) {
		t.Fatalf("err = %v, want ErrEscape", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name %q", err, want)
	}
}

func TestEscapeDotDotInPermission(t *testing.T) {
	f, m := newFixture(t, "amd64")
	m.Permissions = append(m.Permissions, closure.Permission{Path: "tmp/../../etc/shadow", Mode: "0644"})
	expectEscape(t, f.store, m, "tmp/../../etc/shadow")
}

func TestEscapeDotDotInStorePath(t *testing.T) {
	f, _ := newFixture(t, "amd64")
	bad := closure.StorePath{Path: DefaultStoreDir + "/../../etc", NarHash: "sha256-x"}
	m2 := manifest("amd64", f.root, f.cacert, f.libfoo, f.runtime, bad)
	// checkManifest refuses the unclean path before any file is read.
	_, err := Assemble(context.Background(), assembleOpts(f.store, []*closure.Manifest{m2}, t.TempDir()))
	if !errors.Is(err, ErrBadManifest) || !strings.Contains(err.Error(), bad.Path) {
		t.Fatalf("err = %v", err)
	}
}

func TestEscapeStorePathOutsideStoreDir(t *testing.T) {
	f, _ := newFixture(t, "amd64")
	bad := closure.StorePath{Path: "/etc/passwd-store", NarHash: "sha256-x"}
	m := manifest("amd64", f.root, f.cacert, f.libfoo, f.runtime, bad)
	expectEscape(t, f.store, m, "/etc/passwd-store")
}

func TestEscapeAbsoluteSymlinkOutOfClosure(t *testing.T) {
	s := newStore(t)
	outsider := storePath("not-in-closure")
	lib := s.add("libbad", nil, entry{rel: "lib/libssl.so", link: outsider + "/lib/libssl.so"})
	root := s.add("root", []string{lib.Path}, entry{rel: "etc/os-release", content: "ID=x\n"})
	expectEscape(t, s, manifest("amd64", root, lib), outsider)
}

func TestEscapeAbsoluteSymlinkToHostPath(t *testing.T) {
	s := newStore(t)
	lib := s.add("libhost", nil, entry{rel: "etc/resolv.conf", link: "/run/host/resolv.conf"})
	root := s.add("root", []string{lib.Path}, entry{rel: "etc/os-release", content: "ID=x\n"})
	expectEscape(t, s, manifest("amd64", root, lib), "/run/host/resolv.conf")
}

func TestEscapeRootSymlinkToNonClosurePath(t *testing.T) {
	s := newStore(t)
	lib := s.add("lib", nil, entry{rel: "lib/x", content: "x"})
	outsider := storePath("host-only-package")
	root := s.add("root", []string{lib.Path}, entry{rel: "bin/sh", link: outsider + "/bin/sh"})
	expectEscape(t, s, manifest("amd64", root, lib), outsider)
}

func TestEscapeRelativeSymlinkAboveRoot(t *testing.T) {
	s := newStore(t)
	lib := s.add("lib", nil, entry{rel: "lib/x", link: "../../../../../etc/shadow"})
	root := s.add("root", []string{lib.Path}, entry{rel: "etc/os-release", content: "ID=x\n"})
	expectEscape(t, s, manifest("amd64", root, lib), "climbs above /")
}

func TestEscapeRelativeSymlinkIntoUnlistedStorePath(t *testing.T) {
	s := newStore(t)
	lib := s.add("lib", nil, entry{rel: "lib/x", link: "../../" + strings.TrimPrefix(storePath("sibling"), DefaultStoreDir+"/") + "/lib/x"})
	root := s.add("root", []string{lib.Path}, entry{rel: "etc/os-release", content: "ID=x\n"})
	expectEscape(t, s, manifest("amd64", root, lib), storePath("sibling"))
}

func TestSymlinksInsideTheImageAreAccepted(t *testing.T) {
	s := newStore(t)
	dep := s.add("dep", nil,
		entry{rel: "lib/libdep.so", content: "dep"},
		entry{rel: "etc/ssl/cert.pem", content: "pem"})
	lib := s.add("lib", []string{dep.Path},
		entry{rel: "lib/libdep.so", link: dep.Path + "/lib/libdep.so"},
		entry{rel: "lib/dep", link: "../../" + strings.TrimPrefix(dep.Path, DefaultStoreDir+"/") + "/lib"},
		entry{rel: "etc/os-release", link: "/etc/os-release"},
		// Resolves through the root's /etc/ssl symlink into dep.
		entry{rel: "share/ca", link: "/etc/ssl/cert.pem"})
	root := s.add("root", []string{lib.Path, dep.Path},
		entry{rel: "etc/os-release", content: "ID=x\n"},
		entry{rel: "etc/ssl", link: dep.Path + "/etc/ssl"},
		entry{rel: "lib64", link: "lib"},
		entry{rel: "lib/ld.so", content: "ld"},
		entry{rel: "usr/bin/ld", link: "/lib64/ld.so"})
	if _, err := Assemble(context.Background(), assembleOpts(s, []*closure.Manifest{manifest("amd64", root, lib, dep)}, t.TempDir())); err != nil {
		t.Fatal(err)
	}
	// The same link to a file that exists nowhere in the image is refused.
	bad := s.add("lib-dangling", nil, entry{rel: "share/ca", link: "/etc/ssl/missing.pem"})
	expectEscape(t, s, manifest("amd64", root, lib, dep, bad), "/etc/ssl/missing.pem")
}
