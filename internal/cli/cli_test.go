package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/fleet"
)

// run executes the command tree in-process and returns exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	g := &globals{stdout: &out, stderr: &errb}
	root := newRoot(g)
	root.SetArgs(args)
	err := root.Execute()
	code := ExitOK
	if err != nil {
		code = exitCode(err)
		errb.WriteString(err.Error())
	}
	return code, out.String(), errb.String()
}

func TestFleetPlanGitHubMatrix(t *testing.T) {
	code, out, errs := run(t, "-f", "../../clearcutt.yaml", "fleet", "plan", "--github-matrix")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("matrix must be one line for $GITHUB_OUTPUT, got %q", out)
	}
	var m struct {
		Include []map[string]string `json:"include"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range m.Include {
		for _, k := range []string{"runtime", "tier", "arch", "system", "runner", "registry", "repository", "attribute"} {
			if c[k] == "" {
				t.Fatalf("cell %v lacks %s", c, k)
			}
		}
		if c["registry"] != "ghcr.io/clearcutt/fleet" || c["repository"] != c["registry"]+"/"+c["runtime"] {
			t.Errorf("cell %v: repository %q", c, c["repository"])
		}
		seen[c["runtime"]+"/"+c["tier"]+"/"+c["arch"]] = true
	}
	for _, want := range []string{"python/distroless/amd64", "python/distroless/arm64", "python/dev/arm64", "static/distroless/amd64"} {
		if !seen[want] {
			t.Errorf("matrix lacks %s", want)
		}
	}
	if seen["static/slim/amd64"] {
		t.Error("static is declared distroless-only but the matrix has static/slim")
	}
}

func TestInvalidFleetIsUsageError(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/clearcutt.yaml"
	writeFile(t, p, "apiVersion: clearcutt.dev/v1alpha1\nkind: Fleet\nmetdata: {}\n")
	code, _, errs := run(t, "-f", p, "fleet", "validate")
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d", code, ExitUsage)
	}
	if !strings.Contains(errs, p+":3:1: metdata: unknown field") || !strings.Contains(errs, `did you mean "metadata"`) {
		t.Fatalf("error does not locate the field: %s", errs)
	}
}

func TestStageCommandsRejectTags(t *testing.T) {
	for _, args := range [][]string{
		{"test", "ghcr.io/acme/fleet/python:distroless"},
		{"test", "oci:out/stage"},
		{"publish", "oci:out/stage"},
	} {
		code, _, errs := run(t, append([]string{"-f", "../../clearcutt.yaml"}, args...)...)
		if code != ExitUsage || !strings.Contains(errs, "not by digest") {
			t.Errorf("%v: exit %d, %s", args, code, errs)
		}
	}
}

func TestUnknownRuntimeIsUsageError(t *testing.T) {
	code, _, errs := run(t, "-f", "../../clearcutt.yaml", "build", "--runtime", "ruby", "--tier", "slim", "--arch", "amd64", "--out", t.TempDir())
	if code != ExitUsage || !strings.Contains(errs, `no runtime "ruby"`) {
		t.Fatalf("exit %d: %s", code, errs)
	}
	code, _, errs = run(t, "-f", "../../clearcutt.yaml", "build", "--runtime", "static", "--tier", "slim", "--arch", "amd64", "--out", t.TempDir())
	if code != ExitUsage || !strings.Contains(errs, `not built in tier "slim"`) {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInvocationErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"build", "--runtime", "python"},
		{"test"},
		{"nope"},
		{"fleet", "plan", "--bogus"},
	} {
		if code, _, errs := run(t, append([]string{"-f", "../../clearcutt.yaml"}, args...)...); code != ExitUsage {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errs, ExitUsage)
		}
	}
}

func TestSourceDateEpochPrecedence(t *testing.T) {
	f := &fleet.File{}
	f.Build.SourceDateEpoch = 7
	t.Setenv("SOURCE_DATE_EPOCH", "")
	if n, err := sourceDateEpoch(-1, f); err != nil || n != 7 {
		t.Fatalf("fleet default: %d, %v", n, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if n, err := sourceDateEpoch(-1, f); err != nil || n != 1700000000 {
		t.Fatalf("env: %d, %v", n, err)
	}
	if n, err := sourceDateEpoch(5, f); err != nil || n != 5 {
		t.Fatalf("flag: %d, %v", n, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := sourceDateEpoch(-1, f); exitCode(err) != ExitUsage || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Fatalf("bad env: %v", err)
	}
}
