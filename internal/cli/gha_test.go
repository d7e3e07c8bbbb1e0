package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/appimage"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/stage"

	"github.com/clearcutt/clearcutt/internal/remediate"

	"github.com/clearcutt/clearcutt/internal/rescan"

	"github.com/clearcutt/clearcutt/internal/catalog"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/structure"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// ghaJob is a GitHub Actions job whose command files are temp files.
type ghaJob struct {
	env             map[string]string
	output, summary string
}

func newGHAJob(t *testing.T) *ghaJob {
	t.Helper()
	dir := t.TempDir()
	j := &ghaJob{output: filepath.Join(dir, "output"), summary: filepath.Join(dir, "summary")}
	for _, p := range []string{j.output, j.summary} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j.env = map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": j.output, "GITHUB_STEP_SUMMARY": j.summary}
	return j
}

func (j *ghaJob) getenv(k string) string { return j.env[k] }

// outputs parses $GITHUB_OUTPUT (name=value and name<<DELIM heredocs),
// failing on a repeated name or a malformed record.
func (j *ghaJob) outputs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(j.output)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			continue
		}
		var name, value string
		if n, delim, ok := strings.Cut(l, "<<"); ok && !strings.Contains(n, "=") {
			var body []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				body = append(body, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("unterminated heredoc %s in %q", delim, b)
			}
			name, value = n, strings.Join(body, "\n")
		} else if n, v, ok := strings.Cut(l, "="); ok {
			name, value = n, v
		} else {
			t.Fatalf("malformed output line %q", l)
		}
		if _, dup := out[name]; dup {
			t.Fatalf("output %s written twice", name)
		}
		out[name] = value
	}
	return out
}

func (j *ghaJob) summaryText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(j.summary)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runIn executes the command tree in-process as a step of job j.
func runIn(t *testing.T, j *ghaJob, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	g := &globals{stdout: &out, stderr: &errb, getenv: j.getenv}
	root := newRoot(g)
	root.SetArgs(args)
	err := root.Execute()
	if err != nil {
		errb.WriteString(err.Error())
		return exitCode(err), out.String(), errb.String()
	}
	return ExitOK, out.String(), errb.String()
}

func hash(s string) v1.Hash {
	h, _, err := v1.SHA256(strings.NewReader(s))
	if err != nil {
		panic(err)
	}
	return h
}

