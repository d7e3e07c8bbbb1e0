// The import rules of docs/architecture.md, checked against the import graph
// `go list -deps -json` reports for the whole module.
package internal_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/clearcutt/clearcutt"

// The role of every package under internal/, by its path below internal/
// ("." is internal/ itself, which holds only this test). A package that is
// in no list, or in two, fails TestImportRules.
var (
	// Stage and library packages: each does the work of one stage of the
	// pipeline, owns one wire format or is a library they share, and knows
	// nothing of the flows, the command line or GitHub Actions.
	stagePackages = []string{
		"admission", "appimage", "attest", "catalog", "closure", "fleet", "fsutil",
		"gate", "intoto", "nixcmd", "oci", "outcome", "remediate", "rescan",
		"sbom", "sbom/spdxdiff", "scan", "site", "structure", "verify", "vexdoc",
		"vulndb", "vulns",
	}
	// Flows: one stage over one image of the fleet, and the release that
	// chains them.
	flowPackages = []string{"stage", "pipeline"}
	// The command tree and its GitHub Actions adapter.
	commandPackages = []string{"cli", "gha"}
	// Repository tools: the model and rules of actions/ and the workflows,
	// and the benchmark report, with their commands.
	toolPackages = []string{
		"actions", "actions/cmd/actartifact", "actions/cmd/actiondocs",
		"benchreport", "benchreport/cmd/benchreport",
	}
	// Test support: imported by tests (and by each other) only.
	testSupportPackages = []string{
		".", "interop", "testenv", "sigtest", "oci/ocitest",
		"catalog/catalogtest", "site/sitetest", "vulndb/vulndbtest", "rescan/rescantest",
	}
)

func internal(rel string) string {
	if rel == "." {
		return module + "/internal"
	}
	return module + "/internal/" + rel
}

func internals(rels ...[]string) []string {
	var out []string
	for _, l := range rels {
		for _, r := range l {
			out = append(out, internal(r))
		}
	}
	return out
}

// pkg is the part of a `go list -json` record the rules read.
type pkg struct {
	ImportPath   string
	Dir          string
	Standard     bool
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

// ours reports whether path is a package of this module.
func ours(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

func short(path string) string {
	if path == module {
		return "clearcutt (main.go)"
	}
	return strings.TrimPrefix(path, module+"/")
}

type graph map[string]*pkg

// packages returns the import paths of the module's packages, sorted.
func (g graph) packages() []string {
	var out []string
	for path := range g {
		if ours(path) {
			out = append(out, path)
		}
	}
	slices.Sort(out)
	return out
}

// load runs `go list -deps -json ./...` once from the module root.
func load(t *testing.T) graph {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH; the import rules are read from `go list -deps -json ./...`")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-deps",
		"-json=ImportPath,Dir,Standard,GoFiles,CgoFiles,TestGoFiles,XTestGoFiles,Imports,TestImports,XTestImports,Error",
		"./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -json ./...: %v\n%s", err, stderr.Bytes())
	}
	g := graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Errorf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		g[p.ImportPath] = p
	}
	statSources(t, root, g)
	return g
}

// statSources stats go.mod and every directory and Go file of the module's
// packages, so that `go test` caches this test's result only as long as
// none of them changes (it cannot see what the go list process read).
func statSources(t *testing.T, root string, g graph) {
	t.Helper()
	seen := map[string]bool{}
	stat := func(path string) {
		if !seen[path] {
			seen[path] = true
			os.Stat(path)
		}
	}
	stat(filepath.Join(root, "go.mod"))
	stat(filepath.Join(root, "go.sum"))
	for _, p := range g {
		if !ours(p.ImportPath) {
			continue
		}
		for d := p.Dir; strings.HasPrefix(d, root); d = filepath.Dir(d) {
			stat(d)
			if d == root {
				break
			}
		}
		for _, files := range [][]string{p.GoFiles, p.CgoFiles, p.TestGoFiles, p.XTestGoFiles} {
			for _, f := range files {
				stat(filepath.Join(p.Dir, f))
			}
		}
	}
}

// reach returns the shortest import chain from `from` (through non-test
// imports) to every package it depends on, `from` first.
func (g graph) reach(from string) map[string][]string {
	chains := map[string][]string{from: {from}}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		p := g[cur]
		if p == nil {
			continue
		}
		for _, next := range p.Imports {
			if _, ok := chains[next]; ok {
				continue
			}
			chains[next] = append(slices.Clip(chains[cur]), next)
			queue = append(queue, next)
		}
	}
	return chains
}

// testReach is reach for the tests of `from`: chains start at from's test
// imports.
func (g graph) testReach(from string) map[string][]string {
	chains := map[string][]string{}
	p := g[from]
	if p == nil {
		return chains
	}
	for _, imp := range append(slices.Clone(p.TestImports), p.XTestImports...) {
		if imp == from {
			continue
		}
		for dep, chain := range g.reach(imp) {
			c := append([]string{from + " (tests)"}, chain...)
			if old, ok := chains[dep]; !ok || len(c) < len(old) {
				chains[dep] = c
			}
		}
	}
	return chains
}

func render(chain []string) string {
	s := make([]string, len(chain))
	for i, p := range chain {
		s[i] = short(p)
	}
	return strings.Join(s, " → ")
}

// forbid fails for every package of `to` that a package of `from` depends
// on, naming the shortest import chain; with tests, the chains that start
// in from's tests count too.
func (g graph) forbid(t *testing.T, from, to []string, tests bool) {
	t.Helper()
	for _, f := range from {
		if g[f] == nil {
			continue // reported by the role check
		}
		prod, test := g.reach(f), map[string][]string{}
		if tests {
			test = g.testReach(f)
		}
		for _, target := range to {
			if target == f {
				continue
			}
			if c, ok := prod[target]; ok {
				t.Errorf("%s imports %s: %s", short(f), short(target), render(c))
			} else if c, ok := test[target]; ok {
				t.Errorf("the tests of %s import %s: %s", short(f), short(target), render(c))
			}
		}
	}
}

