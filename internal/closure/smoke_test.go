package closure

import (
	"os"
	"os/exec"
	"path/filepath"
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
// namespaces and a clean environment.
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
	cmd := exec.Command(unshare, append([]string{"-m", "-p", "-n", "-f", chroot, dir}, argv...)...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPythonRunsFromClosureOnly(t *testing.T) {
	t.Parallel()
	o := fixtures(t)
	o.Runtime, o.Tier, o.System = "python", "distroless", "x86_64-linux"
	dir := rootfs(t, build(t, o))
	out := inRootfs(t, dir, []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"}, "/bin/python3", "-c",
		`import ssl, json, sys; ctx = ssl.create_default_context(); print("ok", ctx.cert_store_stats()["x509_ca"] > 0, sys.version_info[:2] == (3, 11))`)
	if strings.TrimSpace(out) != "ok True True" {
		t.Fatalf("python: %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "bin", "sh")); err == nil {
		t.Fatal("a shell in the distroless root")
	}
}

func TestJavaStandInRunsFromClosureOnly(t *testing.T) {
	t.Parallel()
	o := fixtures(t)
	o.Runtime, o.Tier, o.System = "java", "distroless", "x86_64-linux"
	dir := rootfs(t, build(t, o))
	if out := inRootfs(t, dir, nil, "/bin/java", "-version"); !strings.Contains(out, `openjdk version "17.`) {
		t.Errorf("java -version: %q", out)
	}
	if out := inRootfs(t, dir, []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}, "/bin/java", "--clearcutt-ca-check"); !strings.HasPrefix(out, "ok ") {
		t.Errorf("CA check: %q", out)
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