// fakeReports is one report per command, as its RunE records it, and a
// table header its summary must show.
func fakeReports() map[string]struct {
	rep    stager
	header string
} {
	idx, amd, arm := hash("index"), hash("amd64"), hash("arm64")
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	test := stage.TestReport{Image: "python:distroless", Reference: "oci:out/stage@" + idx.String(), Passed: true,
		Platforms: []structure.Result{{Platform: "linux/amd64", Subject: structure.Subject{Name: "python:distroless", Digest: amd}, Checks: []structure.Check{
			{ID: "no-shell", Status: structure.Passed}, {ID: "stripped", Status: structure.Passed, Detail: "the tier allows symbols: 2 files | with\nsymbols"}, {ID: "entrypoint", Status: structure.NotApplicable}, {ID: "smoke", Status: structure.Skipped}}}},
		Statements: map[string]string{amd.String(): "out/evidence/sha256-" + amd.Hex + "/test-result.json"}}
	finding := scan.Finding{ID: "CVE-2024-0001", Severity: "high", Package: scan.Package{Name: "openssl", Version: "3.0.1"}, FixedIn: []string{"3.0.2"}, Status: gate.Active}
	return map[string]struct {
		rep    stager
		header string
	}{
		"build": {buildOutcome{&closure.Manifest{Runtime: "python", Tier: "distroless", Arch: "amd64", ClosureSize: 12345678,
			Paths:             make([]closure.StorePath, 3),
			PruningCandidates: []closure.PruningCandidate{{Pname: "fontconfig", Feature: "fonts", NarSize: 1000, RequiredBy: []string{"/nix/store/x-tk"}}}},
			"out/closures/python-distroless-amd64.json"}, "| Pruning candidate | Feature | Size | Required by |"},
		"assemble": {assembleStep{Image: "python:distroless", Reference: "oci:out/stage@" + idx.String(), Digest: idx.String(),
			Platforms: []stage.AssemblePlatform{{Arch: "amd64", Digest: amd.String(), Layers: 7, Size: 4096}, {Arch: "arm64", Digest: arm.String(), Layers: 7, Size: 4000}}},
			"| Arch | Digest | Layers | Size | Base |"},
		"test": {testStep(test), "| Platform | Check | Status | Detail |"},
		"sbom": {sbomStep{Image: "ghcr.io/acme/python:distroless", Platforms: []stage.SBOMPlatform{{File: "out/evidence/a/sbom.spdx.json"}, {File: "out/evidence/b/sbom.spdx.json"}}},
			"| Platform | Digest | Packages | Nix packages | File |"},
		"scan": {scanStep{Image: "python:distroless", Pass: false, Platforms: []stage.ScanPlatform{
			{Platform: "linux/amd64", Result: scan.Result{Findings: []scan.Finding{finding}}, Decision: gate.Decision{Pass: false, Policy: "fail-on high", Reasons: []string{"CVE-2024-0001 in openssl is high"}, Counts: gate.Counts{Active: 1, Suppressed: 2}}},
			{Platform: "linux/arm64", Decision: gate.Decision{Pass: true, Counts: gate.Counts{Suppressed: 1, Excepted: 3}}}}},
			"| ID | Severity | Package | Version | Fixed in | Status |"},
		"publish": {publishStep{Image: "python:distroless", Destination: "127.0.0.1:5000/fleet/python", Digest: idx.String(),
			Platforms: map[string]string{"linux/amd64": amd.String()}, Refs: []string{"127.0.0.1:5000/fleet/python@" + idx.String(), "127.0.0.1:5000/fleet/python:3.12-distroless"}, BlobsUploaded: 3, BlobsSkipped: 9},
			"| Reference | Blobs uploaded | Blobs skipped | Bytes uploaded |"},
		"index": {indexStep{PublishReport: stage.PublishReport{Image: "python:distroless", Destination: "127.0.0.1:5000/fleet/python", Digest: idx.String(),
			Platforms: map[string]string{"linux/amd64": amd.String()}, Refs: []string{"127.0.0.1:5000/fleet/python@" + idx.String()}, BlobsUploaded: 0, BlobsSkipped: 4}},
			"| Reference | Blobs uploaded | Blobs skipped | Bytes uploaded |"},
		"attest": {attestStep{Index: idx, Mode: attest.ModeKeyless, Attached: []attest.Attached{
			{Subject: idx, PredicateType: "https://sigstore.dev/cosign/sign/v1", Artifact: hash("b1"), LogIndexes: []int64{42}},
			{Subject: amd, Platform: "linux/amd64", PredicateType: "https://spdx.dev/Document", Artifact: hash("b2"), LogIndexes: []int64{43}}}},
			"| Subject | Platform | Predicate type | Bundle | Transparency |"},
		"verify": {verifyStep{Image: "oci:out/oci@" + idx.String(), Digest: idx.String(), VerifiedAt: now, Channels: []verify.ChannelReport{
			{Channel: verify.ChannelSignature, Required: true, Status: verify.StatusVerified, Entries: []verify.Entry{{Arch: "index", Status: verify.StatusVerified}, {Arch: "linux/amd64", Status: verify.StatusVerified}}},
			{Channel: verify.ChannelVulnerabilities, Required: true, Status: verify.StatusPending, Entries: []verify.Entry{{Arch: "linux/amd64", Status: verify.StatusPending, Reason: "scan is 30h old"}}}}},
			"| Channel | Required | Status | index | linux/amd64 |"},
		"pipeline": {pipelineStep{Destination: "oci:out/oci", Passed: true, Published: true, Verified: true, Images: []pipeline.Image{{Image: "python:distroless", Digest: idx.String(),
			Assemble: &stage.AssembleReport{Platforms: []stage.AssemblePlatform{{Arch: "amd64", Layers: 7, Size: 10}}}, Test: &test, Publish: &stage.PublishReport{}}}},
			"| Image | Index digest | Arch | Layers | Size | Tests | Vulns (active/suppressed/excepted) | Published | Verified |"},
		"rescan": {rescanReport{RescanReport: pipeline.RescanReport{Report: rescan.Report{Passed: true, Rescanned: 1, NewFindings: []string{"CVE-2024-0450"}, Images: []rescan.Image{{Name: "python:distroless", Platforms: []rescan.Platform{{Platform: "linux/amd64", Digest: amd.String(), Status: rescan.StatusRescanned, NewFindings: []string{"CVE-2024-0450"}}}}}}}},
			"| Image | Platform | Digest | Status | Active | Suppressed | Excepted | New findings | Detail |"},
		"remediate draft": {draftReport{Package: "libwebp", Strategy: "lock", Changed: true, File: "nix/flake.lock", Branch: "remediate/libwebp", Body: "out/remediate/pr-body.md",
			Draft: &remediate.Draft{Images: []remediate.ImageEvidence{{Image: "webp:distroless", Rebuilt: "oci:out/remediate/stage@" + idx.String(),
				Delta: remediate.Delta{Fixed: []remediate.DeltaFinding{{ID: "CVE-2023-4863", Package: "libwebp"}}}}}}},
			"| Image | Rebuilt | Fixed | Still active | New |"},
		"app build": {appBuildReport{BuildResult: appimage.BuildResult{Digest: idx, Base: appimage.Base{Reference: "ghcr.io/acme/fleet/python@" + idx.String(), Runtime: "python", Tier: "distroless"},
			Platforms: []appimage.Platform{{Platform: "linux/amd64", Digest: amd, BaseDigest: amd, BaseLayers: 7}}}, Reference: "ghcr.io/acme/app@" + idx.String(), Refs: []string{"ghcr.io/acme/app@" + idx.String()}},
			"| Platform | Digest | Base digest | Base layers | App layers |"},
		"app diff-base": {appDiffReport{appimage.DiffReport{App: "ghcr.io/acme/app@" + idx.String(), Passed: true, SameLine: true, Platforms: []appimage.PlatformDiff{{Platform: "linux/amd64"}}}},
			"| Platform | Added | Removed | Changed | Fixed | New | Still present |"},
		"app rebase": {appRebaseReport{RebaseResult: appimage.RebaseResult{Digest: idx, App: "ghcr.io/acme/app@" + idx.String(), Platforms: []appimage.RebasedPlatform{{Platform: "linux/amd64", Before: amd, After: amd}}},
			Reference: "ghcr.io/acme/app@" + idx.String()},
			"| Platform | Before | After | App layers kept |"},
		"catalog": {catalogReport{Path: "site/catalog.json", Passed: true, Catalog: catalog.Catalog{Images: []catalog.Image{{Name: "python:distroless", Status: catalog.StatusVerified}}}},
			"| Image | Status | signature | sbom | provenance | tests | vulnerabilities | vex | Vulns (active/suppressed/excepted) |"},
	}
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestActionsHookWritesDeclaredOutputs(t *testing.T) {
	fakes := fakeReports()
	for cmd, names := range gha.Outputs {
		t.Run(strings.ReplaceAll(cmd, " ", "_"), func(t *testing.T) {
			j := newGHAJob(t)
			header := ""
			if cmd == "fleet plan" {
				// The real command, in-process.
				code, _, errs := runIn(t, j, "-f", "../../clearcutt.yaml", "fleet", "plan")
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errs)
				}
				header = "| Runtime | Version | Tier | Arch | System | Runner |"
			} else {
				f, ok := fakes[cmd]
				if !ok {
					t.Fatalf("no report for %s: add one to fakeReports", cmd)
				}
				g := &globals{stderr: &bytes.Buffer{}, getenv: j.getenv}
				if err := g.toActions(cmd, f.rep, nil); err != nil {
					t.Fatal(err)
				}
				header = f.header
			}
			got := j.outputs(t)
			want := append([]string(nil), names...)
			sort.Strings(want)
			if k := sortedKeys(got); strings.Join(k, " ") != strings.Join(want, " ") {
				t.Fatalf("outputs %v, want exactly %v", k, want)
			}
			for n, v := range got {
				if v == "" {
					t.Errorf("output %s is empty", n)
				}
			}
			if sum := j.summaryText(t); !strings.Contains(sum, header+"\n") {
				t.Fatalf("summary lacks %q:\n%s", header, sum)
			}
		})
	}
}

