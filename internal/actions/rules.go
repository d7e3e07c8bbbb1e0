package actions

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clearcutt/clearcutt/internal/gha"
)

// ErrRule: an action or workflow breaks one of the repository's rules.
var ErrRule = errors.New("rule violated")

// RunStepID is the id of the step that runs the clearcutt command; the
// action's outputs are that step's outputs.
const RunStepID = "run"

var (
	usesLine   = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(\S+)(.*)$`)
	pinnedRef  = regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)
	versionTag = regexp.MustCompile(`^\s+#\s+v\d+(\.\d+)*\s*$`)
	inputRef   = regexp.MustCompile(`\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}`)
	envUse     = regexp.MustCompile(`\$\{?(CLEARCUTT_[A-Z0-9_]+)`)
	flagUse    = regexp.MustCompile(`(?:^|[\s(])(--[a-z][a-z0-9-]*)`)
	helpFlag   = regexp.MustCompile(`^\s+(?:-[A-Za-z], )?--([a-z][a-z0-9-]*)`)
	// slsaGenerator is the one reference that must be a release tag:
	// slsa-github-generator's reusable workflows verify their own ref and
	// refuse to run from a commit.
	slsaGenerator = regexp.MustCompile(`^slsa-framework/slsa-github-generator/\.github/workflows/[\w.-]+\.ya?ml@v\d+\.\d+\.\d+$`)
)

// SigningJobs are the only job ids that may be granted id-token: write, apart
// from calls of the SLSA generator, which signs under its own identity, and
// calls of the repository's own reusable workflows.
var SigningJobs = []string{"attest", "rescan", "rebase"}

func ruleErr(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrRule, path, fmt.Sprintf(format, args...))
}

// CheckPinned checks every uses: line of a workflow or action file: a local
// path, a docker:// image by digest, or owner/repo[/path]@<40-hex commit>
// followed by a "# vX" comment naming the release.
func CheckPinned(path string, raw []byte) []error {
	var errs []error
	for i, line := range strings.Split(string(raw), "\n") {
		m := usesLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ref := strings.Trim(m[1], `"'`)
		switch {
		case strings.HasPrefix(ref, "./"):
		case slsaGenerator.MatchString(ref):
		case strings.HasPrefix(ref, "docker://"):
			if !strings.Contains(ref, "@sha256:") {
				errs = append(errs, ruleErr(path, "line %d: %s is not pinned by digest", i+1, ref))
			}
		case !pinnedRef.MatchString(ref):
			errs = append(errs, ruleErr(path, "line %d: %s is not pinned to a 40-hex commit", i+1, ref))
		case !versionTag.MatchString(m[2]):
			errs = append(errs, ruleErr(path, "line %d: %s lacks a '# vX' comment naming the release", i+1, ref))
		}
	}
	return errs
}

// EnvName is the environment variable an input reaches the CLI through.
func EnvName(input string) string {
	return "CLEARCUTT_" + strings.ToUpper(strings.ReplaceAll(input, "-", "_"))
}

