package remediate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

// The draft workflow with its Nix and its rebuild injected: a git
// repository of its own, the fixture fleet, a catalog with the libwebp
// finding, package sets that have libwebp 1.3.0 locked and 1.3.2 in the
// newer set, and a rebuilder that returns what the images carry after the
// change.

func lockFile(rev string) string {
	return fmt.Sprintf(`{"nodes":{"nixpkgs":{"locked":{"type":"github","owner":"NixOS","repo":"nixpkgs","rev":%q,"narHash":"sha256-%s"}},
"root":{"inputs":{"nixpkgs":"nixpkgs"}}},"root":"root","version":7}`, rev, rev)
}

// sets are the locked and the newer package set, and the changed one.
type sets struct {
	version string
}

func (s sets) Describe() string { return "libwebp " + s.version }

func (s sets) Packages(_ context.Context, systems, attrs []string) (Versions, error) {
	v := Versions{}
	for _, sys := range systems {
		v[sys] = map[string]*Package{}
		for _, a := range attrs {
			if a == "libwebp" {
				v[sys][a] = &Package{Pname: "libwebp", Version: s.version}
			}
		}
	}
	return v, nil
}

// flakes is the draft's Nix: the newer set locks to rev "newer", the
// changed fleet flake has libwebp at changedVersion.
type flakes struct {
	changedVersion string
	staged         []string
}

func (f *flakes) Lock(_ context.Context, ref string) (Locked, error) {
	return Locked{URL: "github:NixOS/nixpkgs/newer?narHash=sha256-newer", Original: ref, Rev: "newer", NarHash: "sha256-newer"}, nil
}

func (f *flakes) LockNixpkgs(context.Context, string, string) ([]byte, error) {
	return []byte(lockFile("newer")), nil
}

func (f *flakes) ReadPins(context.Context, string) ([]Pin, error) { return nil, nil }

func (f *flakes) Stage(flakeDir string) (string, error) {
	dst, err := os.MkdirTemp("", "clearcutt-remediate-test-")
	if err != nil {
		return "", err
	}
	f.staged = append(f.staged, dst)
	return dst, exec.Command("cp", "-a", flakeDir+"/.", dst).Run()
}

func (f *flakes) FleetPackages(ctx context.Context, _, _ string, systems, attrs []string) (Versions, error) {
	return sets{f.changedVersion}.Packages(ctx, systems, attrs)
}

// rebuilder returns, for every image, the findings it carries after the
// change.
type rebuilder struct {
	after  []catalog.Finding
	called []string
}

