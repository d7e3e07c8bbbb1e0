package interop

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

// published is one image the real pipeline built, gated, published to
// Debian's registry process and signed with a fresh local key.
type published struct {
	repo      string            // repository root: the clearcutt checkout
	bin       string            // directory holding the clearcutt binary
	fleet     string            // the fleet file used
	image     string            // 127.0.0.1:PORT/fleet/python
	index     string            // index digest, sha256:…
	platforms map[string]string // arch → platform digest
	pub       string            // public key (PEM)
	otherPub  string            // a public key that signed nothing
	evidence  string            // <work>/evidence
	grypeDB   string            // grype cache dir holding the test DB (6/vulnerability.db)
	home      string            // HOME and XDG dirs of the tools
}

// ref is the image by digest d.
func (p *published) ref(d string) string { return p.image + "@" + d }

// env is a clean environment for cosign, syft, grype and clearcutt: no
// user configuration, no update checks, grype on the test database.
func (p *published) env() []string {
	return testenv.CleanEnv(
		"PATH="+p.bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+p.home,
		"XDG_CONFIG_HOME="+filepath.Join(p.home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(p.home, ".cache"),
		"XDG_DATA_HOME="+filepath.Join(p.home, ".local/share"),
		"GRYPE_DB_CACHE_DIR="+p.grypeDB,
		"GRYPE_DB_AUTO_UPDATE=false",
		"GRYPE_DB_VALIDATE_AGE=false",
		"GRYPE_DB_REQUIRE_UPDATE_CHECK=false",
		"GRYPE_CHECK_FOR_APP_UPDATE=false",
		"SYFT_CHECK_FOR_APP_UPDATE=false",
		"GRYPE_REGISTRY_INSECURE_USE_HTTP=true",
	)
}

// result of one child process.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\nstdout: " + tail(r.stdout) + "\nstderr: " + tail(r.stderr)
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}

// run executes name with env in dir and returns its outcome; it fails the
// test only when the program cannot be started.
func run(t *testing.T, env []string, dir, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Dir = env, dir
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errs.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

// publish builds the clearcutt CLI, starts the registry and runs the
// pipeline (key mode, python:distroless, no smoke run) into it.
func publish(t *testing.T) *published {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.Need(t, "nix", "apt-get install nix-bin")
	for _, tool := range []string{"cosign", "syft", "grype"} {
		testenv.Need(t, tool, "scripts/install-tools.sh")
	}
	testenv.Need(t, "jq", "apt-get install jq")
	goBin := testenv.Need(t, "go", "the Go toolchain")
	repo := testenv.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(repo, "nix/fixtures/vendor")); err != nil {
		if testenv.Required() {
			t.Fatal("nix/fixtures/vendor is missing: run scripts/nix-fixtures.sh (scripts/test.sh does)")
		}
		t.Skip("nix/fixtures/vendor is missing: run scripts/nix-fixtures.sh")
	}
	tmp := t.TempDir()
	p := &published{
		repo: repo, bin: filepath.Join(tmp, "bin"), fleet: filepath.Join(repo, "clearcutt.yaml"),
		evidence: filepath.Join(tmp, "work", "evidence"), grypeDB: filepath.Join(tmp, "grype-db"),
		home: filepath.Join(tmp, "home"), platforms: map[string]string{},
	}
	for _, d := range []string{p.bin, p.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	build := exec.Command(goBin, "build", "-o", filepath.Join(p.bin, "clearcutt"), ".")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built clearcutt in %s", time.Since(start).Round(time.Second))

	registry := ocitest.StartDistribution(t)
	cc := filepath.Join(p.bin, "clearcutt")
	env := testenv.CleanEnv(
		"NIX_REMOTE=local",
		"XDG_CONFIG_HOME="+filepath.Join(tmp, "signer"),
		"XDG_CACHE_HOME="+filepath.Join(tmp, "cache"),
	)
	db := filepath.Join(tmp, "db")
	if r := run(t, env, repo, cc, "vulndb", "build", "--advisories", "testdata/vulndb/advisories.yaml", "--out", db); r.code != 0 {
		t.Fatalf("vulndb build: %s", r)
	}
	start = time.Now()
	r := run(t, env, repo, cc, "pipeline", "--nixpkgs", "nix/fixtures", "--work", filepath.Join(tmp, "work"),
		"--cache", filepath.Join(tmp, "layers"), "--db", db, "--only", "python:distroless", "--no-smoke",
		"--to", registry+"/fleet", "--json")
	if r.code != 0 {
		t.Fatalf("pipeline: %s", r)
	}
	t.Logf("pipeline in %s", time.Since(start).Round(time.Second))
	var rep struct {
		Images []struct {
			Published string `json:"published"`
			Digest    string `json:"digest"`
			Assemble  struct {
				Platforms []struct{ Arch, Digest string } `json:"platforms"`
			} `json:"assemble"`
		} `json:"images"`
		Verified bool `json:"verified"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Images) != 1 || !rep.Verified {
		t.Fatalf("pipeline report (%v): %s", err, tail(r.stdout))
	}
	img := rep.Images[0]
	p.index = img.Digest
	p.image = strings.TrimSuffix(img.Published, "@"+img.Digest)
	for _, pl := range img.Assemble.Platforms {
		p.platforms[pl.Arch] = pl.Digest
	}
	if p.image != registry+"/fleet/python" || len(p.platforms) != 2 {
		t.Fatalf("published %q with platforms %v", img.Published, p.platforms)
	}
	p.pub = filepath.Join(tmp, "signer", "clearcutt", "signing.key.pub")
	if _, err := os.Stat(p.pub); err != nil {
		t.Fatalf("the pipeline wrote no public key: %v", err)
	}

	// Another key pair: what it verifies must fail.
	other := filepath.Join(tmp, "other")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if r := run(t, append(p.env(), "COSIGN_PASSWORD="), other, "cosign", "generate-key-pair"); r.code != 0 {
		t.Fatalf("cosign generate-key-pair: %s", r)
	}
	p.otherPub = filepath.Join(other, "cosign.pub")

	// grype's cache layout is <dir>/6/vulnerability.db plus import.json,
	// which `grype db import` writes.
	if r := run(t, p.env(), tmp, "grype", "db", "import", filepath.Join(db, "vulnerability.db")); r.code != 0 {
		t.Fatalf("grype db import: %s", r)
	}
	return p
}