// CheckAction checks one composite action against the rules and against
// contract, the outputs the CLI writes for the action's command.
func CheckAction(a *Action, contract []gha.Output) []error {
	p := a.Path
	errs := CheckPinned(p, a.Raw)
	if a.Using != "composite" {
		errs = append(errs, ruleErr(p, "runs.using is %q, want composite", a.Using))
	}
	declared := map[string]bool{}
	for _, in := range a.Inputs {
		declared[in.Name] = true
		if in.Required == in.HasDefault {
			errs = append(errs, ruleErr(p, "input %s: exactly one of required: true and a default", in.Name))
		}
	}
	referenced := map[string]bool{}
	var run *Step
	for i := range a.Steps {
		s := &a.Steps[i]
		if s.ID == RunStepID {
			run = s
		}
		if s.Run != "" {
			if strings.Contains(s.Run, "${{") {
				errs = append(errs, ruleErr(p, "step %q interpolates an expression into run:; pass it through env:", s.Name))
			}
			if s.Shell != "bash" {
				errs = append(errs, ruleErr(p, "step %q: shell is %q, want bash", s.Name, s.Shell))
			}
			for _, m := range envUse.FindAllStringSubmatch(s.Run, -1) {
				if _, ok := s.Env[m[1]]; !ok {
					errs = append(errs, ruleErr(p, "step %q uses $%s, which its env: does not set", s.Name, m[1]))
				}
			}
		}
		for k, v := range s.Env {
			for _, m := range inputRef.FindAllStringSubmatch(v, -1) {
				referenced[m[1]] = true
				if k != EnvName(m[1]) {
					errs = append(errs, ruleErr(p, "step %q: input %s goes to env %s, want %s", s.Name, m[1], k, EnvName(m[1])))
				}
				if !usesEnv(s.Run, k) {
					errs = append(errs, ruleErr(p, "step %q: input %s reaches env %s, which run: never uses", s.Name, m[1], k))
				}
			}
		}
		for _, v := range s.With {
			for _, m := range inputRef.FindAllStringSubmatch(v, -1) {
				referenced[m[1]] = true
			}
		}
	}
	for _, in := range a.Inputs {
		if !referenced[in.Name] {
			errs = append(errs, ruleErr(p, "input %s is never passed to a step", in.Name))
		}
	}
	for _, name := range sortedKeys(referenced) {
		if !declared[name] {
			errs = append(errs, ruleErr(p, "inputs.%s is not a declared input", name))
		}
	}
	if run == nil {
		return append(errs, ruleErr(p, "no step has id %q", RunStepID))
	}
	invocation := fmt.Sprintf(`"$RUNNER_TEMP/clearcutt" -f "$CLEARCUTT_FLEET" %s `, a.Command())
	if !strings.Contains(run.Run, invocation) {
		errs = append(errs, ruleErr(p, "step %q does not run %s", run.Name, strings.TrimSpace(invocation)))
	}
	return append(errs, checkOutputs(a, contract)...)
}

// checkOutputs compares the declared outputs with the CLI's contract:
// same names in the same order, same descriptions, each set from the run
// step's output of that name.
func checkOutputs(a *Action, contract []gha.Output) []error {
	var errs []error
	if len(contract) == 0 {
		errs = append(errs, ruleErr(a.Path, "the CLI declares no outputs for command %q", a.Command()))
	}
	if len(a.Outputs) != len(contract) {
		errs = append(errs, ruleErr(a.Path, "declares %d outputs, the CLI writes %d for %q", len(a.Outputs), len(contract), a.Command()))
	}
	for i, o := range a.Outputs {
		if i < len(contract) && (o.Name != contract[i].Name || o.Description != contract[i].Description) {
			errs = append(errs, ruleErr(a.Path, "output %d is %s (%q), the CLI writes %s (%q)", i+1, o.Name, o.Description, contract[i].Name, contract[i].Description))
		}
		if want := "${{ steps." + RunStepID + ".outputs." + o.Name + " }}"; o.Value != want {
			errs = append(errs, ruleErr(a.Path, "output %s: value is %q, want %q", o.Name, o.Value, want))
		}
	}
	return errs
}

// RunFlags returns the long flags the run step passes to the CLI, sorted.
func RunFlags(a *Action) []string {
	set := map[string]bool{}
	for _, s := range a.Steps {
		if s.ID != RunStepID {
			continue
		}
		for _, m := range flagUse.FindAllStringSubmatch(s.Run, -1) {
			set[strings.TrimPrefix(m[1], "--")] = true
		}
	}
	return sortedKeys(set)
}

// HelpFlags returns the long flags a cobra --help text lists (the
// command's own and the global ones).
func HelpFlags(help string) map[string]bool {
	set := map[string]bool{}
	for _, line := range strings.Split(help, "\n") {
		if m := helpFlag.FindStringSubmatch(line); m != nil {
			set[m[1]] = true
		}
	}
	return set
}

