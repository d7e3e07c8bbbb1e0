package actions

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

const semanticsBase = `name: t
on:
  workflow_call: {}
permissions: {}
jobs:
  legs:
    runs-on: ubuntu-24.04
    permissions: {}
    strategy:
      matrix:
        arch: [amd64, arm64]
    steps:
      - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
        with:
          name: leg-${{ matrix.arch }}
          path: out
          overwrite: true
  attest:
    needs: legs
    if: ${{ !cancelled() }}
    runs-on: ubuntu-24.04
    environment: clearcutt-signing
    permissions:
      id-token: write
    steps:
      - uses: actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0
        with:
          pattern: leg-*
          path: legs
      - name: commit
        if: ${{ !cancelled() && steps.x.outcome != 'skipped' }}
        run: "true"
`

func TestCheckSemantics(t *testing.T) {
	if errs := CheckWorkflow("w.yml", []byte(semanticsBase)); len(errs) != 0 {
		t.Fatalf("good workflow rejected: %v", errs)
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"needs a matrix without a status function", "    if: ${{ !cancelled() }}\n", "", "needs the matrix job legs but its if: has no status function"},
		{"step reads an outcome without a status function", "if: ${{ !cancelled() && steps.x.outcome != 'skipped' }}", "if: steps.x.outcome != 'skipped'", "reads an outcome without a status function"},
		{"upload without overwrite", "          overwrite: true\n", "", "upload-artifact without overwrite: true"},
		{"signing job merges artifacts", "          path: legs\n", "          path: legs\n          merge-multiple: true\n", "merges the artifacts of several jobs"},
		{"signing job outside the environment", "    environment: clearcutt-signing\n", "", "outside the environment clearcutt-signing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(semanticsBase, c.old, c.new, 1)
			if src == semanticsBase {
				t.Fatalf("case does not change the workflow")
			}
			errs := CheckWorkflow("w.yml", []byte(src))
			if len(errs) != 1 || !errors.Is(errs[0], ErrRule) || !strings.Contains(errs[0].Error(), c.want) {
				t.Fatalf("errors %v, want one rule violation with %q", errs, c.want)
			}
		})
	}
	// Outside a reusable workflow the certificate names the caller's own
	// ref: the environment is not required there.
	src := strings.Replace(strings.Replace(semanticsBase, "    environment: clearcutt-signing\n", "", 1), "  workflow_call: {}", "  push: {}", 1)
	if errs := CheckWorkflow("w.yml", []byte(src)); len(errs) != 0 {
		t.Fatalf("a non-reusable signing workflow without the environment: %v", errs)
	}
}

// TestWorkflowsRunAfterFailures holds the jobs and steps that exist for the
// failure case: they must run when what they follow failed.
func TestWorkflowsRunAfterFailures(t *testing.T) {
	root := testenv.RepoRoot(t)
	for _, c := range []struct{ file, job, step, why string }{
		{"publish.yml", "index", "", "the other images' legs go on when one leg failed"},
		{"publish.yml", "catalog", "", "the catalog shows failed images and channels"},
		{"publish.yml", "catalog", "Commit the catalog", "a catalog in red is committed"},
		{"rescan.yml", "catalog", "", "a rescan whose gate failed is committed"},
		{"rescan.yml", "remediate", "", "a failed rescan gate is when remediation is wanted"},
	} {
		raw, err := os.ReadFile(filepath.Join(root, ".github", "workflows", c.file))
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		job := lookup(lookup(doc.Content[0], "jobs"), c.job)
		if job == nil {
			t.Errorf("%s: no job %s", c.file, c.job)
			continue
		}
		node := job
		if c.step != "" {
			node = nil
			for _, st := range lookup(job, "steps").Content {
				if n := lookup(st, "name"); n != nil && n.Value == c.step {
					node = st
				}
			}
			if node == nil {
				t.Errorf("%s: job %s has no step %q", c.file, c.job, c.step)
				continue
			}
		}
		cond := lookup(node, "if")
		if cond == nil || !strings.Contains(cond.Value, "!cancelled()") {
			t.Errorf("%s: job %s %s: if: %v must hold !cancelled(): %s", c.file, c.job, c.step, cond, c.why)
		}
	}
}

// TestCatalogWritersShareAGroup: the publish workflow's catalog job and the
// rescan workflow write the same branch, one at a time.
func TestCatalogWritersShareAGroup(t *testing.T) {
	root := testenv.RepoRoot(t)
	group := func(file string, path ...string) string {
		raw, err := os.ReadFile(filepath.Join(root, ".github", "workflows", file))
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		n := doc.Content[0]
		for _, k := range append(path, "concurrency", "group") {
			if n = lookup(n, k); n == nil {
				t.Fatalf("%s: no %v concurrency group", file, path)
			}
		}
		return n.Value
	}
	p, r := group("publish.yml", "jobs", "catalog"), group("rescan.yml")
	if p != r || !strings.Contains(p, "github.repository") {
		t.Errorf("publish's catalog job takes %q, rescan %q: want one group per repository", p, r)
	}
}
