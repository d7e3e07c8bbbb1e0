package fleet

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite schemas/fleet.v1alpha1.schema.json and docs/fleet-reference.md")

const schemaFile = "../../schemas/fleet.v1alpha1.schema.json"

func TestSchemaHasNotDrifted(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (generate it with: go test ./internal/fleet -run TestSchemaHasNotDrifted -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the Go types; regenerate with: go test ./internal/fleet -run TestSchemaHasNotDrifted -update", schemaFile)
	}
}

func TestExampleFleetLoads(t *testing.T) {
	f, err := Load("../../clearcutt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Build.LayerBudget != 40 || f.Build.User.UID != 65532 {
		t.Fatalf("defaults/values not applied: %+v", f.Build)
	}
	images := f.Images()
	if len(images) == 0 {
		t.Fatal("no images")
	}
	for _, img := range images {
		if img.Tier == "dev" && img.Deployable {
			t.Errorf("%s: dev image marked deployable", img.RefName)
		}
	}
	if got, want := len(f.Cells()), len(images)*len(f.Build.Architectures); got != want {
		t.Fatalf("cells = %d, want %d", got, want)
	}
	// The catalog site shows each runtime's description beside its images.
	for _, r := range f.Runtimes {
		if r.Description == "" {
			t.Errorf("runtime %s has no description", r.ID)
		}
	}
}

// valid is a minimal valid fleet; tests patch lines of it.
const valid = `apiVersion: clearcutt.dev/v1alpha1
kind: Fleet
metadata: {name: t}
registry: {repository: ghcr.io/acme/images}
identity:
  issuer: https://token.actions.githubusercontent.com
  repository: acme/fleet
  workflow: .github/workflows/publish.yml
  ref: refs/heads/main
build:
  architectures: [amd64, arm64]
nix: {flake: nix}
tiers:
  distroless: {shell: forbidden, packageManager: forbidden, coreutils: forbidden, deployable: true}
  slim: {packages: [busybox], shell: required, packageManager: forbidden, coreutils: allowed, deployable: true}
  dev: {packages: [bashInteractive], shell: required, packageManager: allowed, coreutils: required, credentialHelper: true, deployable: false}
runtimes:
  - id: python
    version: "3.11"
    nix: {attribute: python3}
    entrypoint: [/bin/python3]
`

