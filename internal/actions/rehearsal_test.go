package actions

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

// TestRehearsal runs scripts/rehearse-publish.sh: the release and nightly
// workflows under nektos/act, offline, in four scenarios — a release, the
// same run again, a nightly whose rescan gate fails and drafts remediation,
// and a fleet where one image's tests fail. The script checks each
// scenario's outcome (tags in the registry, the catalog branch, the draft)
// and fails naming what is wrong; the test checks that every scenario
// reported its result.
func TestRehearsal(t *testing.T) {
	root := testenv.RepoRoot(t)
	testenv.NeedRoot(t)
	for _, tool := range []string{"act", "nix", "runc", "docker-registry", "jq", "git", "curl"} {
		testenv.Need(t, tool, "scripts/test.sh installs it")
	}
	if testing.Short() {
		t.Skip("the rehearsal builds, publishes and rescans images under act")
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "rehearse-publish.sh"), "release", "rerun", "nightly", "partial")
	cmd.Dir = root
	// Two runtimes keep the test's time down: static, and webp for the
	// nightly's fixable finding.
	cmd.Env = testenv.CleanEnv("CLEARCUTT_REHEARSAL="+t.TempDir(), "CLEARCUTT_REHEARSAL_RUNTIMES=static webp")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rehearse-publish.sh: %v\n%s", err, out)
	}
	for _, want := range []string{
		"release: 2 images verified and tagged",
		"rerun: the same run again: artifacts replaced without conflict, the same indexes, tags unchanged",
		"nightly: the rescan gate failed, the catalog shows it, and remediation drafted",
		"partial: static:distroless released; broken:distroless not released, red in the catalog; the run ended red",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the rehearsal did not report %q:\n%s", want, out)
		}
	}
}
