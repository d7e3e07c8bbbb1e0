package actions

import (
	"errors"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/gha"
)

const goodAction = `name: ClearCutt test
description: test images
inputs:
  fleet:
    description: the fleet file
    required: false
    default: clearcutt.yaml
  image:
    description: the image
    required: true
outputs:
  passed:
    description: "true when no check of any platform failed"
    value: ${{ steps.run.outputs.passed }}
  statements:
    description: "JSON object: platform digest → test-result statement file"
    value: ${{ steps.run.outputs.statements }}
runs:
  using: composite
  steps:
    - uses: actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5 # v5.5.0
      with:
        go-version-file: ${{ github.action_path }}/../../go.mod
    - name: clearcutt test
      id: run
      shell: bash
      env:
        CLEARCUTT_FLEET: ${{ inputs.fleet }}
        CLEARCUTT_IMAGE: ${{ inputs.image }}
      run: |
        "$RUNNER_TEMP/clearcutt" -f "$CLEARCUTT_FLEET" test "$CLEARCUTT_IMAGE" --evidence out
`

func check(t *testing.T, src string) []error {
	t.Helper()
	a, err := Parse("actions/test/action.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return CheckAction(a, gha.Contract["test"])
}

func TestCheckActionAcceptsGood(t *testing.T) {
	if errs := check(t, goodAction); len(errs) != 0 {
		t.Fatalf("good action rejected: %v", errs)
	}
}

func TestCheckActionRejects(t *testing.T) {
	cases := []struct{ name, old, new, want string }{
		{"expression in run", `--evidence out`, `--evidence ${{ inputs.image }}`, "interpolates an expression"},
		{"unpinned uses", `@d35c59abb061a4a6fb18e82ac0862c26744d6ab5 # v5.5.0`, `@v5`, "not pinned"},
		{"pin without release comment", ` # v5.5.0`, ``, "'# vX'"},
		{"input never passed", "        CLEARCUTT_IMAGE: ${{ inputs.image }}\n", "", "input image is never passed"},
		{"env var never used", `test "$CLEARCUTT_IMAGE"`, `test x`, "which run: never uses"},
		{"env var not set", `--evidence out`, `--evidence "$CLEARCUTT_EVIDENCE"`, "does not set"},
		{"wrong env name", `CLEARCUTT_IMAGE: ${{`, `IMAGE: ${{`, "want CLEARCUTT_IMAGE"},
		{"undeclared input", `CLEARCUTT_IMAGE: ${{ inputs.image }}`, `CLEARCUTT_IMAGE: ${{ inputs.imag }}`, "inputs.imag is not a declared input"},
		{"output missing", "  statements:\n    description: \"JSON object: platform digest → test-result statement file\"\n    value: ${{ steps.run.outputs.statements }}\n", "", "declares 1 outputs"},
		{"output description drift", `true when no check`, `true if no check`, "output 1 is passed"},
		{"output from another step", `steps.run.outputs.passed`, `steps.x.outputs.passed`, "want \"${{ steps.run.outputs.passed }}\""},
		{"not composite", `using: composite`, `using: node20`, "want composite"},
		{"shell missing", "      shell: bash\n", "", "want bash"},
		{"wrong command", `-f "$CLEARCUTT_FLEET" test`, `-f "$CLEARCUTT_FLEET" sbom`, "does not run"},
		{"required with default", "    required: true\n", "    required: true\n    default: x\n", "exactly one of"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(goodAction, c.old, c.new, 1)
			if src == goodAction {
				t.Fatalf("fixture edit %q did not apply", c.old)
			}
			errs := check(t, src)
			for _, err := range errs {
				if !errors.Is(err, ErrRule) {
					t.Errorf("error not wrapping ErrRule: %v", err)
				}
				if strings.Contains(err.Error(), c.want) {
					return
				}
			}
			t.Fatalf("want an error containing %q, got %v", c.want, errs)
		})
	}
}