// CheckWorkflow checks a workflow file: a top-level permissions: that is
// empty or scoped (never write-all), permissions: on every job, id-token:
// write only in the signing jobs, pinned uses:, no expression in any run:,
// and what GitHub does with needs:, if: and artifacts (checkSemantics).
func CheckWorkflow(path string, raw []byte) []error {
	errs := CheckPinned(path, raw)
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil || len(doc.Content) == 0 {
		return append(errs, ruleErr(path, "not a YAML document: %v", err))
	}
	top := doc.Content[0]
	perms := lookup(top, "permissions")
	switch {
	case perms == nil:
		errs = append(errs, ruleErr(path, "no top-level permissions: (want {} or explicit scopes)"))
	case perms.Kind == yaml.ScalarNode && perms.Value != "read-all":
		errs = append(errs, ruleErr(path, "top-level permissions: %s; want {} or explicit scopes", perms.Value))
	}
	if jobs := lookup(top, "jobs"); jobs != nil && jobs.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(jobs.Content); i += 2 {
			id, job := jobs.Content[i].Value, jobs.Content[i+1]
			errs = append(errs, checkJobPermissions(path, id, job)...)
		}
		reusable := false
		if on := lookup(top, "on"); on != nil {
			reusable = lookup(on, "workflow_call") != nil || on.Value == "workflow_call"
		}
		errs = append(errs, checkSemantics(path, jobs, reusable)...)
	}
	walk(top, func(key string, v *yaml.Node) {
		if key == "run" && strings.Contains(v.Value, "${{") {
			errs = append(errs, ruleErr(path, "line %d: run: interpolates an expression; pass it through env:", v.Line))
		}
	})
	return errs
}

func checkJobPermissions(path, id string, job *yaml.Node) []error {
	perms := lookup(job, "permissions")
	if perms == nil {
		return []error{ruleErr(path, "job %s: no permissions: (want the least it needs, or {})", id)}
	}
	if perms.Kind == yaml.ScalarNode {
		return []error{ruleErr(path, "job %s: permissions: %s; want explicit scopes or {}", id, perms.Value)}
	}
	tok := lookup(perms, "id-token")
	if tok == nil || tok.Value != "write" {
		return nil
	}
	// A job calling one of this repository's reusable workflows grants what
	// the called workflow's signing jobs need; the called file is checked
	// on its own.
	uses := lookup(job, "uses")
	if slices.Contains(SigningJobs, id) || (uses != nil && (slsaGenerator.MatchString(uses.Value) || strings.HasPrefix(uses.Value, "./.github/workflows/"))) {
		return nil
	}
	return []error{ruleErr(path, "job %s: id-token: write outside the signing jobs %v", id, SigningJobs)}
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func walk(n *yaml.Node, f func(string, *yaml.Node)) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			f(n.Content[i].Value, n.Content[i+1])
		}
	}
	for _, c := range n.Content {
		walk(c, f)
	}
}

// usesEnv reports whether script expands the variable name.
func usesEnv(script, name string) bool {
	for _, m := range envUse.FindAllStringSubmatch(script, -1) {
		if m[1] == name {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CheckLocalUses checks every step of a workflow that uses one of the
// repository's actions (./actions/<stage>, or ./.clearcutt/actions/<stage>
// where a reusable workflow checks ClearCutt out): the action exists, every
// with: key is one of its inputs, and every required input is given.
func CheckLocalUses(path string, raw []byte, actions []*Action) []error {
	byDir := map[string]*Action{}
	for _, a := range actions {
		byDir[a.Dir] = a
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil || len(doc.Content) == 0 {
		return []error{ruleErr(path, "not a YAML document: %v", err)}
	}
	var errs []error
	walk(doc.Content[0], func(key string, v *yaml.Node) {
		if key != "steps" || v.Kind != yaml.SequenceNode {
			return
		}
		for _, step := range v.Content {
			uses := lookup(step, "uses")
			if uses == nil {
				continue
			}
			rel, ok := strings.CutPrefix(uses.Value, "./.clearcutt/")
			if !ok {
				rel, ok = strings.CutPrefix(uses.Value, "./")
			}
			if !ok {
				continue
			}
			dir, ok := strings.CutPrefix(rel, "actions/")
			a := byDir[dir]
			if !ok || a == nil {
				errs = append(errs, ruleErr(path, "line %d: %s is not an action of this repository", uses.Line, uses.Value))
				continue
			}
			given := map[string]bool{}
			if with := lookup(step, "with"); with != nil && with.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(with.Content); i += 2 {
					given[with.Content[i].Value] = true
				}
			}
			declared := map[string]bool{}
			for _, in := range a.Inputs {
				declared[in.Name] = true
				if in.Required && !given[in.Name] {
					errs = append(errs, ruleErr(path, "line %d: %s: required input %s is not given", uses.Line, uses.Value, in.Name))
				}
			}
			for _, k := range sortedKeys(given) {
				if !declared[k] {
					errs = append(errs, ruleErr(path, "line %d: %s has no input %s", uses.Line, uses.Value, k))
				}
			}
		}
	})
	return errs
}
