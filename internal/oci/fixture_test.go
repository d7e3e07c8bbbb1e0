package oci

import (
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/clearcutt/clearcutt/internal/closure"
)

const nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"

// fakeStore is a directory that mimics /nix/store under FSRoot.
type fakeStore struct {
	t      *testing.T
	fsRoot string
}

func newStore(t *testing.T) *fakeStore {
	t.Helper()
	s := &fakeStore{t: t, fsRoot: t.TempDir()}
	if err := os.MkdirAll(s.fsRoot+DefaultStoreDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Sealed directories are 0555: make them writable again so that
	// TempDir's cleanup works for non-root users.
	t.Cleanup(func() {
		filepath.WalkDir(s.fsRoot, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return s
}

// storePath returns a Nix-like store path for name.
func storePath(name string) string {
	sum := sha256.Sum256([]byte(name))
	b := make([]byte, 32)
	for i := range b {
		b[i] = nixBase32[int(sum[i])%32]
	}
	return DefaultStoreDir + "/" + string(b) + "-" + name
}

// entry is one file of a fake store path: content for files (mode 0444, or
// 0555 when exec), a target for symlinks, or a directory.
type entry struct {
	rel     string
	content string
	exec    bool
	link    string
	dir     bool
}

// add writes a store path with the given entries and seals it with Nix
// modes. It returns the StorePath with a narHash over its contents.
func (s *fakeStore) add(name string, refs []string, ents ...entry) closure.StorePath {
	s.t.Helper()
	p := storePath(name)
	base := s.fsRoot + p
	must(s.t, os.MkdirAll(base, 0o755))
	var size int64
	for _, e := range ents {
		f := filepath.Join(base, e.rel)
		must(s.t, os.MkdirAll(filepath.Dir(f), 0o755))
		switch {
		case e.dir:
			must(s.t, os.MkdirAll(f, 0o755))
		case e.link != "":
			must(s.t, os.Symlink(e.link, f))
		default:
			must(s.t, os.WriteFile(f, []byte(e.content), 0o644))
			size += int64(len(e.content))
		}
	}
	sum := sha256.New()
	var dirs []string
	must(s.t, filepath.WalkDir(base, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		sum.Write([]byte(f + "\x00"))
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(f)
			sum.Write([]byte(t))
		case d.IsDir():
			dirs = append(dirs, f)
		default:
			b, _ := os.ReadFile(f)
			sum.Write(b)
			mode := os.FileMode(0o444)
			for _, e := range ents {
				if e.exec && filepath.Join(base, e.rel) == f {
					mode = 0o555
				}
			}
			must(s.t, os.Chmod(f, mode))
		}
		return nil
	}))
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		must(s.t, os.Chmod(d, 0o555))
	}
	return closure.StorePath{
		Path:       p,
		NarHash:    "sha256-" + base64.StdEncoding.EncodeToString(sum.Sum(nil)),
		NarSize:    size + 100,
		References: refs,
		Pname:      name,
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// manifest builds a closure manifest; root must be one of paths.
func manifest(arch string, root closure.StorePath, paths ...closure.StorePath) *closure.Manifest {
	all := append([]closure.StorePath{root}, paths...)
	sort.Slice(all, func(i, j int) bool { return all[i].Path < all[j].Path })
	system := map[string]string{"amd64": "x86_64-linux", "arm64": "aarch64-linux"}[arch]
	m := &closure.Manifest{
		Schema: closure.ManifestSchema, Runtime: "python", Tier: "distroless",
		Arch: arch, System: system, Root: root.Path, Paths: all,
	}
	for _, p := range all {
		m.ClosureSize += p.NarSize
	}
	return m
}

// pythonClosure is a small closure: cacert, libfoo (→ cacert), runtime
// (→ libfoo, cacert) and a root with /etc, /tmp, /bin/python and the CA
// bundle symlinked into the closure.
type fixture struct {
	store                   *fakeStore
	cacert, libfoo, runtime closure.StorePath
	root                    closure.StorePath
}

func newFixture(t *testing.T, arch string) (*fixture, *closure.Manifest) {
	t.Helper()
	return newFixtureIn(t, newStore(t), arch)
}

func newFixtureIn(t *testing.T, s *fakeStore, arch string) (*fixture, *closure.Manifest) {
	t.Helper()
	f := &fixture{store: s}
	f.cacert = s.add("cacert-"+arch, nil, entry{rel: "etc/ssl/certs/ca-bundle.crt", content: "-----BEGIN CERTIFICATE-----\n"})
	f.libfoo = s.add("libfoo-1.0-"+arch, []string{f.cacert.Path},
		entry{rel: "lib/libfoo.so.1", content: "certs at " + f.cacert.Path},
		entry{rel: "lib/libfoo.so", link: "libfoo.so.1"})
	f.runtime = s.add("python-3.12-"+arch, []string{f.libfoo.Path, f.cacert.Path},
		entry{rel: "bin/python3", content: "#!elf " + f.libfoo.Path, exec: true},
		entry{rel: "bin/python", link: "python3"},
		entry{rel: "lib/python3.12/os.py", content: "import sys\n"})
	f.root = s.add("root-"+arch, []string{f.runtime.Path, f.cacert.Path},
		entry{rel: "etc/passwd", content: "nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"},
		entry{rel: "etc/ssl/certs/ca-bundle.crt", link: f.cacert.Path + "/etc/ssl/certs/ca-bundle.crt"},
		entry{rel: "bin/python", link: f.runtime.Path + "/bin/python"},
		entry{rel: "usr/bin/python3", link: "/bin/python"},
		entry{rel: "tmp", dir: true},
		entry{rel: "home/nonroot", dir: true})
	m := manifest(arch, f.root, f.cacert, f.libfoo, f.runtime)
	m.RuntimePath = f.runtime.Path
	m.Permissions = []closure.Permission{
		{Path: "/tmp", Mode: "1777"},
		{Path: "/home/nonroot", Mode: "0755", UID: 65532, GID: 65532},
	}
	return f, m
}

// twoArch builds amd64 and arm64 closures in one fake store.
func twoArch(t *testing.T) (*fakeStore, []*closure.Manifest) {
	t.Helper()
	s := newStore(t)
	_, a := newFixtureIn(t, s, "amd64")
	_, b := newFixtureIn(t, s, "arm64")
	return s, []*closure.Manifest{a, b}
}

func assembleOpts(s *fakeStore, ms []*closure.Manifest, cache string) AssembleOptions {
	return AssembleOptions{
		Manifests: ms,
		Config: ImageConfig{
			User:       "65532:65532",
			Env:        []string{"PATH=/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"},
			Entrypoint: []string{"/bin/python"},
			WorkingDir: "/home/nonroot",
			Labels:     map[string]string{"org.opencontainers.image.source": "https://example.com/fleet"},
		},
		SourceDateEpoch: 1700000000,
		CacheDir:        cache,
		FSRoot:          s.fsRoot,
	}
}
