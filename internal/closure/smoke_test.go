package closure

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

// rootfs lays out what the assemble stage puts in an image: the closure's
// store paths and the root tree at /. Nothing from the host.
func rootfs(t *testing.T, m *Manifest) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	store := filepath.Join(dir, "nix", "store")
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"-a"}
	for _, p := range m.Paths {
		args = append(args, p.Path)
	}
	if out, err := exec.Command("cp", append(args, store)...).CombinedOutput(); err != nil {
		t.Fatalf("cp closure: %v\n%s", err, out)
	}
	if out, err := exec.Command("cp", "-a", m.Root+"/.", dir+"/").CombinedOutput(); err != nil {
		t.Fatalf("cp root: %v\n%s", err, out)
	}
	for _, p := range m.Permissions {
		var mode uint32
		for _, c := range p.Mode {
			mode = mode*8 + uint32(c-'0')
		}
		target := filepath.Join(dir, p.Path)
		if err := os.Chmod(target, os.FileMode(mode&0o777)|specialBits(mode)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func specialBits(mode uint32) os.FileMode {
	var m os.FileMode
	if mode&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

// inRootfs runs argv in a chroot with fresh mount, pid and network
// namespaces, /proc and a clean environment.
func inRootfs(t *testing.T, dir string, env []string, argv ...string) string {
	t.Helper()
	out, err := runInRootfs(t, dir, env, "", argv...)
	if err != nil {
		t.Fatalf("%s in the closure-only rootfs: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

func runInRootfs(t *testing.T, dir string, env []string, stdin string, argv ...string) (string, error) {
	t.Helper()
	unshare := testenv.Need(t, "unshare", "apt-get install util-linux")
	chroot := testenv.Need(t, "chroot", "apt-get install coreutils")
	// /proc, as a container runtime mounts it: the JDK's launcher and
	// $ORIGIN in its RPATH find the JDK through /proc/self/exe.
	if err := os.MkdirAll(filepath.Join(dir, "proc"), 0o555); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unshare, append([]string{"-m", "-p", "-n", "-f", "--mount-proc=" + filepath.Join(dir, "proc"), chroot, dir}, argv...)...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pythonSmoke imports every extension module of the standard library,
// and uses TLS, subprocess without a shell, zoneinfo and sqlite3.
const pythonSmoke = `import importlib, os, ssl, sqlite3, subprocess, sys, zoneinfo
d = next(p for p in sys.path if p.endswith("lib-dynload"))
mods = sorted({f.split(".")[0] for f in os.listdir(d) if f.endswith(".so")})
for m in mods:
    importlib.import_module(m)
cas = ssl.create_default_context().cert_store_stats()["x509_ca"]
out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True, check=True).stdout.strip()
print("ok", " ".join(mods), cas > 0, out, zoneinfo.ZoneInfo("Europe/Paris").key,
      sqlite3.connect(":memory:").execute("select 1").fetchone()[0])
try:
    subprocess.run("true", shell=True)
    print("shell: ran")
except FileNotFoundError as e:
    print("shell:", e.filename)
`

func TestPythonRunsFromClosureOnly(t *testing.T) {
	t.Parallel()
	o := fixtures(t)
	o.Runtime, o.Tier, o.System = "python", "distroless", "x86_64-linux"
	dir := rootfs(t, build(t, o))
	env := []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt", "PYTHONDONTWRITEBYTECODE=1"}
	out := strings.Fields(inRootfs(t, dir, env, "/bin/python3", "-c", pythonSmoke))
	if len(out) < 8 || out[0] != "ok" {
		t.Fatalf("python: %q", out)
	}
	mods := strings.Join(out, " ")
	for _, m := range []string{"_ssl", "_hashlib", "_sqlite3", "_ctypes", "_lzma", "_bz2", "readline", "_curses", "_curses_panel",
		"_gdbm", "_decimal", "_uuid", "_crypt"} {
		if !slices.Contains(out, m) {
			t.Errorf("extension module %s is missing or did not import: %s", m, mods)
		}
	}
	if !strings.Contains(mods, "True 42 Europe/Paris 1 shell: /bin/sh") {
		t.Errorf("TLS, subprocess, zoneinfo, sqlite3 or the absent shell: %s", mods)
	}
	if _, err := os.Lstat(filepath.Join(dir, "bin", "sh")); err == nil {
		t.Fatal("a shell in the distroless root")
	}
}

func TestJavaRunsFromClosureOnly(t *testing.T) {
	t.Parallel()
	o := fixtures(t)
	o.Runtime, o.Tier, o.System = "java", "distroless", "x86_64-linux"
	m := build(t, o)
	dir := rootfs(t, m)
	if out := inRootfs(t, dir, nil, "/bin/java", "-version"); !strings.Contains(out, `openjdk version "17.`) {
		t.Errorf("java -version: %q", out)
	}
	// The default trust store is made from the image's CA bundle.
	bundle, err := os.ReadFile(filepath.Join(byPname(m)["nss-cacert"].Path, "etc", "ssl", "certs", "ca-bundle.crt"))
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(string(bundle), "-----BEGIN CERTIFICATE-----")
	out := inRootfs(t, dir, nil, "/bin/keytool", "-list", "-cacerts", "-storepass", "changeit")
	if want := fmt.Sprintf("Your keystore contains %d entries", n); n == 0 || !strings.Contains(out, want) {
		t.Errorf("keytool -list -cacerts: want %q:\n%.400s", want, out)
	}
}

func TestNodeRunsFromClosureOnly(t *testing.T) {
	t.Parallel()
	o := fixtures(t)
	o.Runtime, o.Tier, o.System = "nodejs", "distroless", "x86_64-linux"
	m := build(t, o)
	dir := rootfs(t, m)
	bundle, err := os.ReadFile(filepath.Join(byPname(m)["nss-cacert"].Path, "etc", "ssl", "certs", "ca-bundle.crt"))
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(string(bundle), "-----BEGIN CERTIFICATE-----")
	out := inRootfs(t, dir, []string{"NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-bundle.crt"}, "/bin/node", "-e",
		`const tls = require("tls"); tls.createSecureContext(); console.log(process.versions.node, tls.getCACertificates("extra").length)`)
	if want := fmt.Sprintf(" %d", n); n == 0 || !strings.HasPrefix(out, "24.") || !strings.Contains(out, want) {
		t.Errorf("node: %q, want 24.x and %d extra CAs", out, n)
	}
	for _, p := range []string{"bin/npm", "bin/npx", "bin/corepack"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s in the distroless node image", p)
		}
	}
}

func TestDevCredentialHelper(t *testing.T) {
	t.Parallel()
	o := fixtures(t)
	o.Runtime, o.Tier, o.System = "python", "dev", "x86_64-linux"
	dir := rootfs(t, build(t, o))
	helper := "/bin/clearcutt-credential-helper"
	env := []string{"CLEARCUTT_REGISTRY_USER=ci-bot", `CLEARCUTT_REGISTRY_TOKEN=s3"cr\et`}

	out, err := runInRootfs(t, dir, env, "ghcr.io\n", helper, "get")
	if err != nil || strings.TrimSpace(out) != `{"ServerURL":"ghcr.io","Username":"ci-bot","Secret":"s3\"cr\\et"}` {
		t.Errorf("docker get: %v %q", err, out)
	}
	out, err = runInRootfs(t, dir, env, "protocol=https\nhost=ghcr.io\n\n", helper, "get")
	if err != nil || out != "username=ci-bot\npassword=s3\"cr\\et\n" {
		t.Errorf("git get: %v %q", err, out)
	}
	out, err = runInRootfs(t, dir, nil, "ghcr.io\n", helper, "get")
	if err == nil || !strings.Contains(out, "credentials not found in environment") {
		t.Errorf("get without credentials: %v %q", err, out)
	}
	for _, verb := range []string{"store", "erase"} {
		if out, err := runInRootfs(t, dir, env, `{"ServerURL":"x","Username":"u","Secret":"s"}`, helper, verb); err == nil {
			t.Errorf("%s accepted: %q", verb, out)
		}
	}
	// The dev tier's shell and tools are there, and the helper wrote
	// nothing: two empty listings (header lines plus the blank between).
	if out := inRootfs(t, dir, nil, "/bin/bash", "-c", "ls -A /home/nonroot /tmp | wc -l"); strings.TrimSpace(out) != "3" {
		t.Errorf("files appeared: %q", out)
	}
}
