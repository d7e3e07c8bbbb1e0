package structure

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// slimImage is a slim-tier image: static busybox as /bin/sh, nonroot user.
func slimImage(t *testing.T) v1.Image {
	t.Helper()
	files := append(distrolessFS(t),
		dir("bin", 0o755), file("bin/busybox", 0o755, hostFile(t, "/bin/busybox")), symlink("bin/sh", "busybox"))
	cfg := distrolessConfig()
	cfg.Entrypoint = []string{"/bin/sh"}
	cfg.Env = []string{"PATH=/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "IMAGE_VAR=from-image"}
	return image(t, runtime.GOARCH, cfg, layer(t, files...))
}

func smoke(t *testing.T, img v1.Image, s *Smoke) (Check, string) {
	t.Helper()
	runc := testenv.Need(t, "runc", "apt-get install runc")
	testenv.NeedRoot(t)
	work := t.TempDir()
	res, err := Run(context.Background(), Options{Image: img, Platform: "linux/" + runtime.GOARCH, Tier: "slim", Rules: slimRules,
		Smoke: s, Runc: runc, HostArch: runtime.GOARCH, WorkDir: work})
	if err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(work)
	if len(left) != 0 {
		t.Errorf("bundle left behind in WorkDir: %v", left)
	}
	return mustCheck(t, res, IDSmoke), work
}

func TestSmokeRunsNonrootReadonly(t *testing.T) {
	c, _ := smoke(t, slimImage(t), &Smoke{
		// The home directory belongs to 65532: only a read-only root stops the second touch.
		// Errors go through /tmp so that stdout and stderr cannot interleave.
		Command: []string{"/bin/busybox", "sh", "-c", "id -u; echo ok > /tmp/x && cat /tmp/x; " +
			"touch /etc/y 2>/tmp/e || { grep -q 'Read-only file system' /tmp/e && echo readonly; }; " +
			"touch /home/nonroot/z 2>/tmp/e || { grep -q 'Read-only file system' /tmp/e && echo home-readonly; }"},
		Expect:  `^65532\nok\nreadonly\nhome-readonly\n$`,
		Timeout: 20 * time.Second,
	})
	if c.Status != Passed {
		t.Fatalf("%s: %s", c.Status, c.Detail)
	}
}

func TestSmokeIsolation(t *testing.T) {
	script := strings.Join([]string{
		// Only the loopback interface: a fresh network namespace.
		`[ "$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ')" = lo ] && echo only-lo`,
		// No capabilities at all, and no way to gain any.
		`grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status`,
		// The image env and Smoke.Env are there; nothing of the host's.
		`echo "image=$IMAGE_VAR smoke=$SMOKE_VAR"`,
		`env | grep -q -e SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt && echo image-env`,
		`env | grep -q -e HOME=/root -e GOPATH -e GOCACHE && echo host-env || echo clean-env`,
	}, "; ")
	c, _ := smoke(t, slimImage(t), &Smoke{
		Command: []string{"/bin/sh", "-c", script},
		Env:     []string{"SMOKE_VAR=yes", "IMAGE_VAR=overridden"},
		Expect:  `(?s)only-lo\nCapEff:\s+0{16}\nCapBnd:\s+0{16}\nNoNewPrivs:\s+1\nimage=overridden smoke=yes\nimage-env\nclean-env\n$`,
	})
	if c.Status != Passed {
		t.Fatalf("%s: %s", c.Status, c.Detail)
	}
}

func TestSmokeFailures(t *testing.T) {
	img := slimImage(t)
	t.Run("exit status", func(t *testing.T) {
		c, _ := smoke(t, img, &Smoke{Command: []string{"/bin/sh", "-c", "echo boom; exit 3"}})
		if c.Status != Failed || !strings.Contains(c.Detail, "exit status 3") || !strings.Contains(c.Detail, "boom") {
			t.Fatalf("%s: %s", c.Status, c.Detail)
		}
	})
	t.Run("output mismatch", func(t *testing.T) {
		c, _ := smoke(t, img, &Smoke{Command: []string{"/bin/sh", "-c", "echo hello"}, Expect: "^goodbye"})
		if c.Status != Failed || !strings.Contains(c.Detail, "does not match") || !strings.Contains(c.Detail, "hello") {
			t.Fatalf("%s: %s", c.Status, c.Detail)
		}
	})
	t.Run("missing program", func(t *testing.T) {
		c, _ := smoke(t, img, &Smoke{Command: []string{"/usr/bin/python3"}})
		if c.Status != Failed {
			t.Fatalf("%s: %s", c.Status, c.Detail)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		c, _ := smoke(t, img, &Smoke{Command: []string{"/bin/sh", "-c", "echo started; sleep 60"}, Timeout: time.Second})
		if c.Status != Failed || !strings.Contains(c.Detail, "timed out") || !strings.Contains(c.Detail, "started") {
			t.Fatalf("%s: %s", c.Status, c.Detail)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("timeout took %s", d)
		}
	})
}

func TestUnpackStaysInsideRoot(t *testing.T) {
	// ggcr's flattening already drops such entries; the extractor must
	// hold on its own, so it is fed a raw tar stream here.
	for name, files := range map[string][]tf{
		"absolute symlink":  {symlink("escape", "ABS"), file("escape/pwned", 0o644, []byte("x"))},
		"relative symlink":  {symlink("escape", "REL"), file("escape/pwned", 0o644, []byte("x"))},
		"file over symlink": {symlink("pwned", "ABS/pwned"), file("pwned", 0o644, []byte("x"))},
		"dotdot name":       {file("../pwned", 0o644, []byte("x"))},
	} {
		t.Run(name, func(t *testing.T) {
			outside := t.TempDir()
			for i := range files {
				l := strings.ReplaceAll(files[i].link, "ABS", outside)
				files[i].link = strings.ReplaceAll(l, "REL", strings.Repeat("../", 20)+strings.TrimPrefix(outside, "/"))
			}
			root := filepath.Join(t.TempDir(), "a", "b")
			if err := os.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			rc, err := layer(t, files...).Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			_ = unpackTar(rc, root)
			if _, err := os.Lstat(filepath.Join(outside, "pwned")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("file written outside the root: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(root, "..", "pwned")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("file written above the root: %v", err)
			}
		})
	}
}

func TestUnpackPreservesModesAndOwners(t *testing.T) {
	testenv.NeedRoot(t)
	img := image(t, runtime.GOARCH, v1.Config{}, layer(t,
		tf{name: "home/nonroot", typ: '5', mode: 0o700, uid: 65532, gid: 65532},
		tf{name: "usr/bin/su", mode: 0o4755, uid: 0, gid: 0, body: []byte("x")},
		dir("tmp", 0o1777), symlink("bin", "usr/bin"),
		dir("ro", 0o555), file("ro/f", 0o444, []byte("y"))))
	root := t.TempDir()
	if err := unpack(img, root); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{
		"home/nonroot": os.ModeDir | 0o700, "usr/bin/su": os.ModeSetuid | 0o755, "tmp": os.ModeDir | os.ModeSticky | 0o777,
		"bin": os.ModeSymlink | 0o777, "ro": os.ModeDir | 0o555,
	} {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %s, want %s", p, fi.Mode(), want)
		}
	}
	if fi, _ := os.Stat(filepath.Join(root, "home/nonroot")); fileUID(fi) != 65532 {
		t.Errorf("home/nonroot owner %d", fileUID(fi))
	}
	if got, _ := os.Readlink(filepath.Join(root, "bin")); got != "usr/bin" {
		t.Errorf("bin -> %q", got)
	}
}
