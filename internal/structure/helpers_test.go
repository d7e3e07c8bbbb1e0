package structure

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tf is one tar entry of a test layer.
type tf struct {
	name     string
	typ      byte // tar.TypeReg when zero
	mode     int64
	uid, gid int
	body     []byte
	link     string
	// major, minor are the numbers of a block or character device.
	major, minor int64
}

func file(name string, mode int64, body []byte) tf {
	return tf{name: name, typ: tar.TypeReg, mode: mode, body: body}
}
func dir(name string, mode int64) tf { return tf{name: name, typ: tar.TypeDir, mode: mode} }
func symlink(name, target string) tf {
	return tf{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}

func layer(t testing.TB, files ...tf) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		typ := f.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: f.name, Typeflag: typ, Mode: f.mode, Uid: f.uid, Gid: f.gid,
			Linkname: f.link, Size: int64(len(f.body)), ModTime: time.Unix(0, 0), Format: tar.FormatPAX,
			Devmajor: f.major, Devminor: f.minor}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(f.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// image builds a linux image for arch from layers with the given config.
func image(t testing.TB, arch string, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", arch, cfg
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func hostFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("fixture %s: %v", p, err)
	}
	return b
}

// caPEM is a freshly generated self-signed CA certificate.
func caPEM(t testing.TB) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "clearcutt test CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// dynELF returns the host's /usr/bin/true (a stripped, dynamically linked
// executable) and its program interpreter's path and content.
func dynELF(t testing.TB) (exe []byte, interp string, interpBody []byte) {
	t.Helper()
	exe = hostFile(t, "/usr/bin/true")
	f, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				t.Fatal(err)
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if interp == "" {
		t.Fatal("/usr/bin/true has no PT_INTERP")
	}
	real, err := filepath.EvalSymlinks(interp)
	if err != nil {
		t.Fatal(err)
	}
	return exe, interp, hostFile(t, real)
}

const (
	storeApp    = "/nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-app-1.0"
	storeCacert = "/nix/store/1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c-cacert-1"
	storeGlibc  = "/nix/store/2g2g2g2g2g2g2g2g2g2g2g2g2g2g2g2g-glibc-1"
	passwd      = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group       = "root:x:0:\nnonroot:x:65532:\n"
)

// distrolessFS is a filesystem that passes every distroless check: a
// dynamic ELF entrypoint in the store, its interpreter reached through a
// symlink, a CA bundle reached through a symlink, nonroot user, /tmp 1777.
func distrolessFS(t testing.TB) []tf {
	t.Helper()
	exe, interp, ld := dynELF(t)
	return []tf{
		dir("etc", 0o755), file("etc/passwd", 0o644, []byte(passwd)), file("etc/group", 0o644, []byte(group)),
		dir("etc/ssl", 0o755), dir("etc/ssl/certs", 0o755),
		symlink("etc/ssl/certs/ca-certificates.crt", storeCacert+"/etc/ssl/certs/ca-bundle.crt"),
		{name: "home/nonroot", typ: tar.TypeDir, mode: 0o755, uid: 65532, gid: 65532},
		{name: "tmp", typ: tar.TypeDir, mode: 0o1777},
		file(strings.TrimPrefix(storeApp, "/")+"/bin/app", 0o555, exe),
		file(strings.TrimPrefix(storeCacert, "/")+"/etc/ssl/certs/ca-bundle.crt", 0o444, caPEM(t)),
		file(strings.TrimPrefix(storeGlibc, "/")+"/lib/"+filepath.Base(interp), 0o555, ld),
		symlink(strings.TrimPrefix(interp, "/"), storeGlibc+"/lib/"+filepath.Base(interp)),
	}
}

func distrolessConfig() v1.Config {
	return v1.Config{
		User:       "65532:65532",
		Entrypoint: []string{storeApp + "/bin/app"},
		Env:        []string{"PATH=" + storeApp + "/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
	}
}

var (
	distrolessRules = TierRules{Shell: Forbidden, PackageManager: Forbidden, Coreutils: Forbidden, Deployable: true}
	slimRules       = TierRules{Shell: Required, PackageManager: Forbidden, Coreutils: Allowed, Deployable: true}
	devRules        = TierRules{Shell: Allowed, PackageManager: Allowed, Coreutils: Allowed, CredentialHelper: true}
)

// run runs the static checks (no smoke) of img under rules.
func run(t testing.TB, img v1.Image, tier string, rules TierRules) Result {
	t.Helper()
	res, err := Run(context.Background(), Options{Image: img, Platform: "linux/" + runtime.GOARCH, Tier: tier, Rules: rules,
		Subject: Subject{Name: "registry.test/python"}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func mustCheck(t testing.TB, res Result, id string) Check {
	t.Helper()
	c, ok := res.Check(id)
	if !ok {
		t.Fatalf("no check %q in %+v", id, res.Checks)
	}
	return c
}

func wantStatus(t testing.TB, res Result, id string, want Status) Check {
	t.Helper()
	c := mustCheck(t, res, id)
	if c.Status != want {
		t.Fatalf("check %s: status %s, want %s (detail: %s, paths: %v)", id, c.Status, want, c.Detail, c.Paths)
	}
	return c
}

func wantPaths(t testing.TB, c Check, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if !contains(c.Paths, p) {
			t.Errorf("check %s: paths %v lack %s", c.ID, c.Paths, p)
		}
	}
}
