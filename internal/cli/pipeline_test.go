package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

// needPipelineTools skips or fails unless nix, runc and the fixtures are
// available, and sets the offline Nix configuration for this test.
func needPipelineTools(t *testing.T) string {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.Need(t, "nix", "apt-get install nix-bin")
	testenv.Need(t, "runc", "apt-get install runc")
	repo := testenv.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(repo, "nix/fixtures/vendor")); err != nil {
		if testenv.Required() {
			t.Fatal("nix/fixtures/vendor is missing: run scripts/nix-fixtures.sh (scripts/test.sh does)")
		}
		t.Skip("nix/fixtures/vendor is missing: run scripts/nix-fixtures.sh")
	}
	t.Setenv("NIX_CONFIG", testenv.NixConfig(t))
	// The local signing key is created on first use under XDG_CONFIG_HOME.
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	return repo
}

// testDB builds the vulnerability database of testdata/vulndb with the CLI.
func testDB(t *testing.T, repo string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	if code, _, errs := run(t, "vulndb", "build", "--advisories", filepath.Join(repo, "testdata/vulndb/advisories.yaml"), "--out", dir); code != 0 {
		t.Fatalf("vulndb build: %s", errs)
	}
	return dir
}

func mustHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func pipelineJSON(t *testing.T, wantCode int, args ...string) pipeline.Report {
	t.Helper()
	code, out, errs := run(t, append(args, "--json")...)
	if code != wantCode {
		t.Fatalf("pipeline exit %d, want %d\nstderr: %s\nstdout: %s", code, wantCode, tail(errs, 3000), tail(out, 3000))
	}
	var rep pipeline.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("pipeline --json: %v\n%s", err, tail(out, 2000))
	}
	return rep
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// TestPipelineBuildsGatesAndPublishesReproducibly runs the real pipeline on
// the example fleet (the fleet's own flake against the fixture package set),
// twice with cold caches: the digests must be equal, the published layout
// must name every image, the smoke run must have executed on the host
// architecture, and a registry publish must move tags and re-upload nothing.
func TestPipelineBuildsGatesAndPublishesReproducibly(t *testing.T) {
	repo := needPipelineTools(t)
	fleetFile := filepath.Join(repo, "clearcutt.yaml")
	only := []string{"--only", "python", "--only", "static", "--only", "python-debian"}
	db := testDB(t, repo)
	runOnce := func(dir string) pipeline.Report {
		args := append([]string{"-f", fleetFile, "pipeline", "--nixpkgs", filepath.Join(repo, "nix/fixtures"), "--db", db,
			"--work", filepath.Join(dir, "work"), "--cache", filepath.Join(dir, "cache"), "--to", "oci:" + filepath.Join(dir, "published")}, only...)
		return pipelineJSON(t, ExitOK, args...)
	}
	d1, d2 := t.TempDir(), t.TempDir()
	first := runOnce(d1)
	second := runOnce(d2)

	if !first.Passed || !first.Published || !first.Verified {
		t.Fatalf("first run did not pass, publish and verify: %+v", first)
	}
	// Every published image carries verified evidence on every channel the
	// key mode can have, and reports provenance missing, not verified.
	for _, im := range first.Images {
		if im.Verify == nil {
			t.Fatalf("%s was not verified", im.Image)
		}
		for _, c := range im.Verify.Channels {
			want := "verified"
			if c.Channel == "provenance" {
				want = "not_applicable" // key mode
			}
			if string(c.Status) != want {
				t.Errorf("%s: channel %s is %s, want %s", im.Image, c.Channel, c.Status, want)
			}
		}
	}
	want := []string{"python:distroless", "python:slim", "python:dev", "static:distroless", "python-debian:distroless"}
	got := map[string]string{}
	for _, im := range first.Images {
		got[im.Image] = im.Digest
	}
	for _, w := range want {
		if got[w] == "" {
			t.Errorf("image %s missing from the report", w)
		}
	}
	for i, im := range second.Images {
		if im.Digest != first.Images[i].Digest {
			t.Errorf("%s: digest %s on the second cold build, %s on the first: the build is not reproducible", im.Image, im.Digest, first.Images[i].Digest)
		}
	}

	// The published layout names each index <runtime>:<tier>.
	p, err := layout.FromPath(filepath.Join(d1, "published"))
	if err != nil {
		t.Fatal(err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, d := range im.Manifests {
		names[d.Annotations["org.opencontainers.image.ref.name"]] = d.Digest.String()
	}
	for _, w := range want {
		if names[w] != got[w] {
			t.Errorf("published layout: %s -> %q, want %q", w, names[w], got[w])
		}
	}

	// A store path keeps its layer digest across images: python3, glibc and
	// cacert are the same bytes in python:distroless and python:slim.
	layersOf := func(ref string) map[string]string {
		t.Helper()
		idx, err := ii.ImageIndex(mustHash(t, names[ref]))
		if err != nil {
			t.Fatal(err)
		}
		imf, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		img, err := idx.Image(imf.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, l := range m.Layers {
			if d := l.Annotations[oci.AnnotationLayer]; strings.HasPrefix(d, "/nix/store/") {
				out[d] = l.Digest.String()
			}
		}
		return out
	}
	dl, sl := layersOf("python:distroless"), layersOf("python:slim")
	shared := 0
	for p, d := range dl {
		if sd, ok := sl[p]; ok {
			shared++
			if sd != d {
				t.Errorf("store path %s: layer %s in distroless, %s in slim", p, d, sd)
			}
		}
	}
	if shared < 3 {
		t.Errorf("python:distroless and python:slim share %d store-path layers, want at least python3, glibc and cacert", shared)
	}

	// The smoke command really ran on the host architecture, and was
	// skipped (not passed) on the other.
	for _, pi := range first.Images {
		if pi.Image != "python:distroless" {
			continue
		}
		for _, res := range pi.Test.Platforms {
			c, ok := res.Check("smoke")
			if !ok {
				t.Fatalf("%s %s: no smoke check", pi.Image, res.Platform)
			}
			host := strings.HasPrefix(res.Platform, "linux/"+stage.HostArch())
			if host && c.Status != "passed" {
				t.Errorf("%s %s: smoke %s: %s", pi.Image, res.Platform, c.Status, c.Detail)
			}
			if !host && c.Status != "skipped" {
				t.Errorf("%s %s: smoke on a foreign architecture is %s, want skipped", pi.Image, res.Platform, c.Status)
			}
		}
	}
	// With --require-smoke, the release's setting, a smoke run that cannot
	// run here fails its platform: the host's smoke passes, the other
	// architecture's is a failure that says why.
	for _, pi := range first.Images {
		if pi.Image != "python:distroless" {
			continue
		}
		code, out, errs := run(t, "-f", fleetFile, "test", pi.Reference, "--evidence", t.TempDir(), "--require-smoke", "--json")
		if code != ExitFailed {
			t.Fatalf("test --require-smoke with a foreign architecture: exit %d, want %d: %s", code, ExitFailed, errs)
		}
		var rep stage.TestReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		for _, res := range rep.Platforms {
			c, _ := res.Check("smoke")
			host := strings.HasPrefix(res.Platform, "linux/"+stage.HostArch())
			switch {
			case host && c.Status != "passed":
				t.Errorf("--require-smoke %s: smoke %s: %s", res.Platform, c.Status, c.Detail)
			case !host && (c.Status != "failed" || !strings.Contains(c.Detail, "required, but could not run: cannot execute")):
				t.Errorf("--require-smoke %s: smoke %s %q, want failed naming the architecture", res.Platform, c.Status, c.Detail)
			}
		}
		if code, _, errs := run(t, "-f", fleetFile, "test", pi.Reference, "--require-smoke", "--no-smoke"); code != ExitUsage {
			t.Errorf("--require-smoke with --no-smoke: exit %d, want %d: %s", code, ExitUsage, errs)
		}
	}
	// The overlay image records its base.
	for _, pi := range first.Images {
		if pi.Image == "python-debian:distroless" {
			for _, p := range pi.Assemble.Platforms {
				if p.BaseDigest == "" {
					t.Errorf("overlay %s %s: no base digest recorded", pi.Image, p.Arch)
				}
			}
		}
	}

	// Publish to the real registry process: tags, then an unchanged re-publish.
	host := ocitest.StartDistribution(t)
	var distroless pipeline.Image
	for _, pi := range first.Images {
		if pi.Image == "python:distroless" {
			distroless = pi
		}
	}
	pub := func() stage.PublishReport {
		code, out, errs := run(t, "-f", fleetFile, "publish", distroless.Reference, "--to", host+"/fleet",
			"--evidence", filepath.Join(d1, "work", "evidence"), "--json")
		if code != 0 {
			t.Fatalf("publish exit %d: %s", code, errs)
		}
		var r stage.PublishReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	r1 := pub()
	if r1.BlobsUploaded == 0 {
		t.Fatalf("first publish uploaded nothing: %+v", r1)
	}
	r2 := pub()
	if r2.BlobsUploaded != 0 || r2.BytesUploaded != 0 {
		t.Errorf("unchanged re-publish uploaded %d blobs, %d bytes", r2.BlobsUploaded, r2.BytesUploaded)
	}
	for _, tag := range []string{"3.11-distroless", "distroless"} {
		ref, err := name.ParseReference(host + "/fleet/python:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Head(ref)
		if err != nil {
			t.Fatalf("tag %s: %v", tag, err)
		}
		if desc.Digest.String() != distroless.Digest {
			t.Errorf("tag %s -> %s, want %s", tag, desc.Digest, distroless.Digest)
		}
	}
}

const badFleet = `apiVersion: clearcutt.dev/v1alpha1
kind: Fleet
metadata: {name: bad}
registry: {repository: registry.test/bad}
identity: {issuer: https://token.actions.githubusercontent.com, repository: acme/bad, workflow: .github/workflows/publish.yml, ref: refs/heads/main}
build: {architectures: [amd64]}
nix: {flake: FLAKE}
tiers:
  distroless: {shell: forbidden, packageManager: forbidden, coreutils: forbidden, deployable: true}
  slim: {packages: [busybox], shell: required, packageManager: forbidden, coreutils: allowed, deployable: true}
  dev: {packages: [bashInteractive, coreutils], shell: required, packageManager: allowed, coreutils: required, credentialHelper: true, deployable: false}
runtimes:
  - {id: python, version: "3.11", nix: {attribute: python3}, tiers: [distroless], entrypoint: [/bin/python3]}
  - {id: shelly, version: "1", nix: {attribute: clearcuttBad.shellInDistroless}, tiers: [distroless], entrypoint: [/bin/shelly]}
  - {id: setuid, version: "1", nix: {attribute: clearcuttBad.setuid}, tiers: [distroless], entrypoint: [/bin/setuid-helper]}
  - {id: unstripped, version: "1", nix: {attribute: clearcuttBad.unstripped}, tiers: [distroless], entrypoint: [/bin/unstripped-tool]}
`

// TestPipelineGatesCatchBadFixturesAndPublishNothing builds images the
// gates must refuse (a shell in a distroless closure, a setuid file, an
// unstripped binary) next to a good one: each bad image fails with its own
// check, and nothing at all is published.
func TestPipelineGatesCatchBadFixturesAndPublishNothing(t *testing.T) {
	repo := needPipelineTools(t)
	dir := t.TempDir()
	fleetFile := filepath.Join(dir, "clearcutt.yaml")
	writeFile(t, fleetFile, strings.Replace(badFleet, "FLAKE", filepath.Join(repo, "nix"), 1))
	dest := filepath.Join(dir, "published")
	rep := pipelineJSON(t, ExitFailed, "-f", fleetFile, "pipeline", "--nixpkgs", filepath.Join(repo, "nix/fixtures"), "--db", testDB(t, repo),
		"--vex-dir", filepath.Join(repo, "vex"), "--exceptions", filepath.Join(repo, "exceptions.yaml"),
		"--work", filepath.Join(dir, "work"), "--cache", filepath.Join(dir, "cache"), "--to", "oci:"+dest)
	if rep.Passed || rep.Published {
		t.Fatalf("report says passed=%v published=%v", rep.Passed, rep.Published)
	}
	failed := map[string][]string{}
	var shellDetail string
	for _, pi := range rep.Images {
		if pi.Test == nil {
			t.Fatalf("%s was not tested: %s", pi.Image, pi.Error)
		}
		for _, p := range pi.Test.Platforms {
			for _, c := range p.Checks {
				if c.Status == "failed" {
					failed[pi.Image] = append(failed[pi.Image], c.ID)
				}
				if pi.Image == "shelly:distroless" && c.ID == "no-shell" {
					shellDetail = c.Detail
				}
			}
		}
		sort.Strings(failed[pi.Image])
	}
	// The shell comes in through a dependency's script, which the
	// distroless scrub leaves alone: the gate names the chain.
	if want := "is in the closure through /bin/shelly → shelly-1.0.0 (share/shelly/helpers) → shelly-helpers-1.0.0 (libexec/shelly-helper) → busybox-"; !strings.Contains(shellDetail, want) {
		t.Errorf("shelly's no-shell detail %q\ndoes not name the reference chain %q", shellDetail, want)
	}
	wants := map[string]string{"shelly:distroless": "no-shell", "setuid:distroless": "no-setuid", "unstripped:distroless": "stripped"}
	for img, check := range wants {
		if !slices.Contains(failed[img], check) {
			t.Errorf("%s: failed checks %v, want %s among them", img, failed[img], check)
		}
	}
	if len(failed["python:distroless"]) != 0 {
		t.Errorf("python:distroless failed %v", failed["python:distroless"])
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("the destination %s exists after a failed gate: %v", dest, err)
	}
}

// TestPublishRefusesUngatedImage: an assembled image without a passing
// test result for every platform is never published.
func TestPublishRefusesUngatedImage(t *testing.T) {
	repo := needPipelineTools(t)
	dir := t.TempDir()
	fleetFile := filepath.Join(repo, "clearcutt.yaml")
	closures := filepath.Join(dir, "closures")
	for _, arch := range []string{"amd64", "arm64"} {
		if code, _, errs := run(t, "-f", fleetFile, "build", "--runtime", "static", "--tier", "distroless", "--arch", arch,
			"--nixpkgs", filepath.Join(repo, "nix/fixtures"), "--out", closures); code != 0 {
			t.Fatalf("build %s: %s", arch, errs)
		}
	}
	code, out, errs := run(t, "-f", fleetFile, "assemble", "--runtime", "static", "--tier", "distroless",
		"--closures", closures, "--stage", filepath.Join(dir, "stage"), "--cache", filepath.Join(dir, "cache"), "--json")
	if code != 0 {
		t.Fatalf("assemble: %s", errs)
	}
	var ar stage.AssembleReport
	if err := json.Unmarshal([]byte(out), &ar); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "published")
	code, _, errs = run(t, "-f", fleetFile, "publish", ar.Reference, "--to", "oci:"+dest, "--evidence", filepath.Join(dir, "evidence"))
	if code != ExitFailed || !strings.Contains(errs, "no passing test result") {
		t.Fatalf("publish of an untested image: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("destination written for an untested image")
	}
	// Once tested, it publishes.
	if code, _, errs := run(t, "-f", fleetFile, "test", ar.Reference, "--evidence", filepath.Join(dir, "evidence")); code != 0 {
		t.Fatalf("test: %s", errs)
	}
	if code, _, errs := run(t, "-f", fleetFile, "publish", ar.Reference, "--to", "oci:"+dest, "--evidence", filepath.Join(dir, "evidence")); code != 0 {
		t.Fatalf("publish after test: %s", errs)
	}
}

// TestOverlayOnBaseMadeFromDebianPackages makes the overlay base from
// Debian packages (scripts/make-debian-base.sh, as the committed example
// base was made), points a copy of the example fleet at it by digest, and
// checks that the overlay image keeps the base layers byte-identical,
// records the base digest and passes the distroless gates.
func TestOverlayOnBaseMadeFromDebianPackages(t *testing.T) {
	repo := needPipelineTools(t)
	testenv.Need(t, "apt-get", "a Debian machine")
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	cmd := exec.Command(filepath.Join(repo, "scripts/make-debian-base.sh"), base)
	cmd.Env = testenv.CleanEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make-debian-base.sh: %v\n%s", err, out)
	}
	digest := strings.TrimSpace(string(out))
	if _, err := v1.NewHash(digest); err != nil {
		t.Fatalf("make-debian-base.sh printed %q: %v", digest, err)
	}
	example, err := os.ReadFile(filepath.Join(repo, "clearcutt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	src := regexp.MustCompile(`oci:nix/fixtures/bases/debian@sha256:[0-9a-f]{64}`).ReplaceAllString(string(example), "oci:"+base+"@"+digest)
	src = strings.Replace(src, "  flake: nix\n", "  flake: "+filepath.Join(repo, "nix")+"\n", 1)
	fleetFile := filepath.Join(dir, "clearcutt.yaml")
	writeFile(t, fleetFile, src)
	rep := pipelineJSON(t, ExitOK, "-f", fleetFile, "pipeline", "--nixpkgs", filepath.Join(repo, "nix/fixtures"), "--db", testDB(t, repo),
		"--vex-dir", filepath.Join(repo, "vex"), "--exceptions", filepath.Join(repo, "exceptions.yaml"),
		"--work", filepath.Join(dir, "work"), "--cache", filepath.Join(dir, "cache"), "--to", "oci:"+filepath.Join(dir, "published"),
		"--only", "python-debian")
	pi := rep.Images[0]

	baseIdx, err := oci.ReadLayoutIndex(base, mustHash(t, digest))
	if err != nil {
		t.Fatal(err)
	}
	stage, err := oci.ReadLayoutIndex(filepath.Join(dir, "work", "stage"), mustHash(t, pi.Digest))
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		bimg := imageFor(t, baseIdx, arch)
		img := imageFor(t, stage, arch)
		bl, _ := bimg.Layers()
		il, _ := img.Layers()
		if len(il) <= len(bl) {
			t.Fatalf("%s: overlay has %d layers, base %d", arch, len(il), len(bl))
		}
		for i := range bl {
			bd, _ := bl[i].Digest()
			id, _ := il[i].Digest()
			if bd != id {
				t.Errorf("%s: layer %d is %s in the overlay, %s in the base", arch, i, id, bd)
			}
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		bd, _ := bimg.Digest()
		if got := cf.Config.Labels[oci.LabelBaseDigest]; got != bd.String() {
			t.Errorf("%s: %s = %q, want the platform base digest %s", arch, oci.LabelBaseDigest, got, bd)
		}
	}
}

func imageFor(t *testing.T, idx v1.ImageIndex, arch string) v1.Image {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Architecture == arch {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("no %s image in the index", arch)
	return nil
}

// TestVulnerabilityGateFailurePublishesNothing: without the fleet's VEX
// statement and exception, python's high and critical findings fail the
// vulnerability gate, and nothing reaches the destination.
func TestVulnerabilityGateFailurePublishesNothing(t *testing.T) {
	repo := needPipelineTools(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "vex")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	noExceptions := filepath.Join(dir, "exceptions.yaml")
	writeFile(t, noExceptions, "apiVersion: clearcutt.dev/v1alpha1\nkind: VulnerabilityExceptions\nexceptions: []\n")
	dest := filepath.Join(dir, "published")
	rep := pipelineJSON(t, ExitFailed, "-f", filepath.Join(repo, "clearcutt.yaml"), "pipeline", "--nixpkgs", filepath.Join(repo, "nix/fixtures"),
		"--db", testDB(t, repo), "--vex-dir", empty, "--exceptions", noExceptions, "--no-smoke",
		"--work", filepath.Join(dir, "work"), "--cache", filepath.Join(dir, "cache"), "--to", "oci:"+dest, "--only", "python:distroless")
	if rep.Published || rep.Images[0].Scan == nil || rep.Images[0].Scan.Pass {
		t.Fatalf("published=%v scan=%+v", rep.Published, rep.Images[0].Scan)
	}
	if !strings.Contains(rep.Images[0].Error, "CVE-2023-45853") {
		t.Errorf("error does not name the blocking finding: %s", rep.Images[0].Error)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("destination written after a failed vulnerability gate")
	}
}

// TestPipelineTagsOnlyVerifiedImages: the pipeline publishes by digest and
// moves the tags (layout names) only after every image verified. A signer
// that cannot sign stops the run before anything is built or stored
// (pipeline.Release's tests cover signing that fails after publishing).
func TestPipelineTagsOnlyVerifiedImages(t *testing.T) {
	repo := needPipelineTools(t)
	fleetFile := filepath.Join(repo, "clearcutt.yaml")
	db := testDB(t, repo)
	dir := t.TempDir()
	common := []string{"-f", fleetFile, "pipeline", "--nixpkgs", filepath.Join(repo, "nix/fixtures"), "--db", db, "--no-smoke",
		"--only", "static:distroless", "--work", filepath.Join(dir, "work"), "--cache", filepath.Join(dir, "cache")}

	failed := filepath.Join(dir, "unsigned")
	code, out, errs := run(t, append(common, "--to", "oci:"+failed, "--key", filepath.Join(dir, "no-such.key"))...)
	if code != ExitUsage || !strings.Contains(errs, "no-such.key") {
		t.Fatalf("pipeline with a missing signing key: exit %d, want %d naming the key\n%s%s", code, ExitUsage, out, tail(errs, 2000))
	}
	for _, d := range []string{failed, filepath.Join(dir, "work", "closures")} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s exists after the signer was refused: %v", d, err)
		}
	}

	signed := filepath.Join(dir, "signed")
	rep := pipelineJSON(t, ExitOK, append(common, "--to", "oci:"+signed)...)
	if !rep.Verified || !rep.Tagged || len(rep.Images) != 1 {
		t.Fatalf("pipeline: verified=%v tagged=%v", rep.Verified, rep.Tagged)
	}
	if got := refNames(t, signed)["static:distroless"]; got != rep.Images[0].Digest {
		t.Errorf("layout name static:distroless -> %q, want the verified %s", got, rep.Images[0].Digest)
	}

	// The same run again: every build, assembly, test and SBOM is reused,
	// the scan, signing and verification are done afresh, and the release
	// is the same image.
	reusedBy := func(r pipeline.Report) map[string][2]int {
		out := map[string][2]int{}
		for _, st := range r.Timings.Stages {
			out[st.Stage] = [2]int{st.Steps, st.Reused}
		}
		return out
	}
	again := pipelineJSON(t, ExitOK, append(common, "--to", "oci:"+signed)...)
	if !again.Verified || !again.Tagged || again.Images[0].Digest != rep.Images[0].Digest {
		t.Fatalf("unchanged re-run: verified=%v tagged=%v digest %s, want %s", again.Verified, again.Tagged, again.Images[0].Digest, rep.Images[0].Digest)
	}
	got := reusedBy(again)
	for _, st := range []string{"build", "assemble", "test", "sbom"} {
		if n := got[st]; n[0] == 0 || n[1] != n[0] {
			t.Errorf("unchanged re-run: %s reused %d of %d steps, want all", st, n[1], n[0])
		}
	}
	for _, st := range []string{"scan", "attest", "verify"} {
		if n := got[st]; n[0] == 0 || n[1] != 0 {
			t.Errorf("unchanged re-run: %s reused %d of %d steps, want none", st, n[1], n[0])
		}
	}
	if ev := again.Images[0].Test; ev == nil || len(ev.Statements) == 0 {
		t.Errorf("a reused test result names no statement: %+v", ev)
	}
	// A package set in which only Node.js changed: Nix evaluates the
	// static cells again, to the closures they had, so the builds count
	// as reused and nothing after them is redone.
	nodeDocs := filepath.Join(dir, "nixpkgs-node-docs")
	if out, err := exec.Command(filepath.Join(repo, "nix/fixtures/revisions/stage.sh"), "node-docs", nodeDocs).CombinedOutput(); err != nil {
		t.Fatalf("stage.sh node-docs: %v\n%s", err, out)
	}
	other := slices.Clone(common)
	other[slices.Index(other, "--nixpkgs")+1] = nodeDocs
	elsewhere := pipelineJSON(t, ExitOK, append(other, "--to", "oci:"+signed)...)
	got = reusedBy(elsewhere)
	for _, st := range []string{"build", "assemble", "test", "sbom"} {
		if n := got[st]; n[0] == 0 || n[1] != n[0] {
			t.Errorf("node's package changed: static's %s reused %d of %d steps, want all", st, n[1], n[0])
		}
	}
	if elsewhere.Images[0].Digest != rep.Images[0].Digest {
		t.Errorf("node's package changed: static:distroless is %s, was %s", elsewhere.Images[0].Digest, rep.Images[0].Digest)
	}

	// --no-reuse redoes everything, to the same digest.
	fresh := pipelineJSON(t, ExitOK, append(common, "--to", "oci:"+signed, "--no-reuse")...)
	for st, n := range reusedBy(fresh) {
		if n[1] != 0 {
			t.Errorf("--no-reuse: %s reused %d steps", st, n[1])
		}
	}
	if fresh.Images[0].Digest != rep.Images[0].Digest {
		t.Errorf("--no-reuse: digest %s, want %s", fresh.Images[0].Digest, rep.Images[0].Digest)
	}
}
