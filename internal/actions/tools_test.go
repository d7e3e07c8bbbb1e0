package actions

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

// actionlintModule is rhysd/actionlint, run through the Go module proxy.
const actionlintModule = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"

// TestRunScriptsPassShellcheck checks every run: script of every action as
// the bash the runner executes.
func TestRunScriptsPassShellcheck(t *testing.T) {
	_, actions := repoActions(t)
	sc := testenv.Need(t, "shellcheck", "apt-get install shellcheck")
	for _, a := range actions {
		for _, s := range a.Steps {
			if s.Run == "" {
				continue
			}
			cmd := exec.Command(sc, "-s", "bash", "-")
			cmd.Stdin = strings.NewReader(s.Run)
			cmd.Env = testenv.CleanEnv()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s step %q: shellcheck: %v\n%s", a.Path, s.Name, err, out)
			}
		}
	}
}

// TestActionlint runs actionlint over the repository's workflows and over a
// workflow that calls every action with its required inputs, which makes
// actionlint validate the actions' metadata and the inputs and outputs used.
func TestActionlint(t *testing.T) {
	root, actions := repoActions(t)
	goTool := testenv.Need(t, "go", "install Go")
	tmp := t.TempDir()
	install := exec.Command(goTool, "run", actionlintModule, "-version")
	if out, err := install.CombinedOutput(); err != nil {
		if testenv.Required() {
			t.Fatalf("go run %s: %v\n%s", actionlintModule, err, out)
		}
		t.Skipf("go cannot fetch %s (%v); set CLEARCUTT_REQUIRE_TOOLS=1 to make this a failure", actionlintModule, err)
	}

	project := filepath.Join(tmp, "project")
	wf := filepath.Join(project, ".github", "workflows")
	// actionlint finds the project by its .git directory.
	for _, d := range []string{wf, filepath.Join(project, ".git")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "actions"), filepath.Join(project, "actions")); err != nil {
		t.Fatal(err)
	}
	// The reusable workflows check ClearCutt out into .clearcutt and use
	// its actions from there.
	if err := os.Symlink(root, filepath.Join(project, ".clearcutt")); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("name: uses\non: push\npermissions: {}\njobs:\n  all:\n    runs-on: ubuntu-24.04\n    steps:\n")
	for _, a := range actions {
		fmt.Fprintf(&b, "      - id: %s\n        uses: ./actions/%s\n", a.Dir, a.Dir)
		var with []string
		for _, in := range a.Inputs {
			if in.Required {
				with = append(with, fmt.Sprintf("          %s: x\n", in.Name))
			}
		}
		if len(with) > 0 {
			b.WriteString("        with:\n" + strings.Join(with, ""))
		}
		for _, o := range a.Outputs {
			fmt.Fprintf(&b, "      - run: echo \"$V\"\n        env:\n          V: ${{ steps.%s.outputs.%s }}\n", a.Dir, o.Name)
		}
	}
	if err := os.WriteFile(filepath.Join(wf, "uses.yml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	workflows, _ := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.y*ml"))
	templates, _ := filepath.Glob(filepath.Join(root, ".github", "workflow-templates", "*.y*ml"))
	for _, w := range append(workflows, templates...) {
		data, err := os.ReadFile(w)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(wf, filepath.Base(w)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// actionlint v1.7.12 predates the job.workflow_repository and
	// job.workflow_sha context properties (GitHub's job context, 2026-04),
	// which a reusable workflow uses to check out its own commit.
	cmd := exec.Command(goTool, "run", actionlintModule, "-color=false",
		"-ignore", `property "workflow_(repository|sha)" is not defined in object type \{check_run_id`)
	cmd.Dir = project
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint: %v\n%s\nworkflow:\n%s", err, out, b.String())
	}
}
