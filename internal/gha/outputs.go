package gha

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrUndeclaredOutput: a command wrote an output its contract does not
// declare, or left out one it does.
var ErrUndeclaredOutput = errors.New("output not in the contract")

// Output is one declared step output of a command.
type Output struct {
	Name        string
	Description string
}

// Contract lists, per command ("test", "fleet plan", ...), the outputs the
// CLI writes to $GITHUB_OUTPUT: the outputs actions/<stage>/action.yml
// declares. Booleans are "true" or "false"; lists and maps are compact JSON.
// A "passed" output is "false" whenever the command exits non-zero.
var Contract = map[string][]Output{
	"build": {
		{"manifest", "path of the closure manifest written (<out>/<runtime>-<tier>-<arch>.json)"},
		{"closure-size", "total NAR size of the closure in bytes"},
	},
	"assemble": {
		{"digest", "digest of the image index (sha256:…)"},
		{"reference", "the index by digest in the staging layout (oci:DIR@sha256:…)"},
	},
	"test": {
		{"passed", "true when no check of any platform failed"},
		{"statements", "JSON object: platform digest → test-result statement file"},
	},
	"sbom": {
		{"files", "JSON array of the SPDX documents written, one per platform"},
	},
	"scan": {
		{"passed", "true when the vulnerability gate passed for every platform"},
		{"active", "active findings, summed over the platforms"},
		{"suppressed", "findings suppressed by VEX, summed over the platforms"},
		{"excepted", "findings covered by an active exception, summed over the platforms"},
	},
	"publish": {
		{"digest", "digest of the published index"},
		{"reference", "the published index by digest (oci:DIR@sha256:… or host/repo@sha256:…)"},
		{"refs", "JSON array of every reference written (digest and tags)"},
	},
	"index": {
		{"digest", "digest of the index combining the platform images"},
		{"reference", "the published index by digest (oci:DIR@sha256:… or host/repo@sha256:…)"},
		{"refs", "JSON array of every reference written (digest and tags)"},
	},
	"attest": {
		{"bundles", "JSON array of the bundles stored: subject, platform, predicateType, artifact"},
	},
	"verify": {
		{"passed", "true when every required evidence channel verified"},
		{"report", "the verification report as compact JSON"},
	},
	"pipeline": {
		{"passed", "true when the run succeeded: every gate of every image passed and every published image verified"},
		{"published", "true when the images were published"},
		{"verified", "true when every published image verified"},
	},
	"fleet plan": {
		{"matrix", "the strategy.matrix JSON (the output of --github-matrix)"},
	},
	"catalog": {
		{"passed", "true when every image of the catalog has every required channel verified and no release failed"},
		{"catalog", "path of the catalog.json written"},
		{"images", "number of images in the catalog"},
	},
	"rescan": {
		{"passed", "true when every image was rescanned and no vulnerability gate failed"},
		{"rescanned", "number of images given a fresh scan attestation"},
		{"new-findings", "JSON array of finding ids active now that were not active at the previous scan"},
	},
	"app build": {
		{"digest", "digest of the application image index"},
		{"reference", "the application index by digest (oci:DIR@sha256:… or host/repo@sha256:…)"},
		{"refs", "JSON array of every reference written (digest and tags)"},
	},
	"app diff-base": {
		{"passed", "true when the candidate base can replace the current one"},
		{"same-line", "true when the candidate is of the same runtime and tier"},
		{"fixed", "findings of the current base the candidate no longer has, summed over the platforms"},
		{"new", "findings the candidate adds, summed over the platforms"},
	},
	"app rebase": {
		{"digest", "digest of the rebased application index"},
		{"reference", "the rebased index by digest"},
		{"refs", "JSON array of every reference written (digest and tags)"},
	},
	"remediate draft": {
		{"branch", "the branch the change was committed to"},
		{"body", "path of the pull-request body (Markdown) written"},
		{"changed", "true when a change was drafted"},
	},
}

// Outputs is Contract by name only: command → output names.
var Outputs = func() map[string][]string {
	m := map[string][]string{}
	for cmd, outs := range Contract {
		for _, o := range outs {
			m[cmd] = append(m[cmd], o.Name)
		}
	}
	return m
}()

// WriteOutputs writes exactly the outputs Contract declares for command, in
// one append: an undeclared or missing name is refused before anything is
// written.
func (a *Actions) WriteOutputs(command string, values map[string]string) error {
	want, ok := Outputs[command]
	if !ok {
		return fmt.Errorf("%w: command %q declares no outputs", ErrUndeclaredOutput, command)
	}
	var missing, extra []string
	for _, n := range want {
		if _, ok := values[n]; !ok {
			missing = append(missing, n)
		}
	}
	for n := range values {
		if !contains(want, n) {
			extra = append(extra, n)
		}
	}
	if len(missing)+len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("%w: %s: missing [%s], undeclared [%s]", ErrUndeclaredOutput, command, strings.Join(missing, " "), strings.Join(extra, " "))
	}
	if !a.enabled {
		return nil
	}
	// One append for all of them: a failure leaves no partial set.
	var b strings.Builder
	for _, n := range want {
		rec, err := outputRecord(n, values[n])
		if err != nil {
			return fmt.Errorf("%s output %s: %w", command, n, err)
		}
		b.WriteString(rec)
	}
	return a.appendFile("GITHUB_OUTPUT", b.String())
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