func TestActionsOutputValues(t *testing.T) {
	fakes := fakeReports()
	for cmd, want := range map[string]map[string]string{
		"build":    {"manifest": "out/closures/python-distroless-amd64.json", "closure-size": "12345678"},
		"scan":     {"passed": "false", "active": "1", "suppressed": "3", "excepted": "3"},
		"test":     {"passed": "true"},
		"sbom":     {"files": `["out/evidence/a/sbom.spdx.json","out/evidence/b/sbom.spdx.json"]`},
		"publish":  {"reference": "127.0.0.1:5000/fleet/python@" + hash("index").String()},
		"verify":   {"passed": "false"},
		"pipeline": {"passed": "true", "published": "true", "verified": "true"},
	} {
		j := newGHAJob(t)
		g := &globals{stderr: &bytes.Buffer{}, getenv: j.getenv}
		if err := g.toActions(cmd, fakes[cmd].rep, nil); err != nil {
			t.Fatal(err)
		}
		got := j.outputs(t)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s %s = %q, want %q", cmd, k, got[k], v)
			}
		}
	}
	// JSON outputs parse back.
	j := newGHAJob(t)
	g := &globals{stderr: &bytes.Buffer{}, getenv: j.getenv}
	if err := g.toActions("verify", fakes["verify"].rep, nil); err != nil {
		t.Fatal(err)
	}
	var rep verify.Report
	if err := json.Unmarshal([]byte(j.outputs(t)["report"]), &rep); err != nil || len(rep.Channels) != 2 {
		t.Fatalf("verify report output: %v %+v", err, rep)
	}
	// The verify matrix puts each channel's status under each architecture.
	if sum := j.summaryText(t); !strings.Contains(sum, "| vulnerabilities | true | ⚠️ pending |  | ⚠️ pending |") {
		t.Fatalf("verify matrix:\n%s", sum)
	}
}

