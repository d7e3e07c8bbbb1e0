package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/testenv"
	"github.com/clearcutt/clearcutt/internal/verify"
)

var placeholderRE = regexp.MustCompile(`<[a-z][a-z-]*>`)

// commands splits a block into commands: lines joined at trailing
// backslashes, then split into words (the guide uses no quoting inside
// keyless and slsa commands).
func commands(script string) [][]string {
	var out [][]string
	for _, c := range strings.Split(strings.ReplaceAll(script, "\\\n", " "), "\n") {
		if f := strings.Fields(c); len(f) > 0 {
			out = append(out, f)
		}
	}
	return out
}

// flagValue returns the value of --name in args (either "--name v" or
// "--name=v"), and whether it was given.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// testAuditGuide runs every command of docs/audit-guide.md: key-mode blocks
// against the published image; keyless and slsa blocks for their flags and
// pinned identity (they need GitHub OIDC and the public-good Sigstore).
func testAuditGuide(t *testing.T, p *published) {
	blocks := testenv.DocBlocks(t, filepath.Join(p.repo, "docs/audit-guide.md"), "audit", "key", "keyless", "slsa")
	f, err := fleet.Load(p.fleet)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := verify.PolicyFromFleet(f.Identity, verify.FleetPolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Commands run in one directory holding the fleet file, as an auditor's
	// checkout; later blocks read files earlier ones wrote.
	work := t.TempDir()
	data, err := os.ReadFile(p.fleet)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "clearcutt.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	local := strings.NewReplacer("<image>", p.image, "<digest>", p.index,
		"<platform-digest>", p.platforms["amd64"], "<pub>", p.pub)
	// Keyless commands cannot reach GitHub's Sigstore offline; they are run
	// against a port nothing listens on, so only flag parsing can succeed.
	const unreachable = "127.0.0.1:9/fleet/python"
	offline := strings.NewReplacer("<image>", unreachable, "<digest>", p.index, "<platform-digest>", p.platforms["amd64"])

	counts := map[string]int{}
	for _, b := range blocks {
		counts[b.Mode]++
		switch b.Mode {
		case "key":
			script := local.Replace(b.Script)
			if ph := placeholderRE.FindString(script); ph != "" {
				t.Errorf("line %d: unknown placeholder %s", b.Line, ph)
				continue
			}
			r := run(t, p.env(), work, "bash", "-euo", "pipefail", "-c", script)
			if r.code != 0 || strings.TrimSpace(r.stdout) == "" && !strings.Contains(script, ">") {
				t.Errorf("docs/audit-guide.md:%d:\n%s%s", b.Line, script, r)
			}
		case "keyless", "slsa":
			for _, args := range commands(b.Script) {
				checkIdentity(t, b.Line, args, f.Identity, policy)
				checkAccepted(t, p, work, b.Line, args, offline)
			}
		}
	}
	if counts["key"] < 6 || counts["keyless"] < 3 || counts["slsa"] < 1 {
		t.Errorf("the guide has %v blocks: fewer than expected, is the fence marker intact?", counts)
	}
}

// checkIdentity asserts that the identity a keyless command pins is the
// one clearcutt derives from clearcutt.yaml.
func checkIdentity(t *testing.T, line int, args []string, id fleet.Identity, policy verify.Policy) {
	t.Helper()
	switch args[0] {
	case "cosign":
		want := policy.Signer
		if typ, _ := flagValue(args, "type"); strings.HasPrefix(typ, "slsaprovenance") {
			want = policy.Provenance
		}
		for flag, wantV := range map[string]string{
			"certificate-identity":                   want.SAN,
			"certificate-oidc-issuer":                want.Issuer,
			"certificate-github-workflow-repository": strings.TrimPrefix(want.SourceRepositoryURI, "https://github.com/"),
			"certificate-github-workflow-ref":        want.SourceRepositoryRef,
		} {
			if v, ok := flagValue(args, flag); !ok || v != wantV {
				t.Errorf("docs/audit-guide.md:%d: --%s %q, clearcutt.yaml gives %q", line, flag, v, wantV)
			}
		}
		for _, a := range args {
			if strings.Contains(a, "regexp") {
				t.Errorf("docs/audit-guide.md:%d: %s: pin exact values, never regular expressions", line, a)
			}
		}
	case "slsa-verifier":
		if v, _ := flagValue(args, "source-uri"); v != "github.com/"+id.Repository {
			t.Errorf("docs/audit-guide.md:%d: --source-uri %q, clearcutt.yaml gives github.com/%s", line, v, id.Repository)
		}
		if v, _ := flagValue(args, "source-branch"); "refs/heads/"+v != id.Ref {
			t.Errorf("docs/audit-guide.md:%d: --source-branch %q, clearcutt.yaml gives %s", line, v, id.Ref)
		}
	case "clearcutt":
		if _, ok := flagValue(args, "key"); ok {
			t.Errorf("docs/audit-guide.md:%d: a keyless command with --key", line)
		}
	default:
		t.Errorf("docs/audit-guide.md:%d: no identity check for %s", line, args[0])
	}
}

// Messages of a flag or usage error, which a keyless command must not get.
var flagErrors = []string{"unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument", "required flag", "accepts 1 arg", "unknown command"}

// checkAccepted runs a keyless command offline and asserts that it failed
// for lack of the network or of keyless evidence, not over its flags.
func checkAccepted(t *testing.T, p *published, work string, line int, args []string, offline *strings.Replacer) {
	t.Helper()
	switch args[0] {
	case "clearcutt":
		// Runs against the key-signed image: the public-good trust root is
		// built in, so it verifies and must report the channels failed.
		local := strings.NewReplacer("<image>", p.image, "<digest>", p.index)
		r := run(t, p.env(), work, filepath.Join(p.bin, "clearcutt"), strings.Fields(local.Replace(strings.Join(args[1:], " ")))...)
		if r.code != 1 || !strings.Contains(r.stdout, "signature") || !strings.Contains(r.stdout, "FAILED") {
			t.Errorf("docs/audit-guide.md:%d: keyless clearcutt verify on a key-signed image: want exit 1 and failed channels, got %s", line, r)
		}
		return
	case "slsa-verifier":
		if _, err := exec.LookPath("slsa-verifier"); err != nil {
			t.Logf("docs/audit-guide.md:%d: slsa-verifier is not installed; only its identity values were checked", line)
			return
		}
	}
	cmd := strings.Fields(offline.Replace(strings.Join(args, " ")))
	r := run(t, p.env(), work, cmd[0], cmd[1:]...)
	msg := strings.ToLower(r.stderr + r.stdout)
	for _, e := range flagErrors {
		if strings.Contains(msg, e) {
			t.Errorf("docs/audit-guide.md:%d: %s rejects its flags: %s", line, cmd[0], r)
		}
	}
	network := strings.Contains(msg, "no such host") || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "dial tcp") || strings.Contains(msg, "network is unreachable")
	if r.code == 0 || !network {
		t.Errorf("docs/audit-guide.md:%d: want a network failure offline, got %s", line, r)
	}
}