func TestImportRules(t *testing.T) {
	g := load(t)

	cli, pipeline, stage, gha := internal("cli"), internal("pipeline"), internal("stage"), internal("gha")
	stages := internals(stagePackages)
	tools := internals(toolPackages)
	support := internals(testSupportPackages)

	t.Run("every internal package has one role", func(t *testing.T) {
		role := map[string]string{}
		for name, l := range map[string][]string{
			"stagePackages": stagePackages, "flowPackages": flowPackages,
			"commandPackages": commandPackages, "toolPackages": toolPackages,
			"testSupportPackages": testSupportPackages,
		} {
			for _, rel := range l {
				p := internal(rel)
				if other, ok := role[p]; ok {
					t.Errorf("%s is in both %s and %s", short(p), other, name)
				}
				role[p] = name
				if g[p] == nil {
					t.Errorf("%s is listed in %s but is not a package of the module", short(p), name)
				}
			}
		}
		for _, path := range g.packages() {
			if (path == internal(".") || strings.HasPrefix(path, internal(".")+"/")) && role[path] == "" {
				t.Errorf("%s has no role: add it to one list of internal/architecture_test.go and to docs/architecture.md", short(path))
			}
		}
	})

	t.Run("only the clearcutt command imports cli", func(t *testing.T) {
		for _, path := range g.packages() {
			p := g[path]
			if slices.Contains(p.Imports, cli) && path != module {
				t.Errorf("%s imports %s", short(path), short(cli))
			}
			if (slices.Contains(p.TestImports, cli) || slices.Contains(p.XTestImports, cli)) && path != cli {
				t.Errorf("the tests of %s import %s", short(path), short(cli))
			}
		}
	})

	t.Run("stage packages import no flow, command or tool", func(t *testing.T) {
		g.forbid(t, stages, append([]string{cli, pipeline, stage, gha}, tools...), true)
	})

	t.Run("stage imports neither pipeline nor the command line", func(t *testing.T) {
		g.forbid(t, []string{stage}, append([]string{pipeline, cli, gha}, tools...), true)
	})

	t.Run("pipeline imports neither the command line nor Actions", func(t *testing.T) {
		g.forbid(t, []string{pipeline}, append([]string{cli, gha}, tools...), true)
	})

	t.Run("gate imports only the standard library", func(t *testing.T) {
		gate := internal("gate")
		if g[gate] == nil {
			t.Fatalf("%s is not a package of the module", short(gate))
		}
		chains := g.reach(gate)
		deps := slices.Sorted(maps.Keys(chains))
		for _, dep := range deps {
			if p := g[dep]; dep != gate && (p == nil || !p.Standard) {
				t.Errorf("%s is not in the standard library: %s", short(dep), render(chains[dep]))
			}
		}
	})

	// verify depends on no code that builds, tests, describes, scans or
	// signs images: it judges evidence as a third party would. It does link
	// internal/closure and internal/nixcmd through internal/oci (whose
	// layer plan is made from closure manifests), so only a direct import
	// of those two is refused.
	t.Run("verify does not trust builder state", func(t *testing.T) {
		verify := internal("verify")
		g.forbid(t, []string{verify}, append(internals([]string{
			"structure", "sbom", "scan", "vulndb", "attest", "stage", "pipeline", "cli", "gha",
		}), tools...), false)
		if p := g[verify]; p != nil {
			for _, direct := range internals([]string{"closure", "nixcmd"}) {
				if slices.Contains(p.Imports, direct) {
					t.Errorf("%s imports %s", short(verify), short(direct))
				}
			}
		}
	})

	t.Run("test support is imported only by tests", func(t *testing.T) {
		for _, path := range g.packages() {
			if slices.Contains(support, path) {
				continue
			}
			for _, imp := range g[path].Imports {
				if slices.Contains(support, imp) {
					t.Errorf("%s (not a test) imports %s", short(path), short(imp))
				}
			}
		}
	})

	t.Run("adapters own their libraries", func(t *testing.T) {
		owner := map[string]string{
			"github.com/spf13/cobra":                cli,
			"github.com/spf13/pflag":                cli,
			"github.com/sethvargo/go-githubactions": gha,
		}
		for _, path := range g.packages() {
			p := g[path]
			for _, imp := range append(append(slices.Clone(p.Imports), p.TestImports...), p.XTestImports...) {
				for _, lib := range slices.Sorted(maps.Keys(owner)) {
					o := owner[lib]
					if (imp == lib || strings.HasPrefix(imp, lib+"/")) && path != o {
						t.Errorf("%s imports %s, which only %s may import", short(path), imp, short(o))
					}
				}
			}
		}
	})
}

// The CLI links no cloud storage client: go.work replaces go-getter with
// third_party/go-getter, which has no S3 or GCS getter (ADR 0022). A grype
// or syft release that moves to another go-getter version, or reaches a
// cloud SDK another way, fails here.
func TestNoCloudStorageClients(t *testing.T) {
	chains := load(t).reach(module)
	for _, prefix := range []string{"github.com/aws/aws-sdk-go-v2/", "cloud.google.com/go/storage"} {
		for _, dep := range slices.Sorted(maps.Keys(chains)) {
			if strings.HasPrefix(dep, prefix) {
				t.Errorf("the CLI links %s: %s", dep, render(chains[dep]))
				break
			}
		}
	}
}
