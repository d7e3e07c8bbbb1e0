package actions

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

// stages are the actions the repository ships: one per CLI command that
// runs as a stage in a job.
var stages = []string{"assemble", "attest", "build", "catalog", "index", "publish", "remediate", "rescan", "sbom", "scan", "test", "verify"}

func repoActions(t *testing.T) (string, []*Action) {
	t.Helper()
	root := testenv.RepoRoot(t)
	actions, err := LoadAll(root)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, a := range actions {
		dirs = append(dirs, a.Dir)
	}
	if !slices.Equal(dirs, stages) {
		t.Fatalf("actions/ holds %v, want %v", dirs, stages)
	}
	return root, actions
}

// TestActionsFollowTheRules: pinned uses:, no expression in run:, every
// input consumed through env:, outputs equal to what the CLI writes.
func TestActionsFollowTheRules(t *testing.T) {
	_, actions := repoActions(t)
	for _, a := range actions {
		contract, ok := gha.Contract[a.Command()]
		if !ok {
			t.Errorf("%s: the CLI has no output contract for %q", a.Path, a.Command())
		}
		for _, err := range CheckAction(a, contract) {
			t.Error(err)
		}
		var src, setup, build bool
		for _, s := range a.Steps {
			// The checkout is resolved to a path without '..' before
			// setup-go, which refuses '..' in cache-dependency-path.
			if s.ID == "src" && strings.Contains(s.Run, `"dir=$(cd "$GITHUB_ACTION_PATH/../.." && pwd -P)" >>"$GITHUB_OUTPUT"`) {
				src = true
			}
			if src && strings.HasPrefix(s.Uses, "actions/setup-go@") &&
				s.With["go-version-file"] == "${{ steps.src.outputs.dir }}/go.mod" &&
				s.With["cache-dependency-path"] == "${{ steps.src.outputs.dir }}/go.sum" {
				setup = true
			}
			if setup && s.Env["CLEARCUTT_SRC"] == "${{ steps.src.outputs.dir }}" &&
				strings.Contains(s.Run, `go build -C "$CLEARCUTT_SRC" -trimpath -o "$RUNNER_TEMP/clearcutt" .`) {
				build = true
			}
		}
		if !src || !setup || !build {
			t.Errorf("%s: must resolve its checkout, set up Go from it and build clearcutt there, in that order (src %v, setup-go %v, build %v)", a.Path, src, setup, build)
		}
	}
}

func TestReadmesAreGenerated(t *testing.T) {
	_, actions := repoActions(t)
	for _, a := range actions {
		path := filepath.Join(filepath.Dir(a.Path), ReadmeName)
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go run ./internal/actions/cmd/actiondocs)", err)
			continue
		}
		if !bytes.Equal(got, Readme(a)) {
			t.Errorf("%s differs from its action.yml; run go run ./internal/actions/cmd/actiondocs", path)
		}
	}
}

// TestWorkflowsFollowTheRules checks the workflows and the app-team
// workflow templates: the rules of CheckWorkflow, and every use of one of
// the repository's actions names a real action with its real inputs.
func TestWorkflowsFollowTheRules(t *testing.T) {
	root, actions := repoActions(t)
	paths, _ := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.y*ml"))
	if len(paths) == 0 {
		t.Fatal("no workflows under .github/workflows")
	}
	templates, _ := filepath.Glob(filepath.Join(root, ".github", "workflow-templates", "*.y*ml"))
	for _, p := range append(paths, templates...) {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range CheckWorkflow(p, raw) {
			t.Error(err)
		}
		for _, err := range CheckLocalUses(p, raw, actions) {
			t.Error(err)
		}
	}
}

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cliPath != "" {
		os.RemoveAll(filepath.Dir(cliPath))
	}
	os.Exit(code)
}

// buildCLI builds clearcutt once for the tests of this package.
func buildCLI(t *testing.T, root string) string {
	t.Helper()
	testenv.Need(t, "go", "install Go")
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "actionlint-cli-")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "clearcutt")
		cmd := exec.Command("go", "build", "-o", cliPath, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			cliErr = err
			t.Log(string(out))
		}
	})
	if cliErr != nil {
		t.Fatalf("go build clearcutt: %v", cliErr)
	}
	return cliPath
}

func helpOf(t *testing.T, cli, command string) map[string]bool {
	t.Helper()
	cmd := exec.Command(cli, append(strings.Fields(command), "--help")...)
	cmd.Env = testenv.CleanEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("clearcutt %s --help: %v", command, err)
	}
	return HelpFlags(string(out))
}