func TestActionsFleetPlanMatrixIsGitHubMatrix(t *testing.T) {
	j := newGHAJob(t)
	code, out, errs := runIn(t, j, "-f", "../../clearcutt.yaml", "fleet", "plan", "--github-matrix")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if got := j.outputs(t)["matrix"]; got != strings.TrimSuffix(out, "\n") {
		t.Fatalf("matrix output %q\n--github-matrix %q", got, out)
	}
	if strings.Contains(out, "::") {
		t.Fatalf("workflow commands on stdout: %q", out)
	}
}

func TestActionsGateFailureAndRuntimeError(t *testing.T) {
	fakes := fakeReports()
	failed := fakes["test"].rep.(testStep)
	failed.Passed = false

	j := newGHAJob(t)
	var stderr bytes.Buffer
	g := &globals{stderr: &stderr, getenv: j.getenv}
	if err := g.toActions("test", failed, fmt.Errorf("%w: python:distroless", ErrGateFailed)); err != nil {
		t.Fatal(err)
	}
	if got := j.outputs(t)["passed"]; got != "false" {
		t.Fatalf("gate failure: passed=%q", got)
	}
	if !strings.Contains(stderr.String(), "::error::gate failed: python:distroless\n") {
		t.Fatalf("annotation: %q", stderr.String())
	}

	// A gate failure never reports passed=true, even from a report that says so.
	j = newGHAJob(t)
	g = &globals{stderr: &bytes.Buffer{}, getenv: j.getenv}
	if err := g.toActions("verify", verifyStep{Channels: []verify.ChannelReport{}}, fmt.Errorf("%w: x", ErrGateFailed)); err != nil {
		t.Fatal(err)
	}
	if got := j.outputs(t)["passed"]; got != "false" {
		t.Fatalf("verify gate failure: passed=%q", got)
	}

	// A runtime error writes no outputs; the summary names the error.
	j = newGHAJob(t)
	g = &globals{stderr: &bytes.Buffer{}, getenv: j.getenv}
	if err := g.toActions("test", testStep{Passed: true}, errors.New("registry unreachable | retry")); err != nil {
		t.Fatal(err)
	}
	if out := j.outputs(t); len(out) != 0 {
		t.Fatalf("runtime error wrote outputs %v", out)
	}
	if sum := j.summaryText(t); !strings.Contains(sum, "❌ registry unreachable \\| retry") || strings.Contains(sum, "| Platform |") {
		t.Fatalf("summary:\n%s", sum)
	}
}

