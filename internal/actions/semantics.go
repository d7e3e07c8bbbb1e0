package actions

import (
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SigningEnvironment is the environment every job that signs under the
// fleet's identity runs in: its deployment branch rule, set in the fleet
// repository, admits only identity.ref (docs/forking.md).
const SigningEnvironment = "clearcutt-signing"

var (
	// statusFunc is a status check function of GitHub's expression
	// language. An if: without one is implicitly success() && (...).
	statusFunc = regexp.MustCompile(`\b(?:always|cancelled|failure|success)\(\)`)
	// readsFailure is an if: that looks at a job's result or a step's
	// outcome: without a status function it only ever sees success.
	readsFailure = regexp.MustCompile(`\b(?:needs\.[\w-]+\.result|steps\.[\w-]+\.(?:outcome|conclusion))\b`)
)

// checkSemantics checks what GitHub does with a workflow, not how it is
// written:
//   - a job that needs a matrix job must say, with a status function,
//     whether it runs when one leg of that matrix failed: GitHub counts
//     the matrix as failed and skips the job otherwise;
//   - an if: that reads a job's result or a step's outcome must carry a
//     status function, or it never sees a failure;
//   - every upload-artifact step sets overwrite: true, or re-running a job
//     fails on the artifact its first attempt uploaded;
//   - a signing job never merges the artifacts it downloads by pattern: each
//     goes to its own directory, so one job cannot write into another's
//     files; in a reusable workflow it runs in the signing environment,
//     because there the certificate names the workflow's ref, not the
//     caller's, and only the environment's branch rule keeps other
//     branches of the caller from signing;
//   - install-nix-action gets a GitHub token, for the API's rate limit when
//     flake references are resolved.
func checkSemantics(path string, jobs *yaml.Node, reusable bool) []error {
	var errs []error
	matrix := map[string]bool{}
	for i := 0; i+1 < len(jobs.Content); i += 2 {
		if s := lookup(jobs.Content[i+1], "strategy"); s != nil && lookup(s, "matrix") != nil {
			matrix[jobs.Content[i].Value] = true
		}
	}
	for i := 0; i+1 < len(jobs.Content); i += 2 {
		id, job := jobs.Content[i].Value, jobs.Content[i+1]
		cond := ""
		if c := lookup(job, "if"); c != nil {
			cond = c.Value
		}
		for _, need := range needsOf(job) {
			if matrix[need] && !statusFunc.MatchString(cond) {
				errs = append(errs, ruleErr(path, "job %s needs the matrix job %s but its if: has no status function: one failed leg skips it for every image (use !cancelled() and decide per leg)", id, need))
			}
		}
		if readsFailure.MatchString(cond) && !statusFunc.MatchString(cond) {
			errs = append(errs, ruleErr(path, "job %s: if: %q reads a result without a status function, so it never runs after a failure", id, cond))
		}
		signs := false
		if perms := lookup(job, "permissions"); perms != nil && perms.Kind == yaml.MappingNode {
			if tok := lookup(perms, "id-token"); tok != nil && tok.Value == "write" && lookup(job, "uses") == nil {
				signs = true
			}
		}
		if signs && reusable {
			if env := lookup(job, "environment"); env == nil || envName(env) != SigningEnvironment {
				errs = append(errs, ruleErr(path, "job %s signs (id-token: write) outside the environment %s", id, SigningEnvironment))
			}
		}
		steps := lookup(job, "steps")
		if steps == nil {
			continue
		}
		for _, st := range steps.Content {
			name := stepName(st)
			if c := lookup(st, "if"); c != nil && readsFailure.MatchString(c.Value) && !statusFunc.MatchString(c.Value) {
				errs = append(errs, ruleErr(path, "job %s, step %q: if: %q reads an outcome without a status function, so it never runs after a failure", id, name, c.Value))
			}
			u := lookup(st, "uses")
			if u == nil {
				continue
			}
			with := lookup(st, "with")
			arg := func(k string) string {
				if with == nil {
					return ""
				}
				if v := lookup(with, k); v != nil {
					return v.Value
				}
				return ""
			}
			switch action := strings.SplitN(u.Value, "@", 2)[0]; action {
			case "actions/upload-artifact":
				if arg("overwrite") != "true" {
					errs = append(errs, ruleErr(path, "job %s, step %q: upload-artifact without overwrite: true fails when the job is re-run", id, name))
				}
			case "actions/download-artifact":
				if signs && arg("pattern") != "" && arg("merge-multiple") == "true" {
					errs = append(errs, ruleErr(path, "job %s, step %q: a signing job merges the artifacts of several jobs into one directory; download each into its own", id, name))
				}
			case "cachix/install-nix-action":
				if arg("github_access_token") == "" {
					errs = append(errs, ruleErr(path, "job %s, step %q: install-nix-action without github_access_token resolves flake references unauthenticated (rate limits)", id, name))
				}
			}
		}
	}
	return errs
}

func needsOf(job *yaml.Node) []string {
	n := lookup(job, "needs")
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, c.Value)
	}
	return slices.Compact(out)
}

func envName(env *yaml.Node) string {
	if env.Kind == yaml.MappingNode {
		if n := lookup(env, "name"); n != nil {
			return n.Value
		}
		return ""
	}
	return env.Value
}

func stepName(st *yaml.Node) string {
	for _, k := range []string{"name", "id", "uses", "run"} {
		if v := lookup(st, k); v != nil {
			return v.Value
		}
	}
	return "?"
}
