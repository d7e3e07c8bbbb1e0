package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/actions"
	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/remediate"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

// remediationRepo makes a git repository holding the remediation test
// fleet (internal/remediate/testdata/fleet), its VEX documents and a copy
// of the kit's nix/ (without the fixtures), committed on main.
func remediationRepo(t *testing.T, repo string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fleet")
	td := filepath.Join(repo, "internal/remediate/testdata")
	copyTree(t, filepath.Join(td, "fleet"), dir)
	copyTree(t, filepath.Join(td, "vex"), filepath.Join(dir, "vex"))
	for _, p := range []string{"flake.nix", "flake.lock", "lib", "overlays"} {
		copyTree(t, filepath.Join(repo, "nix", p), filepath.Join(dir, "nix", p))
	}
	gitIn(t, dir, "init", "--quiet", "--initial-branch", "main")
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "-c", "user.name=Fleet Maintainer", "-c", "user.email=fleet@example.test", "commit", "--quiet", "-m", "fleet")
	return dir
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = testenv.CleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// catalogFromPipeline writes DIR/catalog.json from a pipeline run's scans,
// with each platform's SBOM under sbom/, as the catalog stage records
// verified evidence.
func catalogFromPipeline(t *testing.T, rep pipeline.Report, evidence string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "catalog")
	c := catalog.Catalog{APIVersion: catalog.APIVersion, GeneratedAt: time.Now().UTC(), Fleet: catalog.Fleet{Name: "remediation-fixture"}}
	for _, pi := range rep.Images {
		if pi.Scan == nil {
			t.Fatalf("%s was not scanned: %s", pi.Image, pi.Error)
		}
		runtime, tier, _ := strings.Cut(pi.Image, ":")
		im := catalog.Image{Name: pi.Image, Runtime: runtime, Tier: tier, Reference: pi.Reference, IndexDigest: pi.Digest, Status: catalog.StatusVerified}
		for _, sp := range pi.Scan.Platforms {
			d := mustHash(t, sp.Digest)
			sbom, err := os.ReadFile(filepath.Join(evidence, "sha256-"+d.Hex, stage.SBOMFile))
			if err != nil {
				t.Fatal(err)
			}
			rel := catalog.SBOMPath(d)
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, rel), sbom, 0o644); err != nil {
				t.Fatal(err)
			}
			im.Platforms = append(im.Platforms, catalog.Platform{Platform: sp.Platform, Digest: sp.Digest, SBOM: rel,
				Vulnerabilities: &catalog.Vulnerabilities{ScanTime: sp.Result.FinishedOn, Findings: pipeline.CatalogFindings(sp.Result)}})
		}
		c.Images = append(c.Images, im)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, catalog.FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func stageNewerFixtures(t *testing.T, repo string) string {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "nixpkgs-newer")
	cmd := exec.Command(filepath.Join(repo, "nix/fixtures/revisions/stage.sh"), "newer", dest)
	cmd.Env = testenv.CleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stage.sh: %v\n%s", err, out)
	}
	return dest
}

func buildDB(t *testing.T, advisories string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	if code, _, errs := run(t, "vulndb", "build", "--advisories", advisories, "--out", dir); code != 0 {
		t.Fatalf("vulndb build: %s", errs)
	}
	return dir
}

func planJSON(t *testing.T, args ...string) remediate.Plan {
	t.Helper()
	code, out, errs := run(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("remediate plan: exit %d\n%s", code, tail(errs, 3000))
	}
	var p remediate.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, tail(out, 2000))
	}
	return p
}

func draftJSON(t *testing.T, wantCode int, code int, out, errs string) draftReport {
	t.Helper()
	if code != wantCode {
		t.Fatalf("remediate draft: exit %d, want %d\nstderr: %s\nstdout: %s", code, wantCode, tail(errs, 4000), tail(out, 3000))
	}
	var r draftReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("draft --json: %v\n%s", err, tail(out, 2000))
	}
	return r
}