func (r *rebuilder) Rebuild(_ context.Context, f *fleet.File, _ string, images []Rebuild) ([]Rebuilt, error) {
	var out []Rebuilt
	for _, im := range images {
		r.called = append(r.called, im.Image.RefName+" "+strings.Join(im.Archs, ","))
		if f.Nix.Flake == "nix" {
			return out, fmt.Errorf("rebuild of %s from the unchanged flake %s", im.Image.RefName, f.Nix.Flake)
		}
		out = append(out, Rebuilt{Reference: "oci:work/stage@sha256:" + strings.Repeat("c", 64), TestsPassed: true, ScanPassed: true,
			Platforms: []RebuiltPlatform{{Platform: "linux/amd64", Digest: "sha256:" + strings.Repeat("d", 64), Findings: r.after, Policy: "high"}}})
	}
	return out, nil
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(testenv.CleanEnv(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// draftFixture is a repository with the fixture fleet and its flake, and
// options for a lock draft of libwebp.
func draftFixture(t *testing.T) (DraftOptions, *flakes, *rebuilder) {
	t.Helper()
	testenv.Need(t, "git", "apt-get install git")
	repo := t.TempDir()
	data, err := os.ReadFile("testdata/fleet/clearcutt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"clearcutt.yaml": string(data), "nix/flake.nix": "{ outputs = _: { }; }\n", "nix/flake.lock": lockFile("locked")} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-q", "-m", "fleet")
	f, err := fleet.Load(filepath.Join(repo, "clearcutt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	webp := finding("CVE-2023-4863", "high", "libwebp", "1.3.0", "active", "1.3.2")
	ref := func(tier string) string {
		return "registry.test/remediation/webp@sha256:" + strings.Repeat(tier[:1], 64)
	}
	cat := &catalog.Catalog{APIVersion: catalog.APIVersion, Fleet: catalog.Fleet{Name: "remediation-fixture"}, Images: []catalog.Image{
		{Name: "webp:distroless", Runtime: "webp", Tier: "distroless", Reference: ref("distroless"), Platforms: []catalog.Platform{platform("linux/amd64", webp)}},
		{Name: "webp:slim", Runtime: "webp", Tier: "slim", Reference: ref("slim"), Platforms: []catalog.Platform{platform("linux/amd64", webp)}},
	}}
	fl := &flakes{changedVersion: "1.3.2"}
	rb := &rebuilder{}
	work := t.TempDir()
	o := DraftOptions{
		Fleet:      f,
		Plan:       PlanOptions{Catalog: cat, CatalogPath: "catalog/catalog.json", Attributes: []string{"libwebp", "tzdata"}, Pinned: sets{"1.3.0"}, Newer: sets{"1.3.2"}, NewerRef: "github:NixOS/nixpkgs/newer"},
		Catalog:    cat,
		CatalogDir: t.TempDir(),
		Nix:        fl,
		FlakeDir:   filepath.Join(repo, "nix"),
		NewerRef:   "github:NixOS/nixpkgs/newer",
		Package:    "libwebp",
		Strategy:   StrategyLock,
		Git:        Git{Dir: repo, Env: testenv.CleanEnv()},
		Branch:     "remediate/libwebp",
		Work:       work,
		Rebuilder:  rb,
		Reproduce:  ReproduceScan{DB: "vulndb"},
	}
	return o, fl, rb
}

func TestDraftChangeCommitsAFixThatRebuilds(t *testing.T) {
	o, fl, rb := draftFixture(t)
	rep, err := DraftChange(context.Background(), o)
	if err != nil {
		t.Fatalf("DraftChange: %v (refused: %v)", err, rep.Refused)
	}
	if want := []string{"webp:distroless amd64", "webp:slim amd64"}; strings.Join(rb.called, ";") != strings.Join(want, ";") {
		t.Errorf("rebuilt %v, want %v", rb.called, want)
	}
	if !rep.Changed || rep.Branch != "remediate/libwebp" || rep.Commit == "" || rep.File != "nix/flake.lock" {
		t.Fatalf("report %+v: want the lock changed and committed to the branch", rep)
	}
	repo := o.Git.Dir
	if got := git(t, repo, "rev-parse", "--abbrev-ref", "HEAD"); got != "remediate/libwebp" {
		t.Errorf("on branch %s, want remediate/libwebp", got)
	}
	if got := git(t, repo, "show", "HEAD:nix/flake.lock"); got != lockFile("newer") {
		t.Errorf("committed flake.lock:\n%s\nwant the newer lock", got)
	}
	if got := git(t, repo, "status", "--porcelain"); got != "" {
		t.Errorf("the working tree is not clean after the commit:\n%s", got)
	}
	body, err := os.ReadFile(rep.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CVE-2023-4863", "webp:distroless", "webp:slim", "1.3.0", "1.3.2"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the pull-request body lacks %q", want)
		}
	}
	d := rep.Draft
	if d == nil || len(d.Images) != 2 || len(d.Images[0].Delta.Fixed) != 1 || d.Images[0].Delta.Fixed[0].ID != "CVE-2023-4863" {
		t.Errorf("draft %+v: want CVE-2023-4863 fixed in both images", d)
	}
	for _, dir := range fl.staged {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("staged flake %s left behind", dir)
		}
	}
}

func TestDraftChangeRefusesANewFinding(t *testing.T) {
	o, _, rb := draftFixture(t)
	rb.after = []catalog.Finding{finding("CVE-2024-0001", "high", "libwebp", "1.3.2", "active")}
	rep, err := DraftChange(context.Background(), o)
	if !errors.Is(err, outcome.ErrGateFailed) {
		t.Fatalf("error %v, want a refusal wrapping outcome.ErrGateFailed", err)
	}
	if rep.Changed || rep.Commit != "" || len(rep.Refused) == 0 || !strings.Contains(strings.Join(rep.Refused, "\n"), "CVE-2024-0001") {
		t.Errorf("report %+v: want refused for CVE-2024-0001, nothing changed", rep)
	}
	repo := o.Git.Dir
	if got := git(t, repo, "rev-parse", "--abbrev-ref", "HEAD"); got != "main" {
		t.Errorf("on branch %s after a refusal, want main", got)
	}
	if got, _ := os.ReadFile(filepath.Join(repo, "nix/flake.lock")); string(got) != lockFile("locked") {
		t.Errorf("flake.lock changed after a refusal")
	}
}

func TestDraftChangeRefusesAChangeThatDoesNotApply(t *testing.T) {
	o, fl, rb := draftFixture(t)
	fl.changedVersion = "1.3.0"
	_, err := DraftChange(context.Background(), o)
	if !errors.Is(err, outcome.ErrGateFailed) || !strings.Contains(err.Error(), "does not apply the change") {
		t.Fatalf("error %v, want the change refused because the package set still has 1.3.0", err)
	}
	if len(rb.called) != 0 {
		t.Errorf("rebuilt %v although the change does not apply", rb.called)
	}
}

func TestDraftChangeChecksTheBranchBeforeRebuilding(t *testing.T) {
	o, _, rb := draftFixture(t)
	git(t, o.Git.Dir, "branch", o.Branch)
	_, err := DraftChange(context.Background(), o)
	if !outcome.IsUsage(err) || !strings.Contains(err.Error(), o.Branch) {
		t.Fatalf("error %v, want a usage error naming the existing branch", err)
	}
	if len(rb.called) != 0 {
		t.Errorf("rebuilt %v before refusing the branch", rb.called)
	}
}

func TestDraftChangeRefusesAnUnknownStrategy(t *testing.T) {
	o, _, _ := draftFixture(t)
	o.Strategy = "bump"
	if _, err := DraftChange(context.Background(), o); !outcome.IsUsage(err) || !strings.Contains(err.Error(), `--strategy "bump"`) {
		t.Fatalf("error %v, want a usage error naming --strategy", err)
	}
}