func TestParseRejectsUnknownFieldsAndMissingDescriptions(t *testing.T) {
	for _, src := range []string{
		strings.Replace(goodAction, "runs:", "runz: 1\nruns:", 1),
		strings.Replace(goodAction, "    description: the image\n", "", 1),
		strings.Replace(goodAction, "description: test images\n", "", 1),
	} {
		if _, err := Parse("x/action.yml", []byte(src)); !errors.Is(err, ErrInvalidAction) {
			t.Errorf("want ErrInvalidAction, got %v", err)
		}
	}
}

func TestCheckWorkflow(t *testing.T) {
	good := `name: ci
on: push
permissions: {}
jobs:
  t:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - uses: ./actions/test
      - run: echo "$X"
        env:
          X: ${{ github.ref }}
  attest:
    runs-on: ubuntu-24.04
    permissions:
      id-token: write
    steps:
      - run: "true"
  provenance:
    permissions:
      id-token: write
      actions: read
    uses: slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@v2.1.0
`
	if errs := CheckWorkflow("ci.yml", []byte(good)); len(errs) != 0 {
		t.Fatalf("good workflow rejected: %v", errs)
	}
	bad := map[string]string{
		"no permissions":          strings.Replace(good, "permissions: {}\n", "", 1),
		"write-all":               strings.Replace(good, "permissions: {}", "permissions: write-all", 1),
		"expression in run":       strings.Replace(good, `echo "$X"`, `echo "${{ github.ref }}"`, 1),
		"tag pin":                 strings.Replace(good, "@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2", "@v4", 1),
		"short sha":               strings.Replace(good, "@11bd71901bbe5b1630ceea73d27597364c9af683", "@11bd719", 1),
		"docker tag":              strings.Replace(good, "./actions/test", "docker://alpine:3", 1),
		"job without permissions": strings.Replace(good, "    permissions:\n      contents: read\n", "", 1),
		"job with write-all":      strings.Replace(good, "    permissions:\n      contents: read\n", "    permissions: write-all\n", 1),
		"id-token in a build job": strings.Replace(good, "      contents: read\n", "      contents: read\n      id-token: write\n", 1),
		"generator by branch":     strings.Replace(good, "generator_container_slsa3.yml@v2.1.0", "generator_container_slsa3.yml@main", 1),
		"other workflow by tag":   strings.Replace(good, "slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@v2.1.0", "acme/wf/.github/workflows/x.yml@v1.0.0", 1),
	}
	for name, src := range bad {
		errs := CheckWorkflow("ci.yml", []byte(src))
		if len(errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
		for _, err := range errs {
			if !errors.Is(err, ErrRule) {
				t.Errorf("%s: error not wrapping ErrRule: %v", name, err)
			}
		}
	}
}

func TestHelpFlags(t *testing.T) {
	help := "Flags:\n      --evidence string   dir\n  -h, --help   help\n\nGlobal Flags:\n  -f, --fleet string   fleet\n"
	got := HelpFlags(help)
	for _, f := range []string{"evidence", "help", "fleet"} {
		if !got[f] {
			t.Errorf("flag %s not found in %v", f, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("got %v", got)
	}
}

func TestCheckLocalUses(t *testing.T) {
	actions := []*Action{{Dir: "scan", Inputs: []Input{{Name: "image", Required: true}, {Name: "db", Required: true}, {Name: "fail-on"}}}}
	good := `jobs:
  j:
    steps:
      - uses: ./.clearcutt/actions/scan
        with: {image: x, db: y}
      - uses: ./actions/scan
        with: {image: x, db: y, fail-on: high}
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
`
	if errs := CheckLocalUses("w.yml", []byte(good), actions); len(errs) != 0 {
		t.Fatalf("good workflow rejected: %v", errs)
	}
	for name, src := range map[string]string{
		"unknown action": strings.Replace(good, "./actions/scan", "./actions/rescan", 1),
		"missing input":  strings.Replace(good, "with: {image: x, db: y}", "with: {image: x}", 1),
		"unknown input":  strings.Replace(good, "fail-on: high", "fail_on: high", 1),
	} {
		if errs := CheckLocalUses("w.yml", []byte(src), actions); len(errs) != 1 || !errors.Is(errs[0], ErrRule) {
			t.Errorf("%s: %v, want one rule violation", name, errs)
		}
	}
}
