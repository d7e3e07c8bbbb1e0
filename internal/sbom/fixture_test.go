package sbom

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"path"
	"sort"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/oci"
)

// fakeStorePath returns a Nix-like store path for name.
func fakeStorePath(name string) string {
	sum := sha256.Sum256([]byte(name))
	b := make([]byte, storeHashLen)
	for i := range b {
		b[i] = "0123456789abcdfghijklmnpqrsvwxyz"[int(sum[i])%32]
	}
	return "/nix/store/" + string(b) + "-" + name
}

// fakePath is one store path of the fake closure: its name parts, the
// names of its references and its files.
type fakePath struct {
	pname, version, output string
	role                   string
	refs                   []string // keys of other fakePaths
	files                  map[string]string
}

func (f fakePath) storeName() string {
	n := f.pname
	if f.version != "" {
		n += "-" + f.version
	}
	if f.output != "" {
		n += "-" + f.output
	}
	return n
}

// fakeClosure is a small python:distroless-like closure: a prefixed Python
// package with dist-info (which Syft also finds as a pypi package), a
// multi-output path, a data package with no CPE and an unversioned root.
func fakeClosure() map[string]fakePath {
	return map[string]fakePath{
		"glibc":   {pname: "glibc", version: "2.36", files: map[string]string{"lib/libc.so.6": "glibc"}},
		"openssl": {pname: "openssl", version: "3.0.7", refs: []string{"glibc"}, files: map[string]string{"lib/libssl.so.3": "ssl"}},
		"openssl-bin": {pname: "openssl", version: "3.0.7", output: "bin", refs: []string{"openssl", "glibc"},
			files: map[string]string{"bin/openssl": "openssl-bin"}},
		"zlib":   {pname: "zlib", version: "1.2.13", refs: []string{"glibc"}, files: map[string]string{"lib/libz.so.1": "z"}},
		"python": {pname: "python3", version: "3.11.4", role: "runtime", refs: []string{"glibc", "openssl", "zlib", "python"}, files: map[string]string{"bin/python3.11": "py"}},
		"requests": {pname: "python3.11-requests", version: "2.31.0", refs: []string{"python"}, files: map[string]string{
			"lib/python3.11/site-packages/requests/__init__.py":               "",
			"lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\n",
			"lib/python3.11/site-packages/requests-2.31.0.dist-info/RECORD":   "requests/__init__.py,,\n",
		}},
		"cacert": {pname: "nss-cacert", version: "20250419", role: "cacert", files: map[string]string{"etc/ssl/certs/ca-bundle.crt": "certs"}},
		"root":   {pname: "clearcutt-python-distroless-root", role: "root", refs: []string{"python", "cacert"}},
	}
}

// fakeImage builds the one-layer image of a fake closure and its manifest.
// The root path's contents are the image's top-level directory, as
// internal/oci lays it out.
func fakeImage(t *testing.T, arch string) (v1.Image, *closure.Manifest) {
	t.Helper()
	fc := fakeClosure()
	sp := map[string]string{}
	for k, f := range fc {
		sp[k] = fakeStorePath(f.storeName())
	}
	m := &closure.Manifest{
		Schema: closure.ManifestSchema, Runtime: "python", Tier: "distroless", Arch: arch,
		System: map[string]string{"amd64": "x86_64-linux", "arm64": "aarch64-linux"}[arch],
		Root:   sp["root"], RuntimePath: sp["python"],
	}
	files := map[string]string{
		"etc/os-release": "ID=clearcutt\nNAME=ClearCutt\nVERSION_ID=1\n",
		"etc/passwd":     "root:x:0:0::/root:/sbin/nologin\n",
	}
	for k, f := range fc {
		var refs []string
		for _, r := range f.refs {
			refs = append(refs, sp[r])
		}
		sort.Strings(refs)
		narSum := sha256.Sum256([]byte(sp[k]))
		m.Paths = append(m.Paths, closure.StorePath{
			Path: sp[k], NarHash: "sha256-" + base64.StdEncoding.EncodeToString(narSum[:]),
			NarSize: 1000, References: refs, Pname: f.pname, Version: f.version, Role: f.role,
		})
		if k == "root" {
			continue
		}
		for rel, content := range f.files {
			files[sp[k][1:]+"/"+rel] = content
		}
	}
	sort.Slice(m.Paths, func(i, j int) bool { return m.Paths[i].Path < m.Paths[j].Path })

	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarOf(t, files))), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Labels = map[string]string{
		oci.LabelRuntime: "python", oci.LabelTier: "distroless", oci.LabelClosureRoot: m.Root,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img, m
}

// tarOf writes files (and their parent directories) as a tar stream with
// fixed times.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	dirs := map[string]bool{}
	var names []string
	for n := range files {
		names = append(names, n)
		for d := path.Dir(n); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		names = append(names, d+"/")
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		h := &tar.Header{Name: n, Mode: 0o555, ModTime: time.Unix(1, 0), Typeflag: tar.TypeDir}
		if n[len(n)-1] != '/' {
			h = &tar.Header{Name: n, Mode: 0o444, ModTime: time.Unix(1, 0), Typeflag: tar.TypeReg, Size: int64(len(files[n]))}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(files[n])); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
