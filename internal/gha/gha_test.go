package gha

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// job returns a getenv for a GitHub Actions job whose command files are
// fresh temp files, and their paths.
func job(t *testing.T) (getenv func(string) string, output, summary string) {
	t.Helper()
	dir := t.TempDir()
	output, summary = filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	for _, p := range []string{output, summary} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": output, "GITHUB_STEP_SUMMARY": summary, "INPUT_FAIL-ON": " high "}
	return func(k string) string { return env[k] }, output, summary
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSetOutputSingleAndMultiline(t *testing.T) {
	getenv, out, _ := job(t)
	a := New(getenv)
	if err := a.SetOutput("digest", "sha256:abc"); err != nil {
		t.Fatal(err)
	}
	if err := a.SetOutput("report", "line one\nline two"); err != nil {
		t.Fatal(err)
	}
	got := read(t, out)
	re := regexp.MustCompile(`^digest=sha256:abc\nreport<<(ghadelimiter_[0-9a-f]{32})\nline one\nline two\n(ghadelimiter_[0-9a-f]{32})\n$`)
	m := re.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("output file:\n%s", got)
	}
	if m[1] != m[2] {
		t.Fatalf("delimiters differ: %s %s", m[1], m[2])
	}
	// A fresh delimiter for every value.
	if err := a.SetOutput("report", "a\nb"); err != nil {
		t.Fatal(err)
	}
	if strings.Count(read(t, out), m[1]) != 2 {
		t.Fatal("delimiter reused")
	}
}

func TestSetOutputRefusesBadNames(t *testing.T) {
	getenv, out, _ := job(t)
	a := New(getenv)
	for _, n := range []string{"", "a b", "a=b", "x\ny", "ünï", "a<<b"} {
		if err := a.SetOutput(n, "v"); !errors.Is(err, ErrInvalidName) {
			t.Errorf("SetOutput(%q): %v, want ErrInvalidName", n, err)
		}
	}
	for _, n := range []string{"closure-size", "passed", "A_1"} {
		if err := a.SetOutput(n, "v"); err != nil {
			t.Errorf("SetOutput(%q): %v", n, err)
		}
	}
	if got := read(t, out); got != "closure-size=v\npassed=v\nA_1=v\n" {
		t.Fatalf("output file: %q", got)
	}
	// Names are checked outside Actions too: a bug shows locally first.
	if err := New(nil).SetOutput("a b", "v"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("outside Actions: %v", err)
	}
}

