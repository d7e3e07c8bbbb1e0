package actionlint

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

const localAction = `name: t
description: a test action
inputs:
  who:
    description: who
    required: true
  greeting:
    description: greeting
    required: false
    default: hello
outputs:
  line:
    description: the line
    value: ${{ steps.run.outputs.line }}
  lines:
    description: several lines
    value: ${{ steps.run.outputs.lines }}
runs:
  using: composite
  steps:
    - name: Set up Go
      uses: actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5 # v5.5.0
    - name: first
      id: first
      shell: bash
      env:
        WHO: ${{ inputs.who }}
      run: echo "upper=$(tr a-z A-Z <<<"$WHO")" >>"$GITHUB_OUTPUT"
    - name: run
      id: run
      shell: bash
      env:
        GREETING: ${{ inputs.greeting }}
        UPPER: ${{ steps.first.outputs.upper }}
      run: |
        echo "line=$GREETING $UPPER" >>"$GITHUB_OUTPUT"
        printf 'lines<<EOF_X\none\ntwo\nEOF_X\n' >>"$GITHUB_OUTPUT"
        echo "### greeted $UPPER" >>"$GITHUB_STEP_SUMMARY"
        test -f "$GITHUB_ACTION_PATH/action.yml"
`

func writeAction(t *testing.T, src string) *Action {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "actions", "t")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "action.yml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLocalRunner(t *testing.T) {
	testenv.Need(t, "bash", "apt-get install bash")
	var summary bytes.Buffer
	l := LocalRunner{Dir: t.TempDir(), RunnerTemp: t.TempDir(), Env: testenv.CleanEnv(), Summary: &summary, Stdout: os.Stderr, Stderr: os.Stderr}
	a := writeAction(t, localAction)
	out, err := l.Run(context.Background(), a, map[string]string{"who": "fleet"})
	if err != nil {
		t.Fatal(err)
	}
	if out["line"] != "hello FLEET" || out["lines"] != "one\ntwo" {
		t.Errorf("outputs %q", out)
	}
	if !strings.Contains(summary.String(), "### greeted FLEET") {
		t.Errorf("summary %q", summary.String())
	}
	for name, c := range map[string]struct {
		src    string
		inputs map[string]string
		want   string
	}{
		"missing required input": {localAction, map[string]string{}, "required input who"},
		"unknown input":          {localAction, map[string]string{"who": "x", "whom": "y"}, "no input whom"},
		"unsupported expression": {strings.Replace(localAction, "${{ inputs.greeting }}", "${{ github.ref }}", 1), map[string]string{"who": "x"}, `expression "github.ref"`},
		"other action":           {strings.Replace(localAction, "actions/setup-go@", "actions/setup-node@", 1), map[string]string{"who": "x"}, "uses actions/setup-node@"},
		"failing step":           {strings.Replace(localAction, "test -f", "! test -f", 1), map[string]string{"who": "x"}, `step "run"`},
	} {
		_, err := l.Run(context.Background(), writeAction(t, c.src), c.inputs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, c.want)
		}
	}
}

func TestParseOutputs(t *testing.T) {
	got, err := ParseOutputs(strings.NewReader("a=1\nb<<X\nx=y\nz\nX\nc=\n"))
	if err != nil || got["a"] != "1" || got["b"] != "x=y\nz" || got["c"] != "" || len(got) != 3 {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := ParseOutputs(strings.NewReader("b<<X\nnever closed\n")); !errors.Is(err, ErrLocalRun) {
		t.Errorf("unclosed delimiter: %v", err)
	}
}
