package admission_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/admission"
	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

// pod is one Pod the engine is asked to admit.
type pod struct {
	name, namespace, image string
}

func (p pod) manifest() string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
spec:
  containers:
    - name: app
      image: %s
`, p.name, p.namespace, p.image)
}

// verdicts are the policy-report results of one kyverno apply run, per
// Pod and rule.
type verdicts map[string]map[string][]reportResult

type reportResult struct {
	Policy    string `json:"policy"`
	Rule      string `json:"rule"`
	Result    string `json:"result"`
	Message   string `json:"message"`
	Resources []struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"resources"`
}

// rule summarises a rule's results for a Pod: "pass" when every result
// passed, else the first other result; and every message.
func (v verdicts) rule(pod, rule string) (string, string) {
	rs, ok := v[pod][rule]
	if !ok {
		return "absent", ""
	}
	got := "pass"
	var msgs []string
	for _, r := range rs {
		if r.Result != "pass" && got == "pass" {
			got = r.Result
		}
		msgs = append(msgs, r.Message)
	}
	return got, strings.Join(msgs, "; ")
}

// kyvernoApply runs the real Kyverno CLI on the policy file and the pods,
// with registry access and the given namespace labels, and returns its
// policy report.
func kyvernoApply(t *testing.T, kyverno, policy string, nsLabels map[string]map[string]string, extra []string, pods ...pod) verdicts {
	t.Helper()
	dir := t.TempDir()
	var res bytes.Buffer
	for _, p := range pods {
		res.WriteString("---\n" + p.manifest())
	}
	writeFile(t, filepath.Join(dir, "pods.yaml"), res.Bytes())
	var values strings.Builder
	values.WriteString("apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\nnamespaceSelector:\n")
	for ns, labels := range nsLabels {
		fmt.Fprintf(&values, "  - name: %s\n    labels:\n", ns)
		for k, v := range labels {
			fmt.Fprintf(&values, "      %s: %s\n", k, v)
		}
	}
	writeFile(t, filepath.Join(dir, "values.yaml"), []byte(values.String()))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	args := append([]string{"apply", policy,
		"--resource", filepath.Join(dir, "pods.yaml"),
		"--values-file", filepath.Join(dir, "values.yaml"),
		"--registry", "--policy-report", "--output-format", "json", "--remove-color"}, extra...)
	cmd := exec.CommandContext(ctx, kyverno, args...)
	// HOME holds the docker config and any cache the CLI creates.
	cmd.Env = testenv.CleanEnv("HOME=" + dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("kyverno apply: %v\n%s", err, stderr.String())
	}
	// The report is the JSON line; warnings about the policy precede it.
	var rep struct {
		Results []reportResult `json:"results"`
	}
	found := false
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(line, "{") {
			if err := json.Unmarshal([]byte(line), &rep); err != nil {
				t.Fatalf("kyverno apply: report: %v\n%s", err, line)
			}
			found = true
		}
	}
	if strings.Contains(stdout.String(), "Policies Skipped") {
		t.Fatalf("kyverno skipped the policy:\n%s", stdout.String())
	}
	if !found {
		t.Fatalf("kyverno apply printed no policy report (%v)\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	v := verdicts{}
	for _, r := range rep.Results {
		for _, res := range r.Resources {
			if v[res.Name] == nil {
				v[res.Name] = map[string][]reportResult{}
			}
			v[res.Name][r.Rule] = append(v[res.Name][r.Rule], r)
		}
	}
	if testing.Verbose() {
		t.Logf("kyverno apply (%v):\n%s", err, stdout.String())
	}
	return v
}

// TestKyvernoKeyMode evaluates the generated key-mode ClusterPolicy with the
// real Kyverno CLI against images in a real registry (Debian's
// docker-registry: no referrers API, so bundles live under the
// sha256-<digest> tag fallback), signed by ClearCutt's attest code.
func TestKyvernoKeyMode(t *testing.T) {
	kyverno := testenv.Need(t, "kyverno", "scripts/install-tools.sh installs the Kyverno CLI")
	host := ocitest.StartDistribution(t)
	dir := t.TempDir()
	fx := fixture{t: t, repo: host + "/fleet", dir: dir}
	fleetKey, otherKey := newKey(t, dir, "fleet"), newKey(t, dir, "other")
	full := evidence{sbom: true, tests: "PASSED", scan: gatePass, onIdx: true, signer: fleetKey}

	signed, idx := fx.pushIndex("python", "distroless", "3.11-distroless", "distroless")
	fx.sign(signed, idx, full)
	unsigned, idx := fx.pushIndex("nodejs", "distroless", "20-distroless")
	fx.sign(unsigned, idx, evidence{none: true})
	other, idx := fx.pushIndex("java", "distroless", "17-distroless")
	fx.sign(other, idx, evidence{sbom: true, tests: "PASSED", scan: gatePass, onIdx: true, signer: otherKey})
	noSBOM, idx := fx.pushIndex("static", "distroless", "1-distroless")
	fx.sign(noSBOM, idx, evidence{tests: "PASSED", scan: gatePass, onIdx: true, signer: fleetKey})
	failed, idx := fx.pushIndex("nodejs", "slim", "20-slim")
	fx.sign(failed, idx, evidence{sbom: true, tests: "FAILED", scan: gatePass, onIdx: true, signer: fleetKey})
	// Evidence for the platform images only, as the pipeline writes it:
	// attest.Run attaches to the index the SBOM and test result it
	// derives from them.
	perPlatform, idx := fx.pushIndex("java", "slim", "17-slim")
	fx.sign(perPlatform, idx, evidence{sbom: true, tests: "PASSED", scan: gatePass, signer: fleetKey})
	// The same, with the arm64 tests FAILED: the derived index test
	// result is FAILED.
	armFailed, idx := fx.pushIndex("static", "slim", "1-slim")
	fx.sign(armFailed, idx, evidence{sbom: true, tests: "PASSED", failedArch: "arm64", scan: gatePass, signer: fleetKey})
	// WARNED: every check that ran passed and the smoke run could not run
	// where the image was tested. Admitted, on the index and as derived
	// from the platforms' results.
	warned, idx := fx.pushIndex("nodejs", "distroless", "20-warned")
	fx.sign(warned, idx, evidence{sbom: true, tests: "WARNED", scan: gatePass, onIdx: true, signer: fleetKey})
	perPlatformWarned, idx := fx.pushIndex("java", "distroless", "17-warned")
	fx.sign(perPlatformWarned, idx, evidence{sbom: true, tests: "WARNED", scan: gatePass, signer: fleetKey})
	dev, idx := fx.pushIndex("python", "dev", "3.11-dev", "dev")
	fx.sign(dev, idx, full)
	// The vulnerability gate: every scan of the digest, by the fleet key,
	// must say gate.pass true and no stale database accepted.
	gated := func(tag string, ev evidence) string {
		ref, idx := fx.pushIndex("python", "distroless", tag)
		ev.sbom, ev.tests, ev.onIdx = true, "PASSED", true
		if ev.signer == nil {
			ev.signer = fleetKey
		}
		fx.sign(ref, idx, ev)
		return ref.String()
	}
	gateFailed := gated("gate-failed", evidence{scan: gateFail})
	gateStaleDB := gated("gate-stale", evidence{scan: gateStale})
	gateMissing := gated("gate-missing", evidence{scan: gateNone})
	gateString := gated("gate-string", evidence{scan: gateText})
	failedThenPassed := gated("gate-failed-then-passed", evidence{scan: gateFail, rescans: []rescan{{gatePass, fleetKey}}})
	passedThenFailed := gated("gate-passed-then-failed", evidence{scan: gatePass, rescans: []rescan{{gateFail, fleetKey}}})
	passedTwice := gated("gate-passed-twice", evidence{scan: gatePass, rescans: []rescan{{gatePass, fleetKey}}})
	noScan := gated("gate-no-scan", evidence{})
	otherKeyScan := gated("gate-other-key", evidence{rescans: []rescan{{gatePass, otherKey}}})

	f := loadFleet(t, fx.repo)
	res, err := admission.Generate(f, admission.Options{Engines: []admission.Engine{admission.EngineKyverno},
		PublicKeyPEM: mustRead(t, fleetKey.PublicKeyPath())})
	if err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(dir, res.Files[0].Name)
	writeFile(t, policy, []byte(res.Files[0].Content))

	prod := map[string]map[string]string{"prod": {"environment": "production"}, "sandbox": {"environment": "dev"}}
	v := kyvernoApply(t, kyverno, policy, prod, nil,
		pod{"signed-tag", "prod", fx.repo + "/python:3.11-distroless"},
		pod{"signed-digest", "prod", signed.String()},
		pod{"unsigned", "prod", fx.repo + "/nodejs:20-distroless"},
		pod{"other-key", "prod", fx.repo + "/java:17-distroless"},
		pod{"no-sbom", "prod", noSBOM.String()},
		pod{"tests-failed", "prod", fx.repo + "/nodejs:20-slim"},
		pod{"per-platform-evidence", "prod", perPlatform.String()},
		pod{"per-platform-evidence-tag", "prod", fx.repo + "/java:17-slim"},
		pod{"per-platform-arm64-failed", "prod", armFailed.String()},
		pod{"tests-warned", "prod", warned.String()},
		pod{"per-platform-warned", "prod", perPlatformWarned.String()},
		pod{"dev-tag-prod", "prod", fx.repo + "/python:dev"},
		pod{"dev-digest-prod", "prod", dev.String()},
		pod{"dev-sandbox", "sandbox", fx.repo + "/python:3.11-dev"},
		pod{"not-fleet", "prod", host + "/elsewhere/app:1"},
		pod{"gate-failed", "prod", gateFailed},
		pod{"gate-stale", "prod", gateStaleDB},
		pod{"gate-missing", "prod", gateMissing},
		pod{"gate-string", "prod", gateString},
		pod{"gate-failed-then-passed", "prod", failedThenPassed},
		pod{"gate-passed-then-failed", "prod", passedThenFailed},
		pod{"gate-passed-twice", "prod", passedTwice},
		pod{"gate-no-scan", "prod", noScan},
		pod{"gate-other-key", "prod", otherKeyScan},
	)
	for _, c := range []struct {
		pod, rule, want, msg string
	}{
		{"signed-tag", admission.KyvernoRuleEvidence, "pass", "@" + signed.DigestStr()},
		{"signed-tag", admission.KyvernoRuleTiers, "pass", ""},
		{"signed-digest", admission.KyvernoRuleEvidence, "pass", "@" + signed.DigestStr()},
		// No bundle of the fleet key: the signature (attestors) fails.
		{"unsigned", admission.KyvernoRuleEvidence, "fail", "failed to verify image"},
		{"other-key", admission.KyvernoRuleEvidence, "fail", "failed to verify image"},
		// Signed, but an attestation is missing or says FAILED.
		{"no-sbom", admission.KyvernoRuleEvidence, "fail", "image attestations verification failed"},
		{"tests-failed", admission.KyvernoRuleEvidence, "fail", "attestation checks failed for " + failed.String() + " and predicate " + admission.PredicateTestResult},
		// The index SBOM and test result attest.Run derived from the
		// platforms' evidence admit the index; one FAILED platform makes
		// the index's test result FAILED.
		{"per-platform-evidence", admission.KyvernoRuleEvidence, "pass", "@" + perPlatform.DigestStr()},
		{"per-platform-evidence-tag", admission.KyvernoRuleEvidence, "pass", "@" + perPlatform.DigestStr()},
		{"per-platform-arm64-failed", admission.KyvernoRuleEvidence, "fail", "attestation checks failed for " + armFailed.String() + " and predicate " + admission.PredicateTestResult},
		{"tests-warned", admission.KyvernoRuleEvidence, "pass", "@" + warned.DigestStr()},
		{"per-platform-warned", admission.KyvernoRuleEvidence, "pass", "@" + perPlatformWarned.DigestStr()},
		{"dev-tag-prod", admission.KyvernoRuleEvidence, "pass", ""},
		{"dev-tag-prod", admission.KyvernoRuleTiers, "fail", "dev tier"},
		{"dev-digest-prod", admission.KyvernoRuleTiers, "fail", "dev tier"},
		{"dev-sandbox", admission.KyvernoRuleEvidence, "pass", ""},
		{"dev-sandbox", admission.KyvernoRuleTiers, "absent", ""},
		// The vulnerability gate.
		{"signed-digest", admission.KyvernoRuleVulns, "pass", "@" + signed.DigestStr()},
		{"signed-tag", admission.KyvernoRuleVulns, "pass", "@" + signed.DigestStr()},
		{"gate-passed-twice", admission.KyvernoRuleVulns, "pass", ""},
		{"gate-failed", admission.KyvernoRuleVulns, "fail", "attestation checks failed for " + gateFailed + " and predicate " + admission.PredicateVulns},
		{"gate-failed", admission.KyvernoRuleEvidence, "pass", ""},
		{"gate-stale", admission.KyvernoRuleVulns, "fail", "and predicate " + admission.PredicateVulns},
		{"gate-missing", admission.KyvernoRuleVulns, "fail", `Unknown key "gate"`},
		{"gate-string", admission.KyvernoRuleVulns, "fail", "and predicate " + admission.PredicateVulns},
		// Every scan is checked: a failed one refuses the digest whichever
		// is newer.
		{"gate-failed-then-passed", admission.KyvernoRuleVulns, "fail", "and predicate " + admission.PredicateVulns},
		{"gate-passed-then-failed", admission.KyvernoRuleVulns, "fail", "and predicate " + admission.PredicateVulns},
		{"gate-no-scan", admission.KyvernoRuleVulns, "fail", "no matching signatures found"},
		{"gate-other-key", admission.KyvernoRuleVulns, "fail", "no matching signatures found"},
		// Scans about the platform images only: attest.Run derived the
		// index's scan from them, which passes when every platform's did.
		{"per-platform-evidence", admission.KyvernoRuleVulns, "pass", "@" + perPlatform.DigestStr()},
	} {
		got, msg := v.rule(c.pod, c.rule)
		if got != c.want || !strings.Contains(msg, c.msg) {
			t.Errorf("%s, rule %s: %s (%s), want %s with %q", c.pod, c.rule, got, msg, c.want, c.msg)
		}
	}
	if rules := v["not-fleet"]; len(rules[admission.KyvernoRuleEvidence]) > 0 {
		for _, r := range rules[admission.KyvernoRuleEvidence] {
			if r.Result == "fail" || r.Result == "error" {
				t.Errorf("an image outside the fleet repository was checked: %+v", r)
			}
		}
	}
}

// TestKyvernoAcceptsDeployedPolicy loads the committed keyless policy
// (deploy/admission) into the real Kyverno CLI, which validates it the way
// the admission controller does and skips a policy it cannot use, and
// applies it to a Pod that runs no fleet image (so no registry or TUF
// mirror is contacted). A policy Kyverno refuses fails the test, as the
// broken variant shows.
func TestKyvernoAcceptsDeployedPolicy(t *testing.T) {
	kyverno := testenv.Need(t, "kyverno", "scripts/install-tools.sh installs the Kyverno CLI")
	dir := t.TempDir()
	deployed := filepath.Join("..", "..", "deploy", "admission", admission.KyvernoFile)
	content := string(mustRead(t, deployed))
	broken := strings.Replace(content, "message: Images of the", "message: '{{ element.image }}' Images of the", 1)
	if broken == content {
		t.Fatal("the tier rule message was not found")
	}
	writeFile(t, filepath.Join(dir, "broken.yaml"), []byte(broken))
	writeFile(t, filepath.Join(dir, "pod.yaml"), []byte(pod{"busybox", "default", "docker.io/library/busybox:1.36"}.manifest()))
	apply := func(policy string) string {
		cmd := exec.Command(kyverno, "apply", policy, "--resource", filepath.Join(dir, "pod.yaml"), "--remove-color")
		cmd.Env = testenv.CleanEnv("HOME=" + dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kyverno apply %s: %v\n%s", policy, err, out)
		}
		return string(out)
	}
	// Kyverno reports how many rules it loaded: the three rules, each also
	// generated for the Pod controllers (autogen); none of a refused policy.
	rules := func(out string) int {
		m := regexp.MustCompile(`Applying (\d+) policy rule`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("kyverno apply printed no rule count:\n%s", out)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if out := apply(deployed); strings.Contains(out, "Policies Skipped") || rules(out) < 3 {
		t.Errorf("kyverno did not load the rules of %s:\n%s", deployed, out)
	}
	if out := apply(filepath.Join(dir, "broken.yaml")); rules(out) != 0 {
		t.Errorf("kyverno loaded a policy it cannot use:\n%s", out)
	}
}