func TestValidFleet(t *testing.T) {
	f, err := Parse("clearcutt.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	img, err := f.Image("python", "slim")
	if err != nil {
		t.Fatal(err)
	}
	if img.Repository != "ghcr.io/acme/images/python" || strings.Join(img.Tags, ",") != "3.11-slim,slim" || img.RefName != "python:slim" {
		t.Fatalf("image = %+v", img)
	}
	if f.Identity.WorkflowRepository != "acme/fleet" {
		t.Fatalf("workflowRepository default = %q", f.Identity.WorkflowRepository)
	}
	if r, _ := f.Runtime("python"); r.Description != "" {
		t.Fatalf("description = %q, want none: the field is optional", r.Description)
	}
	c := f.Cells()[0]
	if c.Attribute != "legacyPackages.x86_64-linux.clearcutt.python.distroless.graph" || c.Runner != "ubuntu-24.04" {
		t.Fatalf("cell = %+v", c)
	}
}

func TestFleetErrorsNameFileLineAndField(t *testing.T) {
	cases := []struct {
		name, old, new string
		want           []string
	}{
		{"unknown field with suggestion", "    entrypoint: [/bin/python3]", "    entrypont: [/bin/python3]",
			[]string{"clearcutt.yaml:21:5", "runtimes[0].entrypont", `unknown field "entrypont"`, `did you mean "entrypoint"`}},
		{"wrong type", "  architectures: [amd64, arm64]", "  architectures: amd64",
			[]string{"clearcutt.yaml:11:18", "build.architectures", "expected a list"}},
		{"integer expected", "  architectures: [amd64, arm64]", "  architectures: [amd64]\n  layerBudget: many",
			[]string{"clearcutt.yaml:12:16", "build.layerBudget", "expected an integer"}},
		{"impossible budget", "  architectures: [amd64, arm64]", "  architectures: [amd64]\n  layerBudget: 1",
			[]string{"clearcutt.yaml:12:16", "build.layerBudget", "between 2 and 127"}},
		{"unknown architecture", "  architectures: [amd64, arm64]", "  architectures: [amd64, s390x]",
			[]string{"clearcutt.yaml:11:26", "build.architectures[1]", `unsupported architecture "s390x"`}},
		{"distroless with a shell", "distroless: {shell: forbidden", "distroless: {shell: allowed",
			[]string{"tiers.distroless.shell", "must be forbidden"}},
		{"deployable dev tier", "credentialHelper: true, deployable: false", "credentialHelper: true, deployable: true",
			[]string{"tiers.dev.deployable", "build-time only"}},
		{"base not by digest", "    entrypoint: [/bin/python3]", "    entrypoint: [/bin/python3]\n    base: {image: registry.example/ubi9:latest}",
			[]string{"clearcutt.yaml:22:19", "runtimes[0].base.image", "pinned by digest"}},
		{"relative entrypoint", "    entrypoint: [/bin/python3]", "    entrypoint: [python3]",
			[]string{"runtimes[0].entrypoint[0]", "absolute path"}},
		{"reserved env", "    entrypoint: [/bin/python3]", "    entrypoint: [/bin/python3]\n    env: {SSL_CERT_FILE: /x}",
			[]string{"runtimes[0].env.SSL_CERT_FILE", "cannot be overridden"}},
		{"bad ref", "  ref: refs/heads/main", "  ref: main",
			[]string{"clearcutt.yaml:9:8", "identity.ref", "full git ref"}},
		{"unknown tag placeholder", "registry: {repository: ghcr.io/acme/images}", "registry: {repository: ghcr.io/acme/images, tags: [\"{arch}\"]}",
			[]string{"registry.tags[0]", "unknown placeholder {arch}"}},
		{"duplicate key", "kind: Fleet", "kind: Fleet\nkind: Fleet",
			[]string{"clearcutt.yaml:3:1", "duplicate field"}},
		{"wrong api version", "apiVersion: clearcutt.dev/v1alpha1", "apiVersion: clearcutt.dev/v2",
			[]string{"clearcutt.yaml:1:13", "apiVersion", `must be "clearcutt.dev/v1alpha1"`}},
		{"multi-line description", "    entrypoint: [/bin/python3]", "    entrypoint: [/bin/python3]\n    description: \"CPython 3.11\\nfor applications\"",
			[]string{"clearcutt.yaml:22:18", "runtimes[0].description", "one line of text without control characters"}},
		{"description with a control character", "    entrypoint: [/bin/python3]", "    entrypoint: [/bin/python3]\n    description: \"CPython\\x1b[31m 3.11\"",
			[]string{"clearcutt.yaml:22:18", "runtimes[0].description", "without control characters"}},
		{"long description", "    entrypoint: [/bin/python3]", "    entrypoint: [/bin/python3]\n    description: " + strings.Repeat("x", 161),
			[]string{"clearcutt.yaml:22:18", "runtimes[0].description", "161 characters long", "at most 160"}},
		{"blank description", "    entrypoint: [/bin/python3]", "    entrypoint: [/bin/python3]\n    description: \"  \"",
			[]string{"clearcutt.yaml:22:18", "runtimes[0].description", "is blank"}},
		{"unknown tier name", "  dev: {packages", "  prod: {}\n  dev: {packages",
			[]string{"tiers.prod", "unknown field"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(valid, c.old) {
				t.Fatalf("fixture does not contain %q", c.old)
			}
			_, err := Parse("clearcutt.yaml", []byte(strings.Replace(valid, c.old, c.new, 1)))
			if err == nil {
				t.Fatal("accepted an invalid fleet")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// identity.workflowRef names the ref in the Build Signer URI: a full git
// ref, or the full commit SHA a caller pins the reusable workflow at. The
// SHA is lower-case and 40 hex digits, as GitHub writes it in
// job_workflow_ref; nothing shorter or looser is an identity.
func TestWorkflowRef(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	withRef := func(ref string) string {
		return strings.Replace(valid, "  ref: refs/heads/main", "  ref: refs/heads/main\n  workflowRepository: acme/clearcutt\n  workflowRef: "+ref, 1)
	}
	for _, ref := range []string{"refs/tags/v1.4.0", "refs/heads/main", sha} {
		f, err := Parse("clearcutt.yaml", []byte(withRef(ref)))
		if err != nil {
			t.Errorf("workflowRef %s: %v", ref, err)
			continue
		}
		if f.Identity.WorkflowRef != ref || f.Identity.Ref != "refs/heads/main" {
			t.Errorf("workflowRef %s: identity = %+v", ref, f.Identity)
		}
	}
	for _, ref := range []string{
		"main",
		"v1.4.0",
		"0123456", // short SHA
		"0123456789abcdef0123456789abcdef0123456",   // 39 hex digits
		"0123456789abcdef0123456789abcdef012345678", // 41 hex digits
		"0123456789ABCDEF0123456789ABCDEF01234567",  // upper case
		"0123456789abcdef0123456789abcdef0123456g",
		"refs/pull/1/merge",
		"refs/remotes/origin/main",
		"sha256:" + sha,
	} {
		_, err := Parse("clearcutt.yaml", []byte(withRef(fmt.Sprintf("%q", ref))))
		if err == nil {
			t.Errorf("workflowRef %q accepted", ref)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("workflowRef %q: error does not wrap ErrInvalid: %v", ref, err)
		}
		for _, w := range []string{"clearcutt.yaml:11:16", "identity.workflowRef", "full git ref like refs/tags/v1.0.0 or a 40-hex commit SHA"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("workflowRef %q: error %q does not contain %q", ref, err, w)
			}
		}
	}
	// The source ref is what github.ref holds: never a bare commit.
	_, err := Parse("clearcutt.yaml", []byte(strings.Replace(valid, "  ref: refs/heads/main", "  ref: "+sha, 1)))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "identity.ref") || !strings.Contains(err.Error(), "full git ref like refs/heads/main") {
		t.Errorf("identity.ref %s: %v", sha, err)
	}
}

func TestAllErrorsReportedAtOnce(t *testing.T) {
	src := strings.Replace(valid, "  ref: refs/heads/main", "  ref: main", 1)
	src = strings.Replace(src, "  architectures: [amd64, arm64]", "  architectures: [amd64, mips]", 1)
	_, err := Parse("f.yaml", []byte(src))
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
	if es[0].Line > es[1].Line {
		t.Fatalf("errors not in file order: %v", es)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func TestMultipleDocumentsRejected(t *testing.T) {
	_, err := Parse("f.yaml", []byte(valid+"---\nkind: Fleet\n"))
	var es Errors
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("err = %v, want one fleet file error", err)
	}
	if es[0].File != "f.yaml" || es[0].Line == 0 || !strings.Contains(es[0].Msg, "more than one YAML document") {
		t.Fatalf("err = %+v", es[0])
	}
}

// TestUnknownFieldsDoNotHideOtherErrors: an unknown field is reported with
// its position and suggestion, and the validation goes on: every other
// problem of the file is reported with it, once, in file order.
func TestUnknownFieldsDoNotHideOtherErrors(t *testing.T) {
	src := strings.Replace(valid, "  ref: refs/heads/main", "  ref: main", 1)
	src = strings.Replace(src, "  architectures: [amd64, arm64]", "  architectures: [amd64, arm64]\n  layerBudget: 1", 1)
	src = strings.Replace(src, "  slim: {packages: [busybox], shell: required,", "  slim: {packages: [busybox], shel: required,", 1)
	src = strings.Replace(src, "    entrypoint: [/bin/python3]", "    entrypont: [/bin/python3]", 1)
	_, err := Parse("f.yaml", []byte(src))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want an invalid fleet file", err)
	}
	want := strings.Join([]string{
		`f.yaml:9:8: identity.ref: must be a full git ref like refs/heads/main, found "main"`,
		`f.yaml:12:16: build.layerBudget: must be between 2 and 127, found 1`,
		`f.yaml:16:31: tiers.slim.shel: unknown field "shel" (did you mean "shell"?)`,
		`f.yaml:22:5: runtimes[0].entrypont: unknown field "entrypont" (did you mean "entrypoint"?)`,
	}, "\n")
	if err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}

// TestMisspeltFieldReportedOnce: a misspelt required field is one problem,
// the unknown field with its suggestion; the field it was meant to be is
// not reported missing as well. A field merely unknown, with no suggestion,
// leaves the missing field reported.
func TestMisspeltFieldReportedOnce(t *testing.T) {
	for _, c := range []struct {
		name, old, new string
		want           []string
	}{
		{"misspelt repository", "  repository: acme/fleet", "  repositry: acme/fleet",
			[]string{`f.yaml:7:3: identity.repositry: unknown field "repositry" (did you mean "repository"?)`}},
		{"misspelt tier policy", "  slim: {packages: [busybox], shell: required,", "  slim: {packages: [busybox], shel: required,",
			[]string{`f.yaml:15:31: tiers.slim.shel: unknown field "shel" (did you mean "shell"?)`}},
		{"misspelt and written", "  repository: acme/fleet", "  repository: acme\n  repositry: acme/fleet",
			[]string{
				`f.yaml:7:15: identity.repository: must be owner/name, found "acme"`,
				`f.yaml:8:3: identity.repositry: unknown field "repositry" (did you mean "repository"?)`,
			}},
		{"unknown, no suggestion", "  repository: acme/fleet", "  project: acme/fleet",
			[]string{
				`f.yaml:6:3: identity.repository: must be owner/name, found ""`,
				`f.yaml:7:3: identity.project: unknown field "project" (known fields: `,
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(strings.Replace(valid, c.old, c.new, 1)))
			var es Errors
			if !errors.As(err, &es) || len(es) != len(c.want) {
				t.Fatalf("err = %v, want %d errors", err, len(c.want))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(es[i].Error(), w) {
					t.Errorf("error %d = %q, want %q", i, es[i], w)
				}
			}
		})
	}
}

// TestSyntaxErrorLine: a YAML syntax error deep in a fleet file is reported
// at the line the parser stopped at, not at the line of the mapping or list
// around it (which yaml.v3 names, counted from 0), and with no column: the
// parser does not tell it, and a made-up ":0" would send an editor to the
// wrong place.
func TestSyntaxErrorLine(t *testing.T) {
	example, err := os.ReadFile("../../clearcutt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, old, new string
		// line is the line of the mistake, counted within new.
		line int
		msg  string
	}{
		{"bracket after a flow list", "    tiers: [distroless]\n\n", "    tiers: [distroless] ]\n\n", 0, "did not find expected key"},
		{"key indented by three spaces", "  - id: static\n    version: \"1\"\n", "  - id: static\n   version: \"1\"\n", 1, "did not find expected '-' indicator"},
		{"key indented by a tab", "  - id: static\n    version: \"1\"\n", "  - id: static\n\tversion: \"1\"\n", 1, "found a tab character that violates indentation"},
		{"second colon in a value", "    nix: {attribute: tzdata}\n", "    nix: {attribute: tzdata}\n    cmd: a: b\n", 1, "mapping values are not allowed in this context"},
		{"second document broken", "    tiers: [distroless]\n\n", "    tiers: [distroless]\n---\nkind: Fleet: x\n", 2, "mapping values are not allowed in this context"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := string(example)
			i := strings.Index(src, c.old)
			if i < 0 {
				t.Fatalf("clearcutt.yaml does not contain %q", c.old)
			}
			src = src[:i] + c.new + src[i+len(c.old):]
			line := strings.Count(src[:i], "\n") + 1 + c.line
			if line < 100 {
				t.Fatalf("the mistake is at line %d; the test wants it deep in the file", line)
			}
			_, err := Parse("f.yaml", []byte(src))
			var es Errors
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("err = %v, want one syntax error", err)
			}
			if want := fmt.Sprintf("f.yaml:%d: %s", line, c.msg); es[0].Error() != want {
				t.Errorf("error %q, want %q", es[0], want)
			}
			if es[0].Line != line || es[0].Column != 0 {
				t.Errorf("position %d:%d, want line %d and no column", es[0].Line, es[0].Column, line)
			}
		})
	}
}

// TestFieldErrorWithoutColumn: an error whose column is unknown names the
// file and line only, never a column 0.
func TestFieldErrorWithoutColumn(t *testing.T) {
	for _, c := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{File: "f.yaml", Line: 64, Msg: "m"}, "f.yaml:64: m"},
		{FieldError{File: "f.yaml", Line: 64, Column: 3, Path: "a.b", Msg: "m"}, "f.yaml:64:3: a.b: m"},
		{FieldError{File: "f.yaml", Msg: "m"}, "f.yaml: m"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.e, got, c.want)
		}
	}
}