func TestActionsFleetErrorsAnnotateFileLineColumn(t *testing.T) {
	data, err := os.ReadFile("../../clearcutt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "clearcutt.yaml")
	bad := strings.Replace(string(data), "  architectures: [amd64, arm64]", "  architectures: [amd64, s390x]", 1)
	if bad == string(data) {
		t.Fatal("fixture line not found")
	}
	if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	j := newGHAJob(t)
	code, out, errs := runIn(t, j, "-f", p, "fleet", "validate")
	if code != ExitUsage {
		t.Fatalf("exit %d", code)
	}
	line := strings.Count(bad[:strings.Index(bad, "s390x")], "\n") + 1
	re := regexp.MustCompile(fmt.Sprintf(`(?m)^::error col=26,file=%s,line=%d::build\.architectures\[1\]: unsupported architecture "s390x"`, regexp.QuoteMeta(p), line))
	if !re.MatchString(errs) {
		t.Fatalf("no file:line:col annotation in stderr:\n%s", errs)
	}
	if out != "" {
		t.Fatalf("stdout %q", out)
	}
	if len(j.outputs(t)) != 0 {
		t.Fatal("validate wrote outputs")
	}
}

func TestActionsOutsideAJobWritesNothing(t *testing.T) {
	j := newGHAJob(t)
	j.env["GITHUB_ACTIONS"] = ""
	code, _, errs := runIn(t, j, "-f", "../../clearcutt.yaml", "fleet", "plan")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if len(j.outputs(t)) != 0 || j.summaryText(t) != "" || strings.Contains(errs, "::") {
		t.Fatalf("outside Actions: outputs %v summary %q stderr %q", j.outputs(t), j.summaryText(t), errs)
	}
	// And a nil getenv (tests, library use) is no job at all.
	var out bytes.Buffer
	g := &globals{stdout: &out, stderr: &out}
	if err := g.toActions("test", fakeReports()["test"].rep, nil); err != nil || out.Len() != 0 {
		t.Fatalf("nil getenv: %v %q", err, out.String())
	}
}

func TestActionsUnwritableOutputFailsTheCommand(t *testing.T) {
	j := newGHAJob(t)
	j.env["GITHUB_OUTPUT"] = t.TempDir() // a directory: cannot be appended to
	code, _, errs := runIn(t, j, "-f", "../../clearcutt.yaml", "fleet", "plan")
	if code != ExitRuntime || !strings.Contains(errs, "GITHUB_OUTPUT") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}
