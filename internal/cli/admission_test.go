package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/admission"
	"github.com/clearcutt/clearcutt/internal/sigtest"
)

func TestAdmissionPrintsYAML(t *testing.T) {
	code, out, errs := run(t, "-f", "../../clearcutt.yaml", "admission")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"kind: ClusterPolicy", "kind: ClusterImagePolicy", "name: clearcutt-example-images",
		"name: clearcutt-example-provenance", "subject: https://github.com/clearcutt/clearcutt/.github/workflows/publish.yml@refs/heads/main"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	deployed, err := os.ReadFile("../../deploy/admission/" + admission.KyvernoFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, string(deployed)+"---\n") {
		t.Error("the printed Kyverno policy differs from deploy/admission")
	}
}

func TestAdmissionWritesFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "policies")
	code, out, errs := run(t, "-f", "../../clearcutt.yaml", "admission", "--out", dir, "--profile", "audit",
		"--production-namespaces", "prod,payments")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != admission.KyvernoFile+" "+admission.PolicyControllerFile {
		t.Fatalf("wrote %v", names)
	}
	ky, _ := os.ReadFile(filepath.Join(dir, admission.KyvernoFile))
	pc, _ := os.ReadFile(filepath.Join(dir, admission.PolicyControllerFile))
	for _, want := range []string{"failureAction: Audit", "- payments"} {
		if !strings.Contains(string(ky), want) {
			t.Errorf("kyverno policy lacks %q", want)
		}
	}
	if !strings.Contains(string(pc), "mode: warn") || !strings.Contains(string(pc), "kubectl label namespace payments policy.sigstore.dev/include=true") {
		t.Error("policy-controller policies are not in audit mode or lack the namespace opt-in")
	}
	for _, want := range []string{"wrote " + filepath.Join(dir, admission.KyvernoFile), admission.KyvernoRuleTiers, admission.KyvernoRuleVulns,
		"clearcutt-example-sbom", "clearcutt-example-vulnerabilities"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestAdmissionJSONAndKeyMode(t *testing.T) {
	key, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(t.TempDir(), "signing.key.pub")
	writeFile(t, pub, string(key.PublicKeyPEM()))
	code, out, errs := run(t, "-f", "../../clearcutt.yaml", "admission", "--key", pub, "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Mode    string   `json:"mode"`
		Engines []string `json:"engines"`
		Files   []struct {
			Name, Content string
		} `json:"files"`
		Rules []struct{ Rule, Enforces string } `json:"rules"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Mode != "key" || len(rep.Engines) != 1 || rep.Engines[0] != "kyverno" || len(rep.Files) != 1 {
		t.Fatalf("key mode with the default --engine all: %+v", rep)
	}
	if !strings.Contains(rep.Files[0].Content, "BEGIN PUBLIC KEY") || len(rep.Rules) != 3 {
		t.Errorf("key-mode report: %d rules, content:\n%s", len(rep.Rules), rep.Files[0].Content)
	}
}

func TestAdmissionUsageErrors(t *testing.T) {
	key, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pub := filepath.Join(dir, "signing.key.pub")
	writeFile(t, pub, string(key.PublicKeyPEM()))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--engine", "gatekeeper"}, `--engine "gatekeeper"`},
		{[]string{"--profile", "strict"}, `unknown profile "strict"`},
		{[]string{"--key", filepath.Join(dir, "missing.pub")}, "--key"},
		{[]string{"--key", pub, "--engine", "policy-controller"}, "cannot verify key-signed Sigstore bundles"},
		{[]string{"--production-namespaces", "env in (prod"}, "production namespaces"},
		{[]string{"--provenance-signer", "https://github.com/slsa-framework/*"}, `--provenance-signer: provenance signer "https://github.com/slsa-framework/*" holds "*"`},
		{[]string{"--provenance-signer", "https://github.com/{{request.object.metadata.name}}"}, `holds "{", opens a Kyverno variable`},
		{[]string{"extra"}, "unknown command"},
	} {
		args := append([]string{"-f", "../../clearcutt.yaml", "admission"}, c.args...)
		code, _, errs := run(t, args...)
		if code != ExitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d (%s), want %d with %q", c.args, code, errs, ExitUsage, c.want)
		}
	}
}

func TestAdmissionWriteFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	// A directory stands where the policy-controller file goes: the command
	// fails before it renames anything, so no policy file (and no
	// temporary file) is left from the run.
	if err := os.Mkdir(filepath.Join(dir, admission.PolicyControllerFile), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, errs := run(t, "-f", "../../clearcutt.yaml", "admission", "--out", dir)
	if code != ExitRuntime {
		t.Fatalf("exit %d (%s), want %d", code, errs, ExitRuntime)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != admission.PolicyControllerFile {
			t.Errorf("left behind %s", e.Name())
		}
	}
}
