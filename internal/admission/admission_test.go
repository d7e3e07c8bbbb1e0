package admission_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clearcutt/clearcutt/internal/admission"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/sigtest"
)

var update = flag.Bool("update", false, "rewrite deploy/admission from clearcutt.yaml")

// TestDeployedPoliciesHaveNotDrifted: deploy/admission holds what
// `clearcutt admission --out deploy/admission` generates from the
// repository's clearcutt.yaml.
func TestDeployedPoliciesHaveNotDrifted(t *testing.T) {
	res, err := admission.Generate(loadFleet(t, ""), admission.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "deploy", "admission")
	const regen = "regenerate with: go run . admission --out deploy/admission (or go test ./internal/admission -run TestDeployedPoliciesHaveNotDrifted -update)"
	for _, f := range res.Files {
		path := filepath.Join(dir, f.Name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(f.Content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v; %s", err, regen)
		}
		if string(got) != f.Content {
			t.Errorf("%s is out of date with clearcutt.yaml; %s", path, regen)
		}
	}
}

func TestIdentityComesFromTheFleet(t *testing.T) {
	f := loadFleet(t, "")
	f.Identity.Repository = "acme/base-images"
	f.Identity.WorkflowRepository = "acme/image-kit"
	f.Identity.Workflow = ".github/workflows/sign.yml"
	f.Identity.WorkflowRef = "refs/tags/v1.4.0"
	f.Identity.Ref = "refs/tags/v2026.1"
	f.Registry.Repository = "registry.example/acme/base"
	res, err := admission.Generate(f, admission.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const san = "https://github.com/acme/image-kit/.github/workflows/sign.yml@refs/tags/v1.4.0"
	if res.Signer != san || res.Issuer != "https://token.actions.githubusercontent.com" || res.Mode != admission.ModeKeyless {
		t.Fatalf("identity %q / %q (%s)", res.Signer, res.Issuer, res.Mode)
	}
	for _, file := range res.Files {
		for _, want := range []string{
			"subject: " + san,
			"registry.example/acme/base/*",
			admission.ConfigSourceURI("acme/base-images", "refs/tags/v2026.1"),
		} {
			if !strings.Contains(file.Content, want) {
				t.Errorf("%s lacks %q", file.Name, want)
			}
		}
		for _, never := range []string{"issuerRegExp", "clearcutt/clearcutt"} {
			if strings.Contains(file.Content, never) {
				t.Errorf("%s contains %q", file.Name, never)
			}
		}
	}
	// The one regular expression: the vulnerability rule's scan signers,
	// the signer and the rescan identity, each escaped.
	const rescan = "https://github.com/acme/image-kit/.github/workflows/rescan.yml@refs/tags/v1.4.0"
	wantRE := `subjectRegExp: ^(?:` + regexp.QuoteMeta(san) + `|` + regexp.QuoteMeta(rescan) + `)$`
	if n := strings.Count(res.Files[0].Content, "subjectRegExp"); n != 1 || !strings.Contains(res.Files[0].Content, wantRE) {
		t.Errorf("kyverno policy: %d subjectRegExp, want one: %s", n, wantRE)
	}
	if strings.Contains(res.Files[1].Content, "subjectRegExp") || !strings.Contains(res.Files[1].Content, "subject: "+rescan) {
		t.Errorf("policy-controller policies: the rescan identity is not an exact subject")
	}
	ky := res.Files[0].Content
	for _, want := range []string{"githubWorkflowRepository: acme/base-images", "githubWorkflowRef: refs/tags/v2026.1", "failureAction: Enforce", "failurePolicy: Fail"} {
		if !strings.Contains(ky, want) {
			t.Errorf("kyverno policy lacks %q", want)
		}
	}
}

// reKitWorkflow finds every mention of acme/clearcutt's workflows, plain
// or regexp-escaped, with the ref it names.
var reKitWorkflow = regexp.MustCompile(`acme/clearcutt/\\?\.github/workflows/[A-Za-z\\.]+@([0-9A-Za-z/._-]+)`)

// TestWorkflowPinnedByCommit: a clearcutt.yaml whose workflowRef is the
// commit the fleet calls the reusable workflow at; the policies pin the
// Build Signer URI ending in @<commit>, exactly.
func TestWorkflowPinnedByCommit(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	path := filepath.Join("..", "..", "clearcutt.yaml")
	src := string(mustRead(t, path))
	const ref = "  ref: refs/heads/main\n"
	if !strings.Contains(src, ref) {
		t.Fatalf("%s has no %q", path, ref)
	}
	src = strings.Replace(src, ref, ref+"  workflowRepository: acme/clearcutt\n  workflowRef: "+sha+"\n", 1)
	f, err := fleet.Parse(path, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res, err := admission.Generate(f, admission.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const san = "https://github.com/acme/clearcutt/.github/workflows/publish.yml@" + sha
	const rescan = "https://github.com/acme/clearcutt/.github/workflows/rescan.yml@" + sha
	if res.Signer != san {
		t.Fatalf("signer %q, want %q", res.Signer, san)
	}
	for _, file := range res.Files {
		if !strings.Contains(file.Content, "subject: "+san+"\n") {
			t.Errorf("%s lacks the exact subject %s", file.Name, san)
		}
		ms := reKitWorkflow.FindAllStringSubmatch(file.Content, -1)
		if len(ms) == 0 {
			t.Errorf("%s names no workflow of acme/clearcutt", file.Name)
		}
		for _, m := range ms {
			if m[1] != sha {
				t.Errorf("%s pins %s at %s, not at the commit", file.Name, m[0], m[1])
			}
		}
	}
	wantRE := `subjectRegExp: ^(?:` + regexp.QuoteMeta(san) + `|` + regexp.QuoteMeta(rescan) + `)$`
	if !strings.Contains(res.Files[0].Content, wantRE) {
		t.Errorf("kyverno policy lacks %s", wantRE)
	}
	if !strings.Contains(res.Files[1].Content, "subject: "+rescan+"\n") {
		t.Errorf("policy-controller policies lack the rescan subject %s", rescan)
	}
	if !strings.Contains(res.Files[0].Content, "githubWorkflowRef: refs/heads/main") {
		t.Errorf("kyverno policy: the provenance's source ref is not the fleet's ref")
	}
}

func TestProfiles(t *testing.T) {
	f := loadFleet(t, "")
	for _, c := range []struct {
		profile admission.Profile
		kyverno []string
		pc      string
	}{
		{admission.ProfileEnforce, []string{"failureAction: Enforce", "failurePolicy: Fail"}, "mode: enforce"},
		{admission.ProfileAudit, []string{"failureAction: Audit", "failurePolicy: Ignore"}, "mode: warn"},
	} {
		res, err := admission.Generate(f, admission.Options{Profile: c.profile})
		if err != nil {
			t.Fatal(err)
		}
		ky, pc := res.Files[0].Content, res.Files[1].Content
		for _, want := range c.kyverno {
			if !strings.Contains(ky, want) {
				t.Errorf("%s: kyverno policy lacks %q", c.profile, want)
			}
		}
		// Every rule carries the action: four rules, four actions.
		if n := strings.Count(ky, "failureAction: "); n != 4 {
			t.Errorf("%s: %d failureAction fields, want 4", c.profile, n)
		}
		if n := strings.Count(pc, c.pc); n != 5 {
			t.Errorf("%s: %d of 5 ClusterImagePolicies have %q", c.profile, n, c.pc)
		}
	}
}

func TestKeyMode(t *testing.T) {
	key, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	f := loadFleet(t, "")
	res, err := admission.Generate(f, admission.Options{Engines: []admission.Engine{admission.EngineKyverno}, PublicKeyPEM: key.PublicKeyPEM()})
	if err != nil {
		t.Fatal(err)
	}
	ky := res.Files[0].Content
	if res.Mode != admission.ModeKey || res.Signer != "" {
		t.Errorf("mode %s, signer %q", res.Mode, res.Signer)
	}
	for _, want := range []string{"publicKeys: |", "BEGIN PUBLIC KEY", "ignoreTlog: true", "ignoreSCT: true"} {
		if !strings.Contains(ky, want) {
			t.Errorf("key-mode policy lacks %q", want)
		}
	}
	for _, never := range []string{"keyless:", admission.KyvernoRuleProvenance, "rekor.sigstore.dev"} {
		if strings.Contains(ky, never) {
			t.Errorf("key-mode policy contains %q", never)
		}
	}
	_, err = admission.Generate(f, admission.Options{Engines: []admission.Engine{admission.EnginePolicyController}, PublicKeyPEM: key.PublicKeyPEM()})
	if !errors.Is(err, admission.ErrInvalidOptions) || !strings.Contains(err.Error(), "--engine kyverno") {
		t.Errorf("policy-controller in key mode: %v", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	f := loadFleet(t, "")
	for _, c := range []struct {
		o    admission.Options
		want string
	}{
		{admission.Options{Profile: "strict"}, `unknown profile "strict"`},
		{admission.Options{Engines: []admission.Engine{"gatekeeper"}}, `unknown engine "gatekeeper"`},
		{admission.Options{PublicKeyPEM: []byte("not a key")}, "public key"},
		{admission.Options{ProductionNamespaces: "Prod_Namespace"}, `"Prod_Namespace" is not a namespace name`},
		{admission.Options{ProductionNamespaces: "env in (prod"}, "production namespaces"},
		{admission.Options{ProductionNamespaces: "env=prod,env=staging"}, "already required"},
	} {
		_, err := admission.Generate(f, c.o)
		if !errors.Is(err, admission.ErrInvalidOptions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
	bad := loadFleet(t, "")
	bad.Identity.Workflow = ""
	if _, err := admission.Generate(bad, admission.Options{}); !errors.Is(err, admission.ErrInvalidOptions) || !strings.Contains(err.Error(), "clearcutt.yaml: identity") {
		t.Errorf("fleet without workflow: %v", err)
	}
}

func TestParseNamespaces(t *testing.T) {
	for _, c := range []struct {
		in   string
		want admission.Namespaces
	}{
		{"environment=production", admission.Namespaces{MatchLabels: map[string]string{"environment": "production"}}},
		{"prod, payments,prod", admission.Namespaces{Names: []string{"prod", "payments"}}},
		{"tier in (prod, critical),!sandbox,team!=qa,example.com/pci", admission.Namespaces{MatchExpressions: []admission.Requirement{
			{Key: "tier", Operator: "In", Values: []string{"critical", "prod"}},
			{Key: "sandbox", Operator: "DoesNotExist"},
			{Key: "team", Operator: "NotIn", Values: []string{"qa"}},
			{Key: "example.com/pci", Operator: "Exists"},
		}}},
		{"env==prod,tier notin (dev)", admission.Namespaces{MatchLabels: map[string]string{"env": "prod"},
			MatchExpressions: []admission.Requirement{{Key: "tier", Operator: "NotIn", Values: []string{"dev"}}}}},
	} {
		got, err := admission.ParseNamespaces(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", c.in, diff)
		}
	}
	for _, bad := range []string{"", "a=b=c", "env in ()", "-bad=x", "x=y z"} {
		if _, err := admission.ParseNamespaces(bad); !errors.Is(err, admission.ErrInvalidOptions) {
			t.Errorf("%q: %v, want an error", bad, err)
		}
	}
}

func TestTierRuleFollowsTheFleet(t *testing.T) {
	f := loadFleet(t, "")
	f.Tiers.Slim.Deployable = false
	res, err := admission.Generate(f, admission.Options{ProductionNamespaces: "prod,payments"})
	if err != nil {
		t.Fatal(err)
	}
	ky := res.Files[0].Content
	for _, want := range []string{"- slim\n", "- dev\n", "ghcr.io/clearcutt/fleet/python:3.11-slim@*", "ghcr.io/clearcutt/fleet/java:dev",
		"namespaces:\n                - prod\n                - payments"} {
		if !strings.Contains(ky, want) {
			t.Errorf("tier rule lacks %q", want)
		}
	}
	if strings.Contains(ky, "distroless@*") {
		t.Error("a deployable tier is denied")
	}
	f.Tiers.Slim.Deployable, f.Tiers.Dev.Deployable = true, true
	res, err = admission.Generate(f, admission.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Files[0].Content, admission.KyvernoRuleTiers) || len(res.DeniedTiers) != 0 {
		t.Error("a tier rule is generated although every tier is deployable")
	}
}

// TestTestResultsAdmitted: both engines admit a PASSED or WARNED test
// result and nothing else, and say what WARNED means. TestKyvernoKeyMode
// runs the Kyverno policy on PASSED, WARNED and FAILED evidence.
func TestTestResultsAdmitted(t *testing.T) {
	res, err := admission.Generate(loadFleet(t, ""), admission.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ky, pc := res.Files[0].Content, res.Files[1].Content
	if !regexp.MustCompile(`key: '\{\{ result \}\}'\s+operator: AnyIn\s+value:\s+- PASSED\s+- WARNED\n`).MatchString(ky) {
		t.Errorf("kyverno policy does not admit exactly PASSED and WARNED:\n%s", ky)
	}
	for _, want := range []string{"WARNED means every tier invariant\n", "FAILED is refused"} {
		if !strings.Contains(ky, want) {
			t.Errorf("kyverno policy lacks %q", want)
		}
	}
	for _, want := range []string{`"predicate.result": [for k0, v0 in predicate if k0 == "result" {v0}] & ["PASSED" | "WARNED"]`, "WARNED means every", "FAILED is refused"} {
		if !strings.Contains(pc, want) {
			t.Errorf("policy-controller policy lacks %q", want)
		}
	}
	for _, f := range []string{ky, pc} {
		if strings.Contains(f, "FAILED\"") || strings.Contains(f, "value: PASSED") {
			t.Errorf("a policy requires exactly PASSED or names FAILED:\n%s", f)
		}
	}
}