func TestUnwritableFilesReturnErrors(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": dir, "GITHUB_STEP_SUMMARY": filepath.Join(dir, "missing", "summary")}
	a := New(func(k string) string { return env[k] }, WithWriter(failingWriter{}))
	if err := a.SetOutput("x", "y"); !errors.Is(err, ErrWrite) {
		t.Errorf("SetOutput to a directory: %v", err)
	}
	if err := a.WriteOutputs("build", map[string]string{"manifest": "m", "closure-size": "1"}); !errors.Is(err, ErrWrite) {
		t.Errorf("WriteOutputs to a directory: %v", err)
	}
	if err := a.Summary("# x"); !errors.Is(err, ErrWrite) {
		t.Errorf("Summary: %v", err)
	}
	if err := a.Mask("secret"); !errors.Is(err, ErrWrite) {
		t.Errorf("Mask on a failing stream: %v", err)
	}
	if err := a.Errorf(Location{}, "boom"); !errors.Is(err, ErrWrite) {
		t.Errorf("Errorf on a failing stream: %v", err)
	}
	delete(env, "GITHUB_OUTPUT")
	if err := a.SetOutput("x", "y"); !errors.Is(err, ErrNoCommandFile) {
		t.Errorf("SetOutput without GITHUB_OUTPUT: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestOutsideActionsNothingIsWritten(t *testing.T) {
	getenv, out, sum := job(t)
	for _, v := range []string{"", "false", "1"} {
		env := func(k string) string {
			if k == "GITHUB_ACTIONS" {
				return v
			}
			return getenv(k)
		}
		var cmds bytes.Buffer
		a := New(env, WithWriter(&cmds))
		if a.Enabled() {
			t.Fatalf("GITHUB_ACTIONS=%q is not a job", v)
		}
		if err := a.SetOutput("x", "y"); err != nil {
			t.Fatal(err)
		}
		if err := a.WriteOutputs("test", map[string]string{"passed": "true", "statements": "{}"}); err != nil {
			t.Fatal(err)
		}
		if err := a.Summary("# x"); err != nil {
			t.Fatal(err)
		}
		_ = a.Mask("secret")
		_ = a.Errorf(Location{File: "f", Line: 1}, "e")
		_ = a.Warningf(Location{}, "w")
		if a.Input("fail-on") != "" {
			t.Fatal("input read outside Actions")
		}
		if cmds.Len() != 0 || read(t, out) != "" || read(t, sum) != "" {
			t.Fatalf("GITHUB_ACTIONS=%q: wrote %q / %q / %q", v, cmds.String(), read(t, out), read(t, sum))
		}
	}
}

func TestCommandsMaskAndAnnotations(t *testing.T) {
	getenv, _, _ := job(t)
	var cmds bytes.Buffer
	a := New(getenv, WithWriter(&cmds))
	if got := a.Input("fail-on"); got != "high" {
		t.Fatalf("Input = %q", got)
	}
	if err := a.Mask("s3cr3t\nsecond"); err != nil {
		t.Fatal(err)
	}
	if err := a.Errorf(Location{File: "clearcutt.yaml", Line: 12, Column: 5}, "runtimes[0].tiers: %s", "unknown tier \"x\"\nsee docs"); err != nil {
		t.Fatal(err)
	}
	if err := a.Warningf(Location{File: "exceptions.yaml"}, "stale"); err != nil {
		t.Fatal(err)
	}
	if err := a.Errorf(Location{}, "50%% done"); err != nil {
		t.Fatal(err)
	}
	want := "::add-mask::s3cr3t\n::add-mask::second\n" +
		"::error col=5,file=clearcutt.yaml,line=12::runtimes[0].tiers: unknown tier \"x\"%0Asee docs\n" +
		"::warning file=exceptions.yaml::stale\n" +
		"::error::50%25 done\n"
	if cmds.String() != want {
		t.Fatalf("commands:\n%s\nwant:\n%s", cmds.String(), want)
	}
}

func TestSummaryAppends(t *testing.T) {
	getenv, _, sum := job(t)
	a := New(getenv)
	if err := a.Summary("# one"); err != nil {
		t.Fatal(err)
	}
	if err := a.Summary("two\n"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, sum); got != "# one\ntwo\n" {
		t.Fatalf("summary %q", got)
	}
	if err := a.Summary(strings.Repeat("x", SummaryLimit+1)); !errors.Is(err, ErrSummaryTooLarge) {
		t.Fatalf("oversized summary: %v", err)
	}
}

func TestWriteOutputsEnforcesContract(t *testing.T) {
	getenv, out, _ := job(t)
	a := New(getenv)
	if err := a.WriteOutputs("scan", map[string]string{"passed": "true", "active": "0", "suppressed": "1"}); !errors.Is(err, ErrUndeclaredOutput) {
		t.Fatalf("missing output: %v", err)
	}
	if err := a.WriteOutputs("sbom", map[string]string{"files": "[]", "extra": "x"}); !errors.Is(err, ErrUndeclaredOutput) {
		t.Fatalf("extra output: %v", err)
	}
	if err := a.WriteOutputs("nope", nil); !errors.Is(err, ErrUndeclaredOutput) {
		t.Fatalf("unknown command: %v", err)
	}
	if read(t, out) != "" {
		t.Fatal("refused outputs were written")
	}
	if err := a.WriteOutputs("scan", map[string]string{"passed": "false", "active": "2", "suppressed": "1", "excepted": "0"}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, out); got != "passed=false\nactive=2\nsuppressed=1\nexcepted=0\n" {
		t.Fatalf("outputs %q", got)
	}
}

func TestContractNamesAndDescriptions(t *testing.T) {
	want := map[string]string{
		"build": "manifest closure-size", "assemble": "digest reference", "test": "passed statements",
		"sbom": "files", "scan": "passed active suppressed excepted", "publish": "digest reference refs", "index": "digest reference refs",
		"attest": "bundles", "verify": "passed report", "pipeline": "passed published verified", "fleet plan": "matrix",
		"catalog": "passed catalog images", "rescan": "passed rescanned new-findings", "remediate draft": "branch body changed",
		"app build": "digest reference refs", "app diff-base": "passed same-line fixed new", "app rebase": "digest reference refs",
	}
	if len(Outputs) != len(want) {
		t.Fatalf("commands %v", Outputs)
	}
	for cmd, names := range want {
		if got := strings.Join(Outputs[cmd], " "); got != names {
			t.Errorf("%s outputs %q, want %q", cmd, got, names)
		}
		for _, o := range Contract[cmd] {
			if !outputName.MatchString(o.Name) || o.Description == "" {
				t.Errorf("%s: output %+v", cmd, o)
			}
		}
	}
}

func TestTableEscapesAndCaps(t *testing.T) {
	tb := Table{Header: []string{"ID", "Detail"}, Code: map[int]bool{0: true}, Limit: 2}
	tb.Rows = [][]string{{"a|b", "x\ny <b>"}, {"c", "d"}, {"e", "f"}, {"g", "h"}}
	got := tb.Markdown()
	want := "| ID | Detail |\n| --- | --- |\n| `a\\|b` | x<br>y &lt;b&gt; |\n| `c` | d |\n| … 2 more |  |\n\n"
	if got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}
	many := Table{Header: []string{"N"}}
	for i := 0; i < DefaultRowLimit+7; i++ {
		many.Rows = append(many.Rows, []string{"r"})
	}
	if md := many.Markdown(); !strings.Contains(md, "| … 7 more |") || strings.Count(md, "| r |") != DefaultRowLimit {
		t.Fatalf("default cap:\n%s", md)
	}
	if got := List([]string{"a", "b|c", "d"}, 2); got != "- a\n- b\\|c\n- … 1 more\n\n" {
		t.Fatalf("list %q", got)
	}
}
