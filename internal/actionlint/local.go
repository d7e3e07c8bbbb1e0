package actionlint

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// ErrLocalRun: a composite action could not be run locally.
var ErrLocalRun = errors.New("local action run")

// LocalRunner runs the repository's composite actions on this machine the
// way a GitHub runner does: inputs resolved against their declarations and
// defaults, each run: step executed by bash -e -o pipefail with its env:,
// GITHUB_ACTION_PATH, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, step
// outputs read back from GITHUB_OUTPUT and the action's outputs evaluated
// from them. Steps that use another action are skipped when they only set
// up a tool this machine already has (actions/setup-go); any other is an
// error. Expressions are limited to what the repository's actions use —
// inputs.<name> and steps.<id>.outputs.<name> — so an action that needs
// more fails here instead of being run differently from the runner.
type LocalRunner struct {
	// Dir is the working directory (the fleet's checkout).
	Dir string
	// RunnerTemp is $RUNNER_TEMP, shared by every run (the CLI is built there).
	RunnerTemp string
	// Env is the environment every step starts from (GITHUB_ACTIONS and the
	// other GITHUB_* variables a job has).
	Env []string
	// Summary, if set, receives each step's summary Markdown.
	Summary io.Writer
	// Stdout and Stderr receive the steps' output.
	Stdout, Stderr io.Writer
	// SkipBuild skips the step that builds clearcutt when
	// $RUNNER_TEMP/clearcutt exists (it was built by an earlier run).
	SkipBuild bool
}

var expr = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// skippable are actions a local run does without: the tool they install is
// on this machine.
var skippable = []string{"actions/setup-go@"}

// Run runs action a with inputs and returns its outputs.
func (l LocalRunner) Run(ctx context.Context, a *Action, inputs map[string]string) (map[string]string, error) {
	in := map[string]string{}
	declared := map[string]bool{}
	for _, d := range a.Inputs {
		declared[d.Name] = true
		v, ok := inputs[d.Name]
		switch {
		case ok:
			in[d.Name] = v
		case d.Required:
			return nil, fmt.Errorf("%w: %s: required input %s is not given", ErrLocalRun, a.Path, d.Name)
		default:
			in[d.Name] = d.Default
		}
	}
	for k := range inputs {
		if !declared[k] {
			return nil, fmt.Errorf("%w: %s has no input %s", ErrLocalRun, a.Path, k)
		}
	}
	steps := map[string]map[string]string{}
	eval := func(s string) (string, error) {
		var err error
		out := expr.ReplaceAllStringFunc(s, func(m string) string {
			e := expr.FindStringSubmatch(m)[1]
			if name, ok := strings.CutPrefix(e, "inputs."); ok {
				return in[name]
			}
			if parts := strings.Split(e, "."); len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs" {
				return steps[parts[1]][parts[3]]
			}
			if err == nil {
				err = fmt.Errorf("%w: %s: expression %q is not supported by local runs", ErrLocalRun, a.Path, e)
			}
			return ""
		})
		return out, err
	}
	if err := os.MkdirAll(l.RunnerTemp, 0o755); err != nil {
		return nil, err
	}
	for i, s := range a.Steps {
		label := s.Name
		if label == "" {
			label = fmt.Sprintf("step %d", i+1)
		}
		if s.Uses != "" {
			if !hasAnyPrefix(s.Uses, skippable) {
				return nil, fmt.Errorf("%w: %s: step %q uses %s, which local runs cannot", ErrLocalRun, a.Path, label, s.Uses)
			}
			continue
		}
		if l.SkipBuild && strings.Contains(s.Run, `-o "$RUNNER_TEMP/clearcutt"`) {
			if _, err := os.Stat(filepath.Join(l.RunnerTemp, "clearcutt")); err == nil {
				continue
			}
		}
		outs, err := l.runStep(ctx, a, s, label, eval)
		if err != nil {
			return nil, err
		}
		if s.ID != "" {
			steps[s.ID] = outs
		}
	}
	out := map[string]string{}
	for _, o := range a.Outputs {
		v, err := eval(o.Value)
		if err != nil {
			return nil, err
		}
		out[o.Name] = v
	}
	return out, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func (l LocalRunner) runStep(ctx context.Context, a *Action, s Step, label string, eval func(string) (string, error)) (map[string]string, error) {
	if s.Shell != "bash" {
		return nil, fmt.Errorf("%w: %s: step %q: shell %q (the actions run bash)", ErrLocalRun, a.Path, label, s.Shell)
	}
	tmp, err := os.MkdirTemp(l.RunnerTemp, "step-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	script := filepath.Join(tmp, "script.sh")
	outputs := filepath.Join(tmp, "output")
	summary := filepath.Join(tmp, "summary")
	for _, f := range []string{outputs, summary} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(script, []byte(s.Run), 0o644); err != nil {
		return nil, err
	}
	env := append([]string{}, l.Env...)
	env = append(env,
		"GITHUB_ACTION_PATH="+filepath.Dir(a.Path),
		"GITHUB_OUTPUT="+outputs,
		"GITHUB_STEP_SUMMARY="+summary,
		"RUNNER_TEMP="+l.RunnerTemp,
	)
	for k, v := range s.Env {
		ev, err := eval(v)
		if err != nil {
			return nil, err
		}
		env = append(env, k+"="+ev)
	}
	// The runner's bash: bash --noprofile --norc -eo pipefail {0}.
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-eo", "pipefail", script)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = l.Dir, env, l.Stdout, l.Stderr
	runErr := cmd.Run()
	if l.Summary != nil {
		if md, err := os.ReadFile(summary); err == nil && len(md) > 0 {
			if _, err := l.Summary.Write(md); err != nil {
				return nil, err
			}
		}
	}
	if runErr != nil {
		return nil, fmt.Errorf("%s: step %q: %w", a.Path, label, runErr)
	}
	f, err := os.Open(outputs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseOutputs(f)
}

// ParseOutputs reads a $GITHUB_OUTPUT file: name=value lines and
// name<<DELIMITER blocks.
func ParseOutputs(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if name, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(name, "=") {
			var val []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				val = append(val, sc.Text())
			}
			if !closed {
				return nil, fmt.Errorf("%w: output %s: delimiter %s never closes", ErrLocalRun, name, delim)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%w: output line %q is neither name=value nor name<<DELIMITER", ErrLocalRun, line)
		}
		out[name] = val
	}
	return out, sc.Err()
}