// checkDraftEvidence checks what every successful libwebp draft shows: both
// images rebuilt without CVE-2023-4863 (in the delta and in the rebuilt
// scan's own statement), libwebp 1.3.0 → 1.3.2 in the SBOM diff and in the
// rebuilt SBOM, the VEX statement for 1.3.0 retired, and a body that says so.
func checkDraftEvidence(t *testing.T, r draftReport, work string) string {
	t.Helper()
	d := r.Draft
	if d == nil || len(d.Images) != 2 || d.To != "1.3.2" || strings.Join(d.From, ",") != "1.3.0" || strings.Join(d.Fixes, ",") != "CVE-2023-4863" {
		t.Fatalf("draft = %+v", d)
	}
	for _, im := range d.Images {
		if !im.TestsPassed || !im.ScanPassed {
			t.Errorf("%s: gates %+v", im.Image, im.Gate)
		}
		if deltaIDs(im.Delta.Fixed) != "CVE-2023-4863 (libwebp)" || len(im.Delta.New) != 0 {
			t.Errorf("%s: fixed %v, new %v", im.Image, im.Delta.Fixed, im.Delta.New)
		}
		wantStill := ""
		if im.Image == "webp:slim" {
			wantStill = "CVE-2023-42363 (busybox)"
		}
		if got := deltaIDs(im.Delta.StillActive); got != wantStill {
			t.Errorf("%s: still active %q, want %q", im.Image, got, wantStill)
		}
		if len(im.Delta.VEXRetired) != 1 || im.Delta.VEXRetired[0].ID != "CVE-2023-1999" || im.Delta.VEXRetired[0].Before != "1.3.0" || im.Delta.VEXRetired[0].After != "" {
			t.Errorf("%s: VEX retired %+v", im.Image, im.Delta.VEXRetired)
		}
		if len(im.Platforms) != 1 {
			t.Fatalf("%s: platforms %+v", im.Image, im.Platforms)
		}
		p := im.Platforms[0]
		if p.SBOM == nil || len(p.SBOM.Changed) != 1 || p.SBOM.Changed[0].Name != "libwebp" ||
			strings.Join(p.SBOM.Changed[0].Before, ",") != "1.3.0" || strings.Join(p.SBOM.Changed[0].After, ",") != "1.3.2" ||
			len(p.SBOM.Added)+len(p.SBOM.Removed) != 0 {
			t.Errorf("%s: SBOM diff %+v (%s)", im.Image, p.SBOM, p.SBOMNote)
		}
		// The rebuilt evidence itself: the SBOM lists libwebp 1.3.2 only,
		// the scan statement no longer names CVE-2023-4863.
		ev := filepath.Join(work, "evidence", "sha256-"+strings.TrimPrefix(p.After, "sha256:"))
		sbom, err := os.ReadFile(filepath.Join(ev, stage.SBOMFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(sbom, []byte("pkg:nix/libwebp@1.3.2")) || bytes.Contains(sbom, []byte("libwebp@1.3.0")) {
			t.Errorf("%s: rebuilt SBOM does not carry libwebp 1.3.2 alone", im.Image)
		}
		vulns, err := os.ReadFile(filepath.Join(ev, "vulns.json"))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(vulns, []byte("CVE-2023-4863")) {
			t.Errorf("%s: the rebuilt image's scan still names CVE-2023-4863", im.Image)
		}
	}
	body, err := os.ReadFile(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## Remediate libwebp: 1.3.0 → 1.3.2",
		"Fixes **CVE-2023-4863** (high) in `webp:distroless`, `webp:slim`.",
		"| changed | `libwebp` | nix | 1.3.0 | 1.3.2 |",
		"- Fixed: CVE-2023-4863 (high) in libwebp 1.3.0",
		"- Still active: CVE-2023-42363 (medium) in busybox 1.35.0",
		"- No longer applies: CVE-2023-1999 not_affected (vulnerable_code_not_in_execute_path) for libwebp 1.3.0",
		"### Reproduce",
		"pipeline --only webp:distroless --only webp:slim",
		"A person reviews and merges this change; ClearCutt never merges, publishes or deploys it.",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("PR body lacks %q:\n%s", want, body)
		}
	}
	return string(body)
}

// TestRemediatePlanAndDraft runs the real pipeline on a fleet whose images
// carry the fixture libwebp 1.3.0 (CVE-2023-4863 active, CVE-2023-1999
// suppressed by VEX), catalogs the scans, plans against the locked fixture
// set and its newer revision, and drafts the fix with each strategy: the
// change lands in the working tree (and on a branch), the rebuilt images no
// longer carry the finding, and a draft whose rebuilt images gain a new
// finding is refused with nothing written.
func TestRemediatePlanAndDraft(t *testing.T) {
	repo := needPipelineTools(t)
	testenv.Need(t, "git", "apt-get install git")
	fixtures := filepath.Join(repo, "nix/fixtures")
	td := filepath.Join(repo, "internal/remediate/testdata")
	db := buildDB(t, filepath.Join(td, "advisories.yaml"))
	cache := filepath.Join(t.TempDir(), "cache")

	// The published state: the pipeline's scan gate fails on CVE-2023-4863,
	// which is what the catalog records for both webp images.
	base := remediationRepo(t, repo)
	work := filepath.Join(t.TempDir(), "work")
	rep := pipelineJSON(t, ExitFailed, "-f", filepath.Join(base, "clearcutt.yaml"), "pipeline", "--nixpkgs", fixtures, "--db", db,
		"--work", work, "--cache", cache, "--to", "oci:"+filepath.Join(t.TempDir(), "published"))
	cat := catalogFromPipeline(t, rep, filepath.Join(work, "evidence"))
	newer := stageNewerFixtures(t, repo)

	t.Run("plan", func(t *testing.T) {
		args := []string{"-f", filepath.Join(base, "clearcutt.yaml"), "remediate", "plan", "--catalog", cat, "--nixpkgs", fixtures, "--newer", newer}
		p := planJSON(t, args...)
		if len(p.Actions) != 2 {
			t.Fatalf("actions = %+v", p.Actions)
		}
		a := p.Actions[0]
		if a.Package != "libwebp" || a.Attribute != "libwebp" || a.Fix != remediate.FixNewer || a.Target != "1.3.2" || a.KEV ||
			strings.Join(a.Images, ",") != "webp:distroless,webp:slim" || strings.Join(a.Fixes, ",") != "CVE-2023-4863" {
			t.Errorf("first action = %+v", a)
		}
		if b := p.Actions[1]; b.Package != "busybox" || b.Fix != remediate.FixNone || strings.Join(b.Images, ",") != "webp:slim" {
			t.Errorf("second action = %+v", b)
		}
		if len(p.NotNeeded) != 1 || p.NotNeeded[0].ID != "CVE-2023-1999" || len(p.NotNeeded[0].Occurrences) != 2 {
			t.Errorf("not needed = %+v", p.NotNeeded)
		}
		// The nightly workflow's step picks the first action in reach.
		target := runRemediationTarget(t, repo, filepath.Join(base, "clearcutt.yaml"), cat, fixtures, newer)
		if target["package"] != "libwebp" || target["strategy"] != "lock" {
			t.Errorf("remediation-target.sh outputs %v, want package libwebp, strategy lock", target)
		}
		withKEV := planJSON(t, append(args, "--kev", filepath.Join(td, "kev.json"))...)
		if a := withKEV.Actions[0]; !a.KEV || !strings.Contains(a.Why, "known exploited: CVE-2023-4863") {
			t.Errorf("with --kev: %+v", a)
		}
		code, out, errs := run(t, args...)
		row := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "1 ") {
				row = strings.Join(strings.Fields(l), " ")
			}
		}
		if code != 0 || row != "1 libwebp libwebp 1.3.0 1.3.0 1.3.2 newer high - CVE-2023-4863 (webp:distroless, webp:slim)" || !strings.Contains(out, "No action needed:") ||
			!strings.Contains(out, "CVE-2023-1999 (high) in libwebp 1.3.0, webp:distroless, webp:slim: VEX not_affected") {
			t.Errorf("plan table: exit %d\n%s%s", code, out, errs)
		}
	})

	t.Run("lock", func(t *testing.T) {
		fleet := remediationRepo(t, repo)
		head := gitIn(t, fleet, "rev-parse", "HEAD")
		w := filepath.Join(t.TempDir(), "work")
		code, out, errs := run(t, "-f", filepath.Join(fleet, "clearcutt.yaml"), "remediate", "draft", "--catalog", cat, "--package", "libwebp",
			"--strategy", "lock", "--nixpkgs", fixtures, "--newer", newer, "--db", db, "--branch", "remediate/libwebp",
			"--work", w, "--cache", cache, "--json")
		r := draftJSON(t, ExitOK, code, out, errs)
		if !r.Changed || r.File != "nix/flake.lock" || r.Branch != "remediate/libwebp" || r.Commit == "" {
			t.Fatalf("report = %+v", r)
		}
		body := checkDraftEvidence(t, r, w)
		if !strings.Contains(body, "git switch remediate/libwebp") || !strings.Contains(body, "**lock**") {
			t.Errorf("body lacks the lock strategy or the branch")
		}
		lock, err := os.ReadFile(filepath.Join(fleet, "nix/flake.lock"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := remediate.LockedInput(lock, "nixpkgs")
		if err != nil || n.Type != "path" || n.Path != newer || !strings.HasPrefix(n.NarHash, "sha256-") {
			t.Fatalf("flake.lock nixpkgs = %+v, %v", n, err)
		}
		// Committed on the new branch, and only the lock file; main is untouched.
		if b := gitIn(t, fleet, "branch", "--show-current"); b != "remediate/libwebp" {
			t.Errorf("current branch %q", b)
		}
		if files := gitIn(t, fleet, "show", "--name-only", "--format=%s", "HEAD"); files != "remediate: libwebp 1.3.0 → 1.3.2 (CVE-2023-4863)\n\nnix/flake.lock" {
			t.Errorf("commit: %q", files)
		}
		if m := gitIn(t, fleet, "rev-parse", "main"); m != head {
			t.Errorf("main moved to %s", m)
		}
		if st := gitIn(t, fleet, "status", "--porcelain"); st != "" {
			t.Errorf("working tree not clean after the commit: %s", st)
		}
	})

	t.Run("pin", func(t *testing.T) {
		fleet := remediationRepo(t, repo)
		lockBefore, err := os.ReadFile(filepath.Join(fleet, "nix/flake.lock"))
		if err != nil {
			t.Fatal(err)
		}
		w := filepath.Join(t.TempDir(), "work")
		j := newGHAJob(t)
		code, out, errs := runIn(t, j, "-f", filepath.Join(fleet, "clearcutt.yaml"), "remediate", "draft", "--catalog", cat, "--package", "libwebp",
			"--strategy", "pin", "--nixpkgs", fixtures, "--newer", newer, "--db", db, "--work", w, "--cache", cache,
			"--body", filepath.Join(w, "body.md"), "--json")
		r := draftJSON(t, ExitOK, code, out, errs)
		if !r.Changed || r.File != "nix/overlays/pins.nix" || r.Branch != "" {
			t.Fatalf("report = %+v", r)
		}
		body := checkDraftEvidence(t, r, w)
		if !strings.Contains(body, "**pin**") {
			t.Error("body does not name the pin strategy")
		}
		outs := j.outputs(t)
		if outs["changed"] != "true" || outs["body"] != filepath.Join(w, "body.md") || outs["branch"] != "" || len(outs) != 3 {
			t.Errorf("step outputs = %v", outs)
		}
		if s := j.summaryText(t); !strings.Contains(s, "clearcutt remediate draft libwebp (pin)") || !strings.Contains(s, "CVE-2023-4863 (libwebp)") {
			t.Errorf("step summary:\n%s", s)
		}
		pins, err := os.ReadFile(filepath.Join(fleet, "nix/overlays/pins.nix"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"  libwebp = {\n", `flake = "path:` + newer + "?", "narHash=sha256-", `version = "1.3.2";`, `fixes = [ "CVE-2023-4863" ];`} {
			if !strings.Contains(string(pins), want) {
				t.Errorf("pins.nix lacks %q:\n%s", want, pins)
			}
		}
		if lock, _ := os.ReadFile(filepath.Join(fleet, "nix/flake.lock")); !bytes.Equal(lock, lockBefore) {
			t.Error("a pin changed flake.lock")
		}
		if st := gitIn(t, fleet, "status", "--porcelain"); st != "M nix/overlays/pins.nix" {
			t.Errorf("working tree: %q", st)
		}

		// With the pin in the working tree, the locked set has the fix: the
		// plan says rebuild, and a draft has nothing to change.
		p := planJSON(t, "-f", filepath.Join(fleet, "clearcutt.yaml"), "remediate", "plan", "--catalog", cat, "--nixpkgs", fixtures, "--newer", newer)
		if a := p.Actions[0]; a.Package != "libwebp" || a.Fix != remediate.FixPinned || a.Pinned["x86_64-linux"] != "1.3.2" {
			t.Errorf("plan after the pin: %+v", a)
		}
		code, out, errs = run(t, "-f", filepath.Join(fleet, "clearcutt.yaml"), "remediate", "draft", "--catalog", cat, "--package", "libwebp",
			"--strategy", "pin", "--nixpkgs", fixtures, "--newer", newer, "--db", db, "--work", w, "--json")
		again := draftJSON(t, ExitOK, code, out, errs)
		if again.Changed || !strings.Contains(again.Message, "already has libwebp 1.3.2") {
			t.Errorf("second draft = %+v", again)
		}
	})

	t.Run("refused", func(t *testing.T) {
		// A database in which the fixed libwebp has a finding of its own:
		// the rebuilt images would carry a new active finding.
		adv, err := os.ReadFile(filepath.Join(td, "advisories.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		extra := filepath.Join(t.TempDir(), "advisories.yaml")
		writeFile(t, extra, string(adv)+`  - id: CLEARCUTT-TEST-0001
    severity: low
    description: A finding the fixed version introduces (test advisory).
    affected:
      - ecosystem: nix
        name: libwebp
        constraint: ">= 1.3.2"
`)
		db2 := buildDB(t, extra)
		fleet := remediationRepo(t, repo)
		w := filepath.Join(t.TempDir(), "work")
		code, out, errs := run(t, "-f", filepath.Join(fleet, "clearcutt.yaml"), "remediate", "draft", "--catalog", cat, "--package", "libwebp",
			"--strategy", "lock", "--nixpkgs", fixtures, "--newer", newer, "--db", db2, "--branch", "remediate/libwebp",
			"--work", w, "--cache", cache, "--json")
		r := draftJSON(t, ExitFailed, code, out, errs)
		if r.Changed || len(r.Refused) != 2 || !strings.Contains(strings.Join(r.Refused, "\n"), "CLEARCUTT-TEST-0001 in libwebp 1.3.2 is a new active finding") {
			t.Fatalf("report = %+v", r)
		}
		if st := gitIn(t, fleet, "status", "--porcelain"); st != "" {
			t.Errorf("a refused draft wrote to the working tree: %s", st)
		}
		if b := gitIn(t, fleet, "branch", "--list"); b != "* main" {
			t.Errorf("branches after a refused draft: %q", b)
		}
		if _, err := os.Stat(filepath.Join(w, "pr-body.md")); !os.IsNotExist(err) {
			t.Errorf("a refused draft wrote a body: %v", err)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		fleetFile := filepath.Join(base, "clearcutt.yaml")
		common := []string{"-f", fleetFile, "remediate", "draft", "--catalog", cat, "--nixpkgs", fixtures, "--newer", newer, "--db", db, "--work", t.TempDir()}
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"--package", "libwebp", "--strategy", "rebase"}, ExitUsage, `--strategy "rebase": want lock or pin`},
			{[]string{"--package", "openssl"}, ExitUsage, "has no active finding with a known fix"},
			{[]string{"--package", "busybox"}, ExitFailed, "wait: no package set has a fixed version yet (fixed upstream in 1.37.0)"},
			{[]string{"--package", "libwebp", "--branch", "main"}, ExitUsage, `branch "main" exists`},
			{[]string{"--package", "libwebp", "--branch", "a..b"}, ExitUsage, "not a valid branch name"},
		} {
			code, out, errs := run(t, append(common, tc.args...)...)
			if code != tc.code || !strings.Contains(out+errs, tc.want) {
				t.Errorf("%v: exit %d, want %d with %q\n%s%s", tc.args, code, tc.code, tc.want, out, errs)
			}
		}
		code, _, errs := run(t, "-f", fleetFile, "remediate", "plan", "--catalog", t.TempDir())
		if code != ExitUsage || !strings.Contains(errs, "catalog.json") {
			t.Errorf("plan without a catalog: exit %d: %s", code, errs)
		}
		code, _, errs = run(t, "-f", fleetFile, "remediate", "plan", "--catalog", cat, "--kev", filepath.Join(td, "advisories.yaml"))
		if code != ExitUsage || !strings.Contains(errs, "invalid known-exploited-vulnerabilities catalog") {
			t.Errorf("plan with a bad KEV file: exit %d: %s", code, errs)
		}
		code, _, errs = run(t, "-f", filepath.Join(repo, "clearcutt.yaml"), "remediate", "plan", "--catalog", cat)
		if code != ExitUsage || !strings.Contains(errs, `the catalog of fleet "remediation-fixture"`) {
			t.Errorf("plan with another fleet's catalog: exit %d: %s", code, errs)
		}
	})
}

// runRemediationTarget runs scripts/publish/remediation-target.sh, the
// nightly workflow's step, with a clearcutt built from this tree, and
// returns the step outputs it wrote.
func runRemediationTarget(t *testing.T, repo, fleetFile, catalogDir, nixpkgs, newer string) map[string]string {
	t.Helper()
	goBin := testenv.Need(t, "go", "the Go toolchain")
	tmp := t.TempDir()
	cli := filepath.Join(tmp, "clearcutt")
	build := exec.Command(goBin, "build", "-o", cli, ".")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	outputs := filepath.Join(tmp, "output")
	writeFile(t, outputs, "")
	cmd := exec.Command(filepath.Join(repo, "scripts/publish/remediation-target.sh"))
	cmd.Env = append(os.Environ(), "CLEARCUTT="+cli, "CLEARCUTT_FLEET="+fleetFile, "CATALOG="+catalogDir,
		"NEWER="+newer, "NIXPKGS="+nixpkgs, "GITHUB_OUTPUT="+outputs)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("remediation-target.sh: %v\n%s", err, out)
	}
	f, err := os.Open(outputs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := actions.ParseOutputs(f)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestRemediateDraftArchUsage: an --arch the fleet does not build is a
// usage error naming the flag and the value, before anything is read or
// rebuilt.
func TestRemediateDraftArchUsage(t *testing.T) {
	repo := testenv.RepoRoot(t)
	fixture := filepath.Join(repo, "internal/remediate/testdata/fleet/clearcutt.yaml")
	for _, tc := range []struct {
		fleet, arch, want string
	}{
		{filepath.Join(repo, "clearcutt.yaml"), "s390x", `--arch: "s390x" is not an architecture of the fleet (build.architectures: amd64, arm64)`},
		{filepath.Join(repo, "clearcutt.yaml"), "amd64,", `--arch: an empty architecture`},
		{fixture, "arm64", `--arch: "arm64" is not an architecture of the fleet (build.architectures: amd64)`},
	} {
		code, out, errs := run(t, "-f", tc.fleet, "remediate", "draft", "--catalog", t.TempDir(), "--package", "libwebp",
			"--newer", t.TempDir(), "--db", t.TempDir(), "--work", t.TempDir(), "--arch", tc.arch)
		if code != ExitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("--arch %s: exit %d, want %d with %q\n%s%s", tc.arch, code, ExitUsage, tc.want, out, errs)
		}
	}
}

// TestRemediateDraftOneArchitecture publishes an image of both
// architectures, then drafts the libwebp fix with --arch amd64 as a runner
// without an arm64 builder does: only amd64 is built, tested and scanned
// (through the --runc binary), only its platform is compared with the
// catalog, and the report and the body name arm64 as not rebuilt.
func TestRemediateDraftOneArchitecture(t *testing.T) {
	repo := needPipelineTools(t)
	testenv.Need(t, "git", "apt-get install git")
	runcBin := testenv.Need(t, "runc", "apt-get install runc")
	fixtures := filepath.Join(repo, "nix/fixtures")
	td := filepath.Join(repo, "internal/remediate/testdata")
	db := buildDB(t, filepath.Join(td, "advisories.yaml"))
	cache := filepath.Join(t.TempDir(), "cache")

	fleet := remediationRepo(t, repo)
	fleetFile := filepath.Join(fleet, "clearcutt.yaml")
	data, err := os.ReadFile(fleetFile)
	if err != nil {
		t.Fatal(err)
	}
	// Both architectures, and a smoke command for the slim image's shell.
	both := strings.Replace(string(data), "  architectures: [amd64]\n", "  architectures: [amd64, arm64]\n", 1)
	both = strings.Replace(both, "    nix: {attribute: libwebp}\n", "    nix: {attribute: libwebp}\n    smoke: {command: [/bin/sh, -c, \"echo smoke-ok\"], expect: smoke-ok}\n", 1)
	if strings.Count(both, "arm64") != 1 || !strings.Contains(both, "smoke-ok") {
		t.Fatalf("the fixture fleet changed shape:\n%s", both)
	}
	writeFile(t, fleetFile, both)
	gitIn(t, fleet, "-c", "user.name=Fleet Maintainer", "-c", "user.email=fleet@example.test", "commit", "--quiet", "-am", "both architectures")

	work := filepath.Join(t.TempDir(), "work")
	rep := pipelineJSON(t, ExitFailed, "-f", fleetFile, "pipeline", "--only", "webp:slim", "--nixpkgs", fixtures, "--db", db,
		"--work", work, "--cache", cache, "--to", "oci:"+filepath.Join(t.TempDir(), "published"), "--no-smoke")
	cat := catalogFromPipeline(t, rep, filepath.Join(work, "evidence"))
	// A finding the catalog records on arm64 alone: a draft of amd64 must
	// neither count it fixed nor still active.
	var c catalog.Catalog
	raw, err := os.ReadFile(filepath.Join(cat, catalog.FileName))
	if err != nil || json.Unmarshal(raw, &c) != nil || len(c.Images) != 1 || len(c.Images[0].Platforms) != 2 {
		t.Fatalf("catalog: %v\n%s", err, raw)
	}
	for i, p := range c.Images[0].Platforms {
		if remediate.PlatformArch(p.Platform) != "arm64" || p.Vulnerabilities == nil {
			continue
		}
		for _, f := range p.Vulnerabilities.Findings {
			if f.ID == "CVE-2023-4863" {
				f.ID = "CLEARCUTT-TEST-ARM64-ONLY"
				c.Images[0].Platforms[i].Vulnerabilities.Findings = append(p.Vulnerabilities.Findings, f)
				break
			}
		}
	}
	if raw, err = json.Marshal(c); err != nil || !strings.Contains(string(raw), "CLEARCUTT-TEST-ARM64-ONLY") {
		t.Fatalf("catalog without an arm64 finding: %v", err)
	}
	writeFile(t, filepath.Join(cat, catalog.FileName), string(raw))
	newer := stageNewerFixtures(t, repo)

	// A runc wrapper that leaves a mark: the smoke run goes through it.
	mark := filepath.Join(t.TempDir(), "runc-used")
	wrapper := filepath.Join(t.TempDir(), "runc-wrapper")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\necho \"$@\" >>"+mark+"\nexec "+runcBin+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	w := filepath.Join(t.TempDir(), "work")
	code, out, errs := run(t, "-f", fleetFile, "remediate", "draft", "--catalog", cat, "--package", "libwebp",
		"--strategy", "lock", "--nixpkgs", fixtures, "--newer", newer, "--db", db, "--work", w, "--cache", cache,
		"--arch", "amd64", "--runc", wrapper, "--json")
	r := draftJSON(t, ExitOK, code, out, errs)
	d := r.Draft
	if !r.Changed || d == nil || strings.Join(d.Architectures, ",") != "amd64" || strings.Join(d.NotRebuilt, ",") != "arm64" || len(d.Images) != 1 {
		t.Fatalf("report = %+v\ndraft = %+v", r, d)
	}
	im := d.Images[0]
	if im.Image != "webp:slim" || strings.Join(im.Architectures, ",") != "amd64" || strings.Join(im.NotRebuilt, ",") != "arm64" ||
		!im.TestsPassed || !im.ScanPassed {
		t.Errorf("image = %+v", im)
	}
	if len(im.Platforms) != 1 || im.Platforms[0].Platform != "linux/amd64" || im.Platforms[0].SBOM == nil {
		t.Errorf("platforms = %+v", im.Platforms)
	}
	// The delta compares amd64 alone: the arm64-only finding is in none of
	// its lists.
	if deltaIDs(im.Delta.Fixed) != "CVE-2023-4863 (libwebp)" || len(im.Delta.New) != 0 || deltaIDs(im.Delta.StillActive) != "CVE-2023-42363 (busybox)" {
		t.Errorf("delta = %+v", im.Delta)
	}
	if _, err := os.Stat(filepath.Join(w, "closures", "webp-slim-amd64.json")); err != nil {
		t.Errorf("amd64 was not built: %v", err)
	}
	if _, err := os.Stat(filepath.Join(w, "closures", "webp-slim-arm64.json")); !os.IsNotExist(err) {
		t.Errorf("arm64 was built: %v", err)
	}
	if used, err := os.ReadFile(mark); err != nil || len(used) == 0 {
		t.Errorf("the smoke run did not use --runc: %v", err)
	}
	for _, want := range []string{`"architectures": [`, `"notRebuilt": [`} {
		if !strings.Contains(out, want) {
			t.Errorf("--json lacks %s", want)
		}
	}
	body, err := os.ReadFile(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"**Not rebuilt: arm64.** This draft rebuilt, tested and scanned amd64 only; not rebuilt: arm64 of `webp:slim`.",
		"before anything is published",
		"| Architectures | rebuilt: amd64; **not rebuilt: arm64** |",
		"**SBOM diff, linux/amd64**",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("PR body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(string(body), "SBOM diff, linux/arm64") {
		t.Errorf("PR body shows an arm64 diff:\n%s", body)
	}
}
