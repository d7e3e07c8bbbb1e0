package remediate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

// needNix returns a Nix runner with the offline configuration, or skips
// (fails with CLEARCUTT_REQUIRE_TOOLS=1) without nix, root or the staged
// fixtures.
func needNix(t *testing.T) (Nix, string) {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.Need(t, "nix", "apt-get install nix-bin")
	repo := testenv.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(repo, "nix/fixtures/vendor/.stamp")); err != nil {
		if testenv.Required() {
			t.Fatal("nix/fixtures/vendor is missing: run scripts/nix-fixtures.sh")
		}
		t.Skip("nix/fixtures/vendor is missing: run scripts/nix-fixtures.sh")
	}
	env := testenv.CleanEnv()
	return Nix{Env: env, TempDir: t.TempDir()}, repo
}

// newerFixtures stages the fixture package set's newer revision with
// nix/fixtures/revisions/stage.sh and returns its flake reference.
func newerFixtures(t *testing.T, repo string) string {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "newer")
	cmd := exec.Command(filepath.Join(repo, "nix/fixtures/revisions/stage.sh"), "newer", dest)
	cmd.Env = testenv.CleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("stage.sh: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != dest {
		t.Fatalf("stage.sh printed %q, want %q", got, dest)
	}
	return "path:" + dest
}
