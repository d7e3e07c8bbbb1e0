package admission_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/clearcutt/clearcutt/internal/admission"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/sigtest"
)

// TestAdmissionRefusesPatternLiterals: Generate refuses, naming the field
// and the character, every value it would write into a field an engine
// reads as a pattern — whether it comes from the fleet file (here set on
// the decoded fleet, past fleet validation) or from a flag.
func TestAdmissionRefusesPatternLiterals(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(f *fleet.File, o *admission.Options)
		want []string
	}{
		{"ref star", func(f *fleet.File, _ *admission.Options) { f.Identity.Ref = "refs/heads/*" },
			[]string{`clearcutt.yaml: identity.ref "refs/heads/*" holds "*", a wildcard`}},
		{"ref question mark", func(f *fleet.File, _ *admission.Options) { f.Identity.Ref = "refs/heads/release-?" },
			[]string{`identity.ref "refs/heads/release-?" holds "?"`}},
		{"ref kyverno variable", func(f *fleet.File, _ *admission.Options) {
			f.Identity.Ref = "refs/heads/{{request.object.metadata.name}}"
		}, []string{`identity.ref`, `holds "{", opens a Kyverno variable`}},
		{"ref kyverno reference", func(f *fleet.File, _ *admission.Options) { f.Identity.Ref = "refs/heads/$(x)" },
			[]string{`identity.ref`, `holds "$"`}},
		{"ref line feed", func(f *fleet.File, _ *admission.Options) { f.Identity.Ref = "refs/heads/main\n" },
			[]string{`identity.ref`, `holds U+000A`}},
		{"workflow star", func(f *fleet.File, _ *admission.Options) { f.Identity.Workflow = ".github/workflows/*.yml" },
			[]string{`identity.workflow ".github/workflows/*.yml" holds "*"`}},
		{"workflow repository star", func(f *fleet.File, _ *admission.Options) { f.Identity.WorkflowRepository = "acme/*" },
			[]string{`identity.workflowRepository "acme/*" holds "*"`}},
		{"repository question mark", func(f *fleet.File, _ *admission.Options) { f.Identity.Repository = "acme/fleet?" },
			[]string{`identity.repository "acme/fleet?" holds "?"`}},
		{"workflow ref star", func(f *fleet.File, _ *admission.Options) { f.Identity.WorkflowRef = "refs/tags/v1.*" },
			[]string{`identity.workflowRef "refs/tags/v1.*" holds "*"`}},
		{"rescan workflow class", func(f *fleet.File, _ *admission.Options) {
			f.Identity.RescanWorkflow = ".github/workflows/re[s]can.yml"
		}, []string{`identity.rescanWorkflow`, `holds "["`}},
		{"issuer star", func(f *fleet.File, _ *admission.Options) { f.Identity.Issuer = "https://*.githubusercontent.com" },
			[]string{`identity.issuer "https://*.githubusercontent.com" holds "*"`}},
		{"provenance signer flag", func(_ *fleet.File, o *admission.Options) {
			o.ProvenanceSignerURI = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/*"
		}, []string{`--provenance-signer: provenance signer`, `holds "*"`}},
		{"provenance signer backslash", func(_ *fleet.File, o *admission.Options) { o.ProvenanceSignerURI = `https://x/\d+` },
			[]string{`--provenance-signer`, `holds "\\"`}},
		{"registry repository star", func(f *fleet.File, _ *admission.Options) { f.Registry.Repository = "ghcr.io/acme/*" },
			[]string{`registry.repository "ghcr.io/acme/*" holds "*"`}},
		{"registry repository class", func(f *fleet.File, _ *admission.Options) { f.Registry.Repository = "ghcr.io/acme/[a-z]x" },
			[]string{`registry.repository`, `holds "["`}},
		{"registry repository quote", func(f *fleet.File, _ *admission.Options) { f.Registry.Repository = "ghcr.io/acme'/x" },
			[]string{`registry.repository "ghcr.io/acme'/x" is not a repository prefix`}},
		{"registry repository caret", func(f *fleet.File, _ *admission.Options) { f.Registry.Repository = "ghcr.io/^acme" },
			[]string{`registry.repository "ghcr.io/^acme" is not a repository prefix`}},
		{"tag template star", func(f *fleet.File, _ *admission.Options) { f.Registry.Tags = []string{"{tier}-*"} },
			[]string{`registry.tags (image python:dev)`, `holds "*"`}},
		{"fleet name variable", func(f *fleet.File, _ *admission.Options) { f.Metadata.Name = "fleet-{{x}}" },
			[]string{`metadata.name "fleet-{{x}}" is not a fleet name`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := loadFleet(t, "")
			var o admission.Options
			c.edit(f, &o)
			res, err := admission.Generate(f, o)
			if err == nil {
				t.Fatalf("generated policies from a pattern:\n%s", res.Files[0].Content)
			}
			if !errors.Is(err, admission.ErrInvalidOptions) {
				t.Errorf("error does not wrap ErrInvalidOptions: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestGeneratedPatternsMatchOnlyTheLiterals generates policies for a fleet
// whose identity holds every character a literal may hold that is special
// in a regular expression, and checks every field an engine matches as a
// pattern: Kyverno's subject, issuer, additionalExtensions and condition
// values and imageReferences hold no wildcard but the generator's own
// "/*" and "@*"; the one subjectRegExp matches exactly the two scan
// signers; the CUE policies hold every value as an escaped string literal.
func TestGeneratedPatternsMatchOnlyTheLiterals(t *testing.T) {
	f := loadFleet(t, "registry.example:5000/acme-co/base.images")
	f.Identity.Repository = "acme-co/fleet.images"
	f.Identity.WorkflowRepository = "acme/kit.v2"
	f.Identity.Workflow = ".github/workflows/sign+publish(x).yml"
	f.Identity.RescanWorkflow = ".github/workflows/re.scan|a^b.yml"
	f.Identity.WorkflowRef = "refs/tags/v1.2.0+build"
	f.Identity.Ref = "refs/heads/release(1).x"
	res, err := admission.Generate(f, admission.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signer := "https://github.com/acme/kit.v2/.github/workflows/sign+publish(x).yml@refs/tags/v1.2.0+build"
	rescan := "https://github.com/acme/kit.v2/.github/workflows/re.scan|a^b.yml@refs/tags/v1.2.0+build"
	if res.Signer != signer {
		t.Fatalf("signer %q", res.Signer)
	}

	var ky map[string]any
	if err := yaml.Unmarshal([]byte(res.Files[0].Content), &ky); err != nil {
		t.Fatal(err)
	}
	var regexps []string
	walk(ky, "", func(path string, v any) {
		s, ok := v.(string)
		if !ok {
			return
		}
		switch {
		case strings.HasSuffix(path, ".subjectRegExp"):
			regexps = append(regexps, s)
		case strings.HasSuffix(path, ".keyless.subject"), strings.HasSuffix(path, ".keyless.issuer"),
			strings.Contains(path, ".additionalExtensions."),
			strings.Contains(path, ".attestations.") && strings.HasSuffix(path, ".value"):
			if strings.ContainsAny(s, "*?{}$[]\\") {
				t.Errorf("%s: %q is read as a pattern", path, s)
			}
		case strings.HasSuffix(path, ".imageReferences"):
			if s != "registry.example:5000/acme-co/base.images/*" {
				t.Errorf("%s: %q", path, s)
			}
		case strings.Contains(path, ".deny.conditions.") && strings.HasSuffix(path, ".value"):
			if i := strings.IndexAny(s, "*?"); i >= 0 && s[i:] != "*" || strings.Count(s, "*") > 1 {
				t.Errorf("%s: %q holds a wildcard other than the trailing @*", path, s)
			}
		}
	})
	if len(regexps) != 1 {
		t.Fatalf("%d subjectRegExp fields, want 1", len(regexps))
	}
	re := regexp.MustCompile(regexps[0])
	for _, s := range []string{signer, rescan} {
		if !re.MatchString(s) {
			t.Errorf("%s does not match %s", re, s)
		}
	}
	for _, s := range []string{
		signer + "x", "x" + signer, signer + "|" + rescan, signer + "\n",
		strings.Replace(signer, "kit.v2", "kitXv2", 1), strings.Replace(signer, "sign+publish", "signnpublish", 1),
		strings.Replace(signer, "(x)", "x", 1), strings.Replace(rescan, "|a^b", "", 1), "https://github.com/acme/kit.v2/.github/workflows/re.scan",
		strings.Replace(rescan, "re.scan", "reXscan", 1),
	} {
		if re.MatchString(s) {
			t.Errorf("%s matches %q", re, s)
		}
	}

	pc := res.Files[1].Content
	for _, want := range []string{
		`subject: ` + signer, `subject: ` + rescan,
		`& ["git+https://github.com/acme-co/fleet.images@refs/heads/release(1).x"]`,
		`- glob: registry.example:5000/acme-co/base.images/*`,
	} {
		if !strings.Contains(pc, want) {
			t.Errorf("policy-controller policies lack %q", want)
		}
	}
}

// walk calls fn for every scalar of a decoded YAML document with its dotted
// path (list items have no index in the path).
func walk(v any, path string, fn func(string, any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walk(e, path+"."+k, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, path, fn)
		}
	default:
		fn(path, x)
	}
}

// TestVulnerabilityGateRules: both engines require vulnerability scans
// whose gate passed, signed by the fleet signer or the rescan identity
// (keyless) or by the fleet key (key mode).
func TestVulnerabilityGateRules(t *testing.T) {
	f := loadFleet(t, "")
	res, err := admission.Generate(f, admission.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ky, pc := res.Files[0].Content, res.Files[1].Content
	for _, want := range []string{
		"- name: " + admission.KyvernoRuleVulns,
		"- type: " + admission.PredicateVulns,
		"useCache: false",
		"- key: '{{ gate.pass }}'\n                      operator: Equals\n                      value: true",
		"- key: '{{ gate.staleDBAccepted || `false` }}'\n                      operator: Equals\n                      value: false",
		`subjectRegExp: ^(?:https://github\.com/clearcutt/clearcutt/\.github/workflows/publish\.yml@refs/heads/main|https://github\.com/clearcutt/clearcutt/\.github/workflows/rescan\.yml@refs/heads/main)$`,
	} {
		if !strings.Contains(ky, want) {
			t.Errorf("kyverno policy lacks %q", want)
		}
	}
	for _, want := range []string{
		"name: clearcutt-example-vulnerabilities",
		"subject: https://github.com/clearcutt/clearcutt/.github/workflows/rescan.yml@refs/heads/main",
		"predicateType: " + admission.PredicateVulns,
		`"predicate.gate.pass": [for k0, v0 in predicate if k0 == "gate" for k1, v1 in v0 if k1 == "pass" {v1}] & [true]`,
		`"predicate.gate.staleDBAccepted": [for k0, v0 in predicate if k0 == "gate" for k1, v1 in v0 if k1 == "staleDBAccepted" {v1}] & ([] | [false])`,
	} {
		if !strings.Contains(pc, want) {
			t.Errorf("policy-controller policies lack %q", want)
		}
	}
	// The rescan identity signs scans only: it is in no other rule.
	if n := strings.Count(pc, "rescan.yml"); n != 1 {
		t.Errorf("policy-controller policies name the rescan identity %d times, want 1", n)
	}
	rules := ky[strings.Index(ky, "\n  rules:\n"):]
	if before := rules[:strings.Index(rules, "- name: "+admission.KyvernoRuleVulns)]; strings.Contains(before, "rescan.yml") || strings.Contains(before, `rescan\.yml`) {
		t.Errorf("a rule before the vulnerability gate trusts the rescan identity:\n%s", before)
	}
	found := map[admission.Engine]bool{}
	for _, r := range res.Rules {
		if strings.Contains(r.Enforces, "gate.pass true") {
			found[r.Engine] = true
		}
	}
	if !found[admission.EngineKyverno] || !found[admission.EnginePolicyController] {
		t.Errorf("the report lacks a vulnerability gate rule: %+v", res.Rules)
	}

	key, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	res, err = admission.Generate(f, admission.Options{Engines: []admission.Engine{admission.EngineKyverno}, PublicKeyPEM: key.PublicKeyPEM()})
	if err != nil {
		t.Fatal(err)
	}
	ky = res.Files[0].Content
	rule := ky[strings.Index(ky, "- name: "+admission.KyvernoRuleVulns):]
	if !strings.Contains(rule, "publicKeys: |") || strings.Contains(ky, "subjectRegExp") || strings.Contains(ky, "rescan.yml") {
		t.Errorf("key-mode vulnerability rule:\n%s", rule)
	}
}