// TestActionsPassOnlyRealFlags runs the stage step of every action with
// bash, each input set, against a stand-in clearcutt that records its
// arguments: every input must reach the command line, and every flag passed
// must exist on the real command.
func TestActionsPassOnlyRealFlags(t *testing.T) {
	root, actions := repoActions(t)
	cli := buildCLI(t, root)
	bash := testenv.Need(t, "bash", "apt-get install bash")
	for _, a := range actions {
		t.Run(a.Dir, func(t *testing.T) {
			help := helpOf(t, cli, a.Command())
			for _, f := range RunFlags(a) {
				if !help[f] {
					t.Errorf("%s passes --%s, which clearcutt %s does not have", a.Path, f, a.Command())
				}
			}
			env := map[string]string{}
			for _, in := range a.Inputs {
				v := "v-" + in.Name
				if in.Default == "true" || in.Default == "false" {
					v = "true"
				}
				env[EnvName(in.Name)] = v
			}
			if _, ok := env["CLEARCUTT_PLATFORMS"]; ok {
				env["CLEARCUTT_PLATFORMS"] = "v-platform-1\n  v-platform-2 "
			}
			argv, err := runStage(t, bash, a, env)
			if err != nil {
				t.Fatalf("stage step failed: %v", err)
			}
			words := strings.Fields(a.Command())
			if len(argv) < 2+len(words) || argv[0] != "-f" || argv[1] != "v-fleet" || !slices.Equal(argv[2:2+len(words)], words) {
				t.Fatalf("argv %q does not start with -f v-fleet %s", argv, a.Command())
			}
			for _, in := range a.Inputs {
				switch {
				case env[EnvName(in.Name)] == "true":
					if !slices.Contains(argv, "--"+in.Name) {
						t.Errorf("input %s (true) did not pass --%s: %q", in.Name, in.Name, argv)
					}
				case in.Name == "platforms":
					if !slices.Equal(argv[len(argv)-4:], []string{"--platform", "v-platform-1", "--platform", "v-platform-2"}) {
						t.Errorf("platforms not split into --platform flags: %q", argv)
					}
				case in.Name == "image" || in.Name == "fleet":
					if !slices.Contains(argv, "v-"+in.Name) {
						t.Errorf("input %s not passed: %q", in.Name, argv)
					}
				default:
					i := slices.Index(argv, "v-"+in.Name)
					if i < 1 || argv[i-1] != "--"+in.Name {
						t.Errorf("input %s not passed as --%s: %q", in.Name, in.Name, argv)
					}
				}
			}
			for _, f := range argv {
				if name, ok := strings.CutPrefix(f, "--"); ok && !help[name] {
					t.Errorf("argv passes --%s, which clearcutt %s does not have", name, a.Command())
				}
			}
			// A boolean input that is neither true nor false fails the step
			// before the CLI runs.
			for _, in := range a.Inputs {
				if in.Default == "false" {
					bad := maps(env)
					bad[EnvName(in.Name)] = "yes"
					if argv, err := runStage(t, bash, a, bad); err == nil || argv != nil {
						t.Errorf("input %s=yes: step did not fail before the CLI (err %v, argv %q)", in.Name, err, argv)
					}
				}
			}
			// Optional inputs left empty pass no flag.
			empty := maps(env)
			for _, in := range a.Inputs {
				if !in.Required && in.HasDefault && in.Default == "" {
					empty[EnvName(in.Name)] = ""
				}
			}
			argv, err = runStage(t, bash, a, empty)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range a.Inputs {
				if in.HasDefault && in.Default == "" && slices.Contains(argv, "--"+in.Name) {
					t.Errorf("empty input %s still passed --%s: %q", in.Name, in.Name, argv)
				}
			}
		})
	}
}

func maps(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// runStage runs the action's stage step as GitHub's runner does (bash
// --noprofile --norc -eo pipefail) with a stand-in clearcutt in
// RUNNER_TEMP, and returns the arguments it received (nil if it never ran).
func runStage(t *testing.T, bash string, a *Action, env map[string]string) ([]string, error) {
	t.Helper()
	var script string
	for _, s := range a.Steps {
		if s.ID == RunStepID {
			script = s.Run
		}
	}
	tmp := t.TempDir()
	stub := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done > \"$RUNNER_TEMP/argv\"\n"
	if err := os.WriteFile(filepath.Join(tmp, "clearcutt"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	extra := []string{"RUNNER_TEMP=" + tmp}
	for k, v := range env {
		extra = append(extra, k+"="+v)
	}
	cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	cmd.Env = testenv.CleanEnv(extra...)
	cmd.Dir = tmp
	out, runErr := cmd.CombinedOutput()
	raw, err := os.ReadFile(filepath.Join(tmp, "argv"))
	if os.IsNotExist(err) {
		if runErr == nil {
			t.Fatalf("stage step succeeded without running clearcutt: %s", out)
		}
		return nil, runErr
	}
	if err != nil {
		t.Fatal(err)
	}
	if runErr != nil {
		return nil, runErr
	}
	return strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00"), nil
}

// TestWorkflowTemplatesHaveProperties: GitHub lists a workflow template only
// with its .properties.json (name, description, file patterns that compile).
func TestWorkflowTemplatesHaveProperties(t *testing.T) {
	root := testenv.RepoRoot(t)
	templates, _ := filepath.Glob(filepath.Join(root, ".github", "workflow-templates", "*.yml"))
	if len(templates) == 0 {
		t.Fatal("no workflow templates")
	}
	for _, tpl := range templates {
		props := strings.TrimSuffix(tpl, ".yml") + ".properties.json"
		raw, err := os.ReadFile(props)
		if err != nil {
			t.Errorf("%s: %v", tpl, err)
			continue
		}
		var p struct {
			Name         string   `json:"name"`
			Description  string   `json:"description"`
			IconName     string   `json:"iconName"`
			Categories   []string `json:"categories"`
			FilePatterns []string `json:"filePatterns"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Errorf("%s: %v", props, err)
			continue
		}
		if p.Name == "" || p.Description == "" {
			t.Errorf("%s: name and description are required", props)
		}
		for _, fp := range p.FilePatterns {
			if _, err := regexp.Compile(fp); err != nil {
				t.Errorf("%s: file pattern %q: %v", props, fp, err)
			}
		}
	}
}
