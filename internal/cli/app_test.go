package cli

import (
	"archive/tar"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.yaml.in/yaml/v3"

	"github.com/clearcutt/clearcutt/internal/appimage"
	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/testenv"
	"github.com/clearcutt/clearcutt/internal/vulndb"
)

// appFleet is the fleet the app tests build on: two versions of the fleet's
// python:slim base (the second with bash-interactive added to the slim
// tier and scanned against a database where CVE-2023-40217 is gone and a
// bash-interactive advisory is new), python:dev and static:distroless,
// signed with the fleet's local key, in a registry process. Tests read it
// and write only under a namespace of their own.
type appFleet struct {
	repo, fleet, host string
	// configHome is the XDG_CONFIG_HOME holding the fleet's local signing
	// key, the default key of the tests that use the fleet.
	configHome string
	// pub is the fleet's public key.
	pub string
	// slimV1, slimV2, dev and static are the published bases by digest.
	slimV1, slimV2, dev, static string
	// evidence1 and evidence2 are the evidence directories of the two runs.
	evidence1, evidence2 string
	db                   string
}

var appFleetFixture fixture[*appFleet]

// publishedAppFleet returns the app fleet, published once per test binary,
// and points the test's environment at it: the fleet's signing key is the
// local default key, and SOURCE_DATE_EPOCH is unset.
func publishedAppFleet(t *testing.T) *appFleet {
	t.Helper()
	repo := needPipelineTools(t)
	t.Setenv("SOURCE_DATE_EPOCH", "")
	f := appFleetFixture.get(t, "the published app fleet", func(t *testing.T) *appFleet { return publishAppFleet(t, repo) })
	t.Setenv("XDG_CONFIG_HOME", f.configHome)
	return f
}

// publishAppFleet publishes the app fleet with the real pipeline, twice,
// into a registry process and directories that last as long as the test
// binary.
func publishAppFleet(t *testing.T, repo string) *appFleet {
	t.Helper()
	start := time.Now()
	shared := sharedTB{t}
	dir := shared.TempDir()
	f := &appFleet{repo: repo, fleet: filepath.Join(repo, "clearcutt.yaml"), host: ocitest.StartDistribution(shared),
		configHome: filepath.Join(dir, "config"), db: filepath.Join(dir, "db")}
	t.Setenv("XDG_CONFIG_HOME", f.configHome)
	if code, _, errs := run(t, "vulndb", "build", "--advisories", filepath.Join(repo, "testdata/vulndb/advisories.yaml"), "--out", f.db); code != 0 {
		t.Fatalf("vulndb build: %s", errs)
	}
	fixtures := filepath.Join(repo, "nix/fixtures")
	published := func(rep pipeline.Report, image string) string {
		t.Helper()
		for _, im := range rep.Images {
			if im.Image == image {
				return im.Published
			}
		}
		t.Fatalf("pipeline published no %s: %+v", image, rep)
		return ""
	}
	f.evidence1 = filepath.Join(dir, "w1", "evidence")
	rep := pipelineJSON(t, ExitOK, "-f", f.fleet, "pipeline", "--nixpkgs", fixtures, "--db", f.db, "--no-smoke",
		"--only", "python:slim", "--only", "python:dev", "--only", "static",
		"--work", filepath.Join(dir, "w1"), "--cache", filepath.Join(dir, "cache"), "--to", f.host+"/fleet")
	f.slimV1, f.dev, f.static = published(rep, "python:slim"), published(rep, "python:dev"), published(rep, "static:distroless")

	// The next base: the slim tier gains bashInteractive (a package not
	// already in its closure, which holds tzdata and mailcap through
	// python3), and the database of the day knows CVE-2023-40217 no more
	// and a bash-interactive advisory newly.
	src, err := os.ReadFile(f.fleet)
	if err != nil {
		t.Fatal(err)
	}
	v2 := string(src)
	for old, repl := range map[string]string{"packages: [busybox]": "packages: [busybox, bashInteractive]", "  flake: nix\n": "  flake: " + filepath.Join(repo, "nix") + "\n"} {
		if strings.Count(v2, old) != 1 {
			t.Fatalf("clearcutt.yaml does not hold %q once: the test's second base cannot be made", old)
		}
		v2 = strings.Replace(v2, old, repl, 1)
	}
	fleet2 := filepath.Join(dir, "clearcutt-v2.yaml")
	writeFile(t, fleet2, v2)
	advs, err := vulndb.Load(filepath.Join(repo, "testdata/vulndb/advisories.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	advs.Advisories = slices.DeleteFunc(advs.Advisories, func(a vulndb.Advisory) bool { return a.ID == "CVE-2023-40217" })
	advs.Advisories = append(advs.Advisories, vulndb.Advisory{ID: "CVE-2099-0001", Severity: "low", Published: "2026-01-01",
		Description: "A bash-interactive advisory only the second database knows.",
		Affected:    []vulndb.Affected{{Ecosystem: "nix", Name: "bash-interactive", Constraint: "< 5.2.16", Fixed: "5.2.16"}}})
	raw, err := yaml.Marshal(advs)
	if err != nil {
		t.Fatal(err)
	}
	advFile := filepath.Join(dir, "advisories-v2.yaml")
	writeFile(t, advFile, string(raw))
	db2 := filepath.Join(dir, "db2")
	if code, _, errs := run(t, "vulndb", "build", "--advisories", advFile, "--out", db2); code != 0 {
		t.Fatalf("vulndb build: %s", errs)
	}
	f.evidence2 = filepath.Join(dir, "w2", "evidence")
	rep = pipelineJSON(t, ExitOK, "-f", fleet2, "pipeline", "--nixpkgs", fixtures, "--db", db2, "--no-smoke", "--only", "python:slim",
		"--vex-dir", filepath.Join(repo, "vex"), "--exceptions", filepath.Join(repo, "exceptions.yaml"),
		"--work", filepath.Join(dir, "w2"), "--cache", filepath.Join(dir, "cache"), "--to", f.host+"/fleet")
	f.slimV2 = published(rep, "python:slim")
	if f.slimV2 == f.slimV1 {
		t.Fatalf("both python:slim bases are %s", f.slimV1)
	}
	key, err := defaultKeyPath()
	if err != nil {
		t.Fatal(err)
	}
	f.pub = key + attest.PublicKeySuffix
	t.Logf("published the app fleet in %s", time.Since(start).Round(time.Second))
	return f
}

// appSource is an application's files: src holds server.py (mode 0700),
// conf/app.json (mode 0600) and config.json, a symlink to it; armOnly holds
// native/accel.so, for linux/arm64 only.
type appSource struct{ src, armOnly string }

func newAppSource(t *testing.T) appSource {
	t.Helper()
	dir := t.TempDir()
	s := appSource{src: filepath.Join(dir, "src"), armOnly: filepath.Join(dir, "arm64")}
	for p, content := range map[string]string{
		"src/server.py":         "#!/bin/python3\nprint('hello from the server')\n",
		"src/conf/app.json":     `{"port": 8080}`,
		"arm64/native/accel.so": "arm64 only",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, p), content)
	}
	// Host modes and times must not reach the image.
	if err := os.Chmod(filepath.Join(s.src, "server.py"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(s.src, "conf/app.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("conf/app.json", filepath.Join(s.src, "config.json")); err != nil {
		t.Fatal(err)
	}
	return s
}

// buildArgs are the arguments of `app build` for the application s on base,
// written to the repository to.
func (f *appFleet) buildArgs(s appSource, base, to string, extra ...string) []string {
	return append([]string{"app", "build", "--base", base, "--key", f.pub, "--artifact", s.src,
		"--artifact", "linux/arm64=" + s.armOnly,
		"--entrypoint", `["/bin/python3", "/app/server.py"]`, "--workdir", "/app", "--env", "PORT=8080",
		"--label", "org.opencontainers.image.source=https://github.com/acme/server", "--to", to, "--json"}, extra...)
}

// buildApp builds the application s on base into the repository to.
func (f *appFleet) buildApp(t *testing.T, s appSource, base, to string, extra ...string) appBuildReport {
	t.Helper()
	out, _ := f.cli(t, ExitOK, f.buildArgs(s, base, to, extra...)...)
	built := decode[appBuildReport](t, out)
	if built.Reference == "" {
		t.Fatalf("app build wrote no image: %s", tail(out, 2000))
	}
	return built
}

// teamApp is an application image built on python:slim version 1 and
// signed with the application team's own key.
type teamApp struct {
	appSource
	built appBuildReport
	key   *attest.KeySigner
	// pub is the application team's public key.
	pub string
}

// signedApp builds the application into ns/apps/server, tagged v1, and
// signs it with a new application team key.
func (f *appFleet) signedApp(t *testing.T, ns string) teamApp {
	t.Helper()
	a := teamApp{appSource: newAppSource(t)}
	a.built = f.buildApp(t, a.appSource, f.slimV1, ns+"/apps/server", "--tag", "v1")
	key, err := attest.LoadOrCreateKey(filepath.Join(t.TempDir(), "app-team", "signing.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	a.key, a.pub = key, key.PublicKeyPath()
	f.cli(t, ExitOK, "attest", a.built.Reference, "--key", key.Path(), "--evidence", filepath.Join(t.TempDir(), "no-evidence"), "--allow-missing-evidence-unsafe")
	return a
}

// rebaseArgs are the arguments of `app rebase` of appRef onto the base onto,
// verified with the fleet's and the team's keys and signed with the team's.
func (f *appFleet) rebaseArgs(a teamApp, appRef, onto, to string, extra ...string) []string {
	return append([]string{"app", "rebase", appRef, "--onto", onto, "--base-key", f.pub, "--app-key", a.pub,
		"--key", a.key.Path(), "--to", to, "--json"}, extra...)
}

// cli runs the CLI with the fleet file and wants exit code want.
func (f *appFleet) cli(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	code, out, errs := run(t, append([]string{"-f", f.fleet}, args...)...)
	if code != want {
		t.Fatalf("clearcutt %s: exit %d, want %d\nstderr: %s\nstdout: %s", strings.Join(args, " "), code, want, tail(errs, 3000), tail(out, 3000))
	}
	return out, errs
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v\n%s", err, tail(s, 2000))
	}
	return v
}

// registryIndex reads the index a by-digest registry reference names.
func registryIndex(t *testing.T, ref string) v1.ImageIndex {
	t.Helper()
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(d)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return idx
}

// byArch returns the platform images of idx by architecture.
func byArch(t *testing.T, idx v1.ImageIndex) map[string]v1.Image {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v1.Image{}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		out[d.Platform.Architecture] = img
	}
	return out
}

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func configOf(t *testing.T, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tarHeaders lists the entries of a layer.
func tarHeaders(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

// noManifests asserts that nothing was written to repo.
func noManifests(t *testing.T, repo string) {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	if tags, err := remote.List(r); err == nil && len(tags) > 0 {
		t.Errorf("%s was written: tags %v", repo, tags)
	}
}

// copyIndex copies the index named by ref (by digest) to repo, without
// its referrers, and returns it there by digest.
func copyIndex(t *testing.T, ref, repo string) string {
	t.Helper()
	idx := registryIndex(t, ref)
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	dst, err := name.NewDigest(repo + "@" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(dst, idx); err != nil {
		t.Fatal(err)
	}
	return dst.String()
}

// TestAppBuild builds an application on a fleet base published by the real
// pipeline: the base's layers, then a layer of the application's files (and
// on arm64 one of its own files), owned by the base's user with fixed modes
// and times, under labels that record the base; the same inputs give the
// same bytes whatever the files' times.
func TestAppBuild(t *testing.T) {
	f := publishedAppFleet(t)
	ns := namespace(t, f.host)
	s := newAppSource(t)
	built := f.buildApp(t, s, f.slimV1, ns+"/apps/server", "--tag", "v1")
	if !strings.HasPrefix(built.Reference, ns+"/apps/server@sha256:") || built.Reference != ns+"/apps/server@"+built.Digest.String() {
		t.Fatalf("reference %q, digest %s", built.Reference, built.Digest)
	}
	if !built.BaseVerification.Passed() || built.Base.Line() != "python:slim" || built.Base.Reference != f.slimV1 {
		t.Fatalf("base %+v verified=%v", built.Base, built.BaseVerification.Passed())
	}
	tag, err := name.NewTag(ns + "/apps/server:v1")
	if err != nil {
		t.Fatal(err)
	}
	if desc, err := remote.Head(tag); err != nil || desc.Digest != built.Digest {
		t.Fatalf("tag v1: %v %v, want %s", desc, err, built.Digest)
	}
	bases, apps := byArch(t, registryIndex(t, f.slimV1)), byArch(t, registryIndex(t, built.Reference))
	if len(apps) != 2 || len(bases) != 2 {
		t.Fatalf("app platforms %d, base platforms %d", len(apps), len(bases))
	}
	// runConfig is what an application image runs as.
	type runConfig struct {
		User, WorkingDir string
		Entrypoint       []string
	}
	// entry is what the app layer says of a file.
	type entry struct {
		Mode     int64
		UID, GID int
		ModTime  time.Time
		Linkname string
	}
	for arch, img := range apps {
		base := bases[arch]
		bl, al := layerDigests(t, base), layerDigests(t, img)
		wantApp := map[string]int{"amd64": 1, "arm64": 2}[arch]
		if len(al) != len(bl)+wantApp || !slices.Equal(al[:len(bl)], bl) {
			t.Fatalf("%s: layers %v are not the base's %v plus %d", arch, al, bl, wantApp)
		}
		cf, bcf := configOf(t, img), configOf(t, base)
		wantLabels := map[string]string{
			oci.LabelBaseDigest:               digestOf(t, base).String(),
			oci.LabelBaseName:                 f.slimV1,
			appimage.LabelBaseLayers:          strconv.Itoa(len(bl)),
			appimage.LabelBaseTopLayer:        bcf.RootFS.DiffIDs[len(bl)-1].String(),
			oci.LabelRuntime:                  "python",
			oci.LabelTier:                     "slim",
			"org.opencontainers.image.source": "https://github.com/acme/server",
			"org.opencontainers.image.title":  "",
		}
		if d := cmp.Diff(wantLabels, labelsOf(cf, wantLabels)); d != "" {
			t.Errorf("%s: labels (-want +got):\n%s", arch, d)
		}
		if bcf.Config.User != "65532:65532" {
			t.Errorf("%s: the base runs as %q", arch, bcf.Config.User)
		}
		want := runConfig{User: bcf.Config.User, WorkingDir: "/app", Entrypoint: []string{"/bin/python3", "/app/server.py"}}
		if d := cmp.Diff(want, runConfig{cf.Config.User, cf.Config.WorkingDir, cf.Config.Entrypoint}); d != "" {
			t.Errorf("%s: config (-want +got):\n%s", arch, d)
		}
		for _, e := range []string{"PORT=8080", "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"} {
			if !slices.Contains(cf.Config.Env, e) {
				t.Errorf("%s: env %v lacks %s", arch, cf.Config.Env, e)
			}
		}
		if _, err := appimage.ReadBoundary(cf); err != nil {
			t.Errorf("%s: %v", arch, err)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		hs := tarHeaders(t, layers[len(bl)])
		file := func(mode int64, link string) entry {
			return entry{Mode: mode, UID: 65532, GID: 65532, ModTime: time.Unix(0, 0), Linkname: link}
		}
		wantEntries := map[string]entry{"app/": file(0o755, ""), "app/server.py": file(0o755, ""), "app/conf/app.json": file(0o644, ""),
			"app/config.json": file(0o777, "conf/app.json")}
		got := map[string]entry{}
		for p := range wantEntries {
			if h := hs[p]; h != nil {
				got[p] = entry{Mode: h.Mode, UID: h.Uid, GID: h.Gid, ModTime: h.ModTime, Linkname: h.Linkname}
			}
		}
		if d := cmp.Diff(wantEntries, got); d != "" {
			t.Errorf("%s: app layer entries (-want +got):\n%s", arch, d)
		}
		if arch == "arm64" {
			if hs := tarHeaders(t, layers[len(bl)+1]); hs["app/native/accel.so"] == nil {
				t.Errorf("arm64: the platform artifact layer holds %v", hs)
			}
		}
	}
	// The same inputs give the same bytes, whatever the files' times.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(s.src, "server.py"), later, later); err != nil {
		t.Fatal(err)
	}
	again := f.buildApp(t, s, f.slimV1, ns+"/apps/again")
	if again.Digest != built.Digest {
		t.Errorf("second build: %s, first %s", again.Digest, built.Digest)
	}
	if d := cmp.Diff(built.Platforms, again.Platforms); d != "" {
		t.Errorf("second build's platforms (-first +second):\n%s", d)
	}
}

// labelsOf returns the labels of cf named in like, "" where cf has none.
func labelsOf(cf *v1.ConfigFile, like map[string]string) map[string]string {
	out := map[string]string{}
	for k := range like {
		out[k] = cf.Config.Labels[k]
	}
	return out
}

// TestAppBuildRefusesBases: app build refuses a base that is unsigned,
// signed by another key, missing its SBOM, named by tag or of the dev tier,
// and writes nothing; a dev base builds only with the unsafe flag.
func TestAppBuildRefusesBases(t *testing.T) {
	f := publishedAppFleet(t)
	ns := namespace(t, f.host)
	s := newAppSource(t)
	other, err := attest.LoadOrCreateKey(filepath.Join(t.TempDir(), "other", "signing.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	unsigned := copyIndex(t, f.slimV1, ns+"/unsigned/python")
	otherKey := copyIndex(t, f.slimV1, ns+"/otherkey/python")
	f.cli(t, ExitOK, "attest", otherKey, "--key", other.Path(), "--evidence", f.evidence1)
	noSBOM := copyIndex(t, f.slimV1, ns+"/nosbom/python")
	ev := filepath.Join(t.TempDir(), "evidence-without-sbom")
	if err := os.CopyFS(ev, os.DirFS(f.evidence1)); err != nil {
		t.Fatal(err)
	}
	sboms, _ := filepath.Glob(filepath.Join(ev, "*", stage.SBOMFile))
	if len(sboms) == 0 {
		t.Fatalf("no SBOM in %s", ev)
	}
	for _, s := range sboms {
		if err := os.Remove(s); err != nil {
			t.Fatal(err)
		}
	}
	key, err := defaultKeyPath()
	if err != nil {
		t.Fatal(err)
	}
	f.cli(t, ExitOK, "attest", noSBOM, "--key", key, "--evidence", ev, "--allow-missing-evidence-unsafe")

	for _, c := range []struct {
		name, base string
		code       int
		// why is the error the refusal wraps, what is the detail it names.
		why  error
		what string
	}{
		{"unsigned", unsigned, ExitFailed, appimage.ErrBaseRejected, "signature missing"},
		{"signed-by-another-key", otherKey, ExitFailed, appimage.ErrBaseRejected, "signature failed"},
		{"missing-sbom", noSBOM, ExitFailed, appimage.ErrBaseRejected, "sbom missing"},
		{"tag", f.host + "/fleet/python:slim", ExitUsage, oci.ErrNotByDigest, "python:slim"},
		{"dev-tier", f.dev, ExitFailed, appimage.ErrBuildOnlyBase, "build-time tier"},
	} {
		to := ns + "/refused/" + c.name
		code, out, errs := run(t, append([]string{"-f", f.fleet}, f.buildArgs(s, c.base, to, "--tag", "v1")...)...)
		if code != c.code || !strings.Contains(errs, c.why.Error()) || !strings.Contains(errs, c.what) {
			t.Errorf("%s: exit %d, want %d with %q and %q\nstderr: %s", c.name, code, c.code, c.why, c.what, tail(errs, 2000))
		}
		if c.code == ExitFailed {
			if rep := decode[appBuildReport](t, out); !strings.Contains(rep.Refused, c.why.Error()) || rep.Reference != "" {
				t.Errorf("%s: report refused=%q reference=%q", c.name, rep.Refused, rep.Reference)
			}
		}
		noManifests(t, to)
	}
	// A dev base only with the unsafe flag, which is reported.
	_, errs := f.cli(t, ExitOK, f.buildArgs(s, f.dev, ns+"/devapp", "--allow-dev-base-unsafe")...)
	if !strings.Contains(errs, "--allow-dev-base-unsafe") {
		t.Errorf("no warning for a dev base: %s", errs)
	}
}

// TestAppDiffBase compares the base of an application with the next base
// of its line: the package added, the advisories fixed, new and still
// there, as JSON and as a table; a candidate of another line, or one that
// does not verify, is refused.
func TestAppDiffBase(t *testing.T) {
	f := publishedAppFleet(t)
	ns := namespace(t, f.host)
	built := f.buildApp(t, newAppSource(t), f.slimV1, ns+"/apps/server", "--tag", "v1")
	out, _ := f.cli(t, ExitOK, "app", "diff-base", built.Reference, "--candidate", f.slimV2, "--key", f.pub, "--json")
	d := decode[appDiffReport](t, out)
	// summary is what the test compares of a diff report.
	type summary struct {
		Passed, SameLine, VersionChanged, CandidateVerified bool
		Current                                             string
		Platforms                                           int
	}
	got := summary{d.Passed, d.SameLine, d.VersionChanged, d.CandidateVerified, d.Current.Reference, len(d.Platforms)}
	want := summary{Passed: true, SameLine: true, CandidateVerified: true, Current: f.slimV1, Platforms: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("diff (-want +got):\n%s\nproblems: %v", diff, d.Problems)
	}
	ids := func(vs []appimage.VulnChange) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.ID+" "+v.Package)
		}
		return out
	}
	for _, p := range d.Platforms {
		pk := p.Packages
		if len(pk.Added) != 1 || pk.Added[0].Name != "bash-interactive" || len(pk.Removed)+len(pk.Changed) != 0 || pk.Unchanged == 0 {
			t.Errorf("%s: packages %+v", p.Platform, pk)
		}
		v := p.Vulnerabilities
		if diff := cmp.Diff([]string{"CVE-2099-0001 bash-interactive"}, ids(v.New)); diff != "" {
			t.Errorf("%s: new vulnerabilities (-want +got):\n%s", p.Platform, diff)
		}
		if !slices.Contains(ids(v.Fixed), "CVE-2023-40217 python3") ||
			!slices.Contains(ids(v.Still), "CVE-2023-52426 expat") || slices.Contains(ids(v.Still), "CVE-2023-40217 python3") {
			t.Errorf("%s: vulnerabilities fixed %v new %v still %v", p.Platform, ids(v.Fixed), ids(v.New), ids(v.Still))
		}
		for _, s := range v.Still {
			if s.ID == "CVE-2023-4911" && (s.BeforeStatus != "suppressed" || s.AfterStatus != "suppressed") {
				t.Errorf("%s: %+v, want suppressed by VEX on both bases", p.Platform, s)
			}
		}
	}
	table, _ := f.cli(t, ExitOK, "app", "diff-base", built.Reference, "--candidate", f.slimV2, "--key", f.pub)
	for _, want := range []string{"same (python:slim)", "+  bash-interactive", "fixed  CVE-2023-40217", "new    CVE-2099-0001"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// Another line is refused, and so is a candidate that does not verify.
	out, _ = f.cli(t, ExitFailed, "app", "diff-base", built.Reference, "--candidate", f.static, "--key", f.pub, "--json")
	if d := decode[appDiffReport](t, out); d.SameLine || d.Passed || len(d.Platforms) != 0 || !strings.Contains(strings.Join(d.Problems, " "), "static:distroless") {
		t.Errorf("static candidate: %+v", d.Problems)
	}
	unsigned := copyIndex(t, f.slimV2, ns+"/unsigned/python")
	out, _ = f.cli(t, ExitFailed, "app", "diff-base", built.Reference, "--candidate", unsigned, "--key", f.pub, "--json")
	if d := decode[appDiffReport](t, out); d.CandidateVerified || len(d.Platforms) != 0 {
		t.Errorf("unsigned candidate: verified=%v platforms=%d", d.CandidateVerified, len(d.Platforms))
	}
}

// TestAppRebase rebases an application signed by its team onto the next
// base of its line: the new base's layers, then the application's layers
// byte for byte, the same image a build on the new base gives, signed, with
// a rebase attestation that verifies with cosign against the application
// key only.
func TestAppRebase(t *testing.T) {
	f := publishedAppFleet(t)
	ns := namespace(t, f.host)
	a := f.signedApp(t, ns)
	built := a.built
	out, _ := f.cli(t, ExitOK, f.rebaseArgs(a, built.Reference, f.slimV2, ns+"/apps/server", "--tag", "v1-rebased")...)
	rb := decode[appRebaseReport](t, out)
	type rebase struct {
		App, OldBase, NewBase string
		Platforms             int
	}
	if d := cmp.Diff(rebase{built.Reference, f.slimV1, f.slimV2, 2}, rebase{rb.App, rb.OldBase, rb.NewBase.Reference, len(rb.Platforms)}); d != "" {
		t.Fatalf("rebase (-want +got):\n%s", d)
	}
	before, after := byArch(t, registryIndex(t, built.Reference)), byArch(t, registryIndex(t, rb.Reference))
	newBases := byArch(t, registryIndex(t, f.slimV2))
	for arch, img := range after {
		bl, al := layerDigests(t, newBases[arch]), layerDigests(t, img)
		old := before[arch]
		ol := layerDigests(t, old)
		k, _ := strconv.Atoi(configOf(t, old).Config.Labels[appimage.LabelBaseLayers])
		if d := cmp.Diff(slices.Concat(bl, ol[k:]), al); d != "" {
			t.Errorf("%s: rebased layers are not the new base's then the application's (-want +got):\n%s", arch, d)
		}
		cf, ocf, bcf := configOf(t, img), configOf(t, old), configOf(t, newBases[arch])
		if d := cmp.Diff(ocf.RootFS.DiffIDs[k:], cf.RootFS.DiffIDs[min(len(bl), len(cf.RootFS.DiffIDs)):]); d != "" {
			t.Errorf("%s: app diff_ids changed (-before +after):\n%s", arch, d)
		}
		wantLabels := map[string]string{
			oci.LabelBaseDigest:        digestOf(t, newBases[arch]).String(),
			oci.LabelBaseName:          f.slimV2,
			appimage.LabelBaseLayers:   strconv.Itoa(len(bl)),
			appimage.LabelBaseTopLayer: bcf.RootFS.DiffIDs[len(bl)-1].String(),
			appimage.LabelConfig:       ocf.Config.Labels[appimage.LabelConfig],
		}
		if d := cmp.Diff(wantLabels, labelsOf(cf, wantLabels)); d != "" {
			t.Errorf("%s: rebased labels (-want +got):\n%s", arch, d)
		}
		if !slices.Equal(cf.Config.Entrypoint, ocf.Config.Entrypoint) || cf.Config.WorkingDir != "/app" || !slices.Contains(cf.Config.Env, "PORT=8080") {
			t.Errorf("%s: rebased config %+v", arch, cf.Config)
		}
	}
	for _, p := range rb.Platforms {
		for _, b := range built.Platforms {
			if b.Platform != p.Platform {
				continue
			}
			if d := cmp.Diff(b.AppLayers, p.AppLayers); d != "" || p.Before != b.Digest {
				t.Errorf("%s: before %s, built %s; app layers (-built +rebased):\n%s", p.Platform, p.Before, b.Digest, d)
			}
		}
	}
	// Rebasing gives the image a build on the new base gives.
	if direct := f.buildApp(t, a.appSource, f.slimV2, ns+"/apps/direct"); direct.Digest != rb.Digest {
		t.Errorf("rebased %s, built on the new base %s", rb.Digest, direct.Digest)
	}
	// The rebased image is signed, and its rebase attestation verifies
	// with cosign against the application key only.
	f.cli(t, ExitOK, "verify", rb.Reference, "--key", a.pub, "--require", "signature")
	testenv.Need(t, "cosign", "scripts/install-tools.sh")
	home := t.TempDir()
	cosign := func(pub string) (string, error) {
		cmd := exec.Command("cosign", "verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--type", appimage.PredicateRebase, rb.Reference)
		cmd.Env = testenv.CleanEnv("HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "cosign"))
		out, err := cmd.Output()
		return string(out), err
	}
	if _, err := cosign(f.pub); err == nil {
		t.Error("the rebase attestation verified with the fleet's key")
	}
	out, err := cosign(a.pub)
	if err != nil {
		t.Fatalf("cosign verify-attestation: %v\n%s", err, out)
	}
	line, _, _ := strings.Cut(out, "\n")
	payload, err := base64.StdEncoding.DecodeString(decode[struct{ Payload string }](t, line).Payload)
	if err != nil {
		t.Fatal(err)
	}
	st := decode[struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate appimage.RebasePredicate `json:"predicate"`
	}](t, string(payload))
	type statement struct {
		PredicateType         string
		Subjects              []string
		App, OldBase, NewBase string
	}
	var subjects []string
	for _, s := range st.Subject {
		subjects = append(subjects, "sha256:"+s.Digest["sha256"])
	}
	p := st.Predicate
	want := statement{appimage.PredicateRebase, []string{rb.Digest.String()}, built.Reference, f.slimV1, f.slimV2}
	if d := cmp.Diff(want, statement{st.PredicateType, subjects, p.App, p.OldBase, p.NewBase}); d != "" {
		t.Fatalf("rebase statement (-want +got):\n%s", d)
	}
	if d := cmp.Diff(rb.Platforms, p.Platforms); d != "" {
		t.Errorf("attested platforms (-rebased +attested):\n%s", d)
	}
	for _, pp := range p.Platforms {
		if arch := strings.Split(pp.Platform, "/")[1]; pp.NewBase != digestOf(t, newBases[arch]) {
			t.Errorf("%s: attested new base %s, the new base's image is %s", pp.Platform, pp.NewBase, digestOf(t, newBases[arch]))
		}
	}
}

// TestAppRebaseRefused: app rebase refuses a new base of another runtime or
// tier, of the dev tier, lacking one of the application's architectures or
// unsigned, an application signed by another key and an image without app
// boundary, and writes nothing.
func TestAppRebaseRefused(t *testing.T) {
	f := publishedAppFleet(t)
	ns := namespace(t, f.host)
	a := f.signedApp(t, ns)
	built := a.built
	// A one-platform base of the line, signed and attested by the fleet.
	v2 := byArch(t, registryIndex(t, f.slimV2))
	idx, err := oci.NewIndex([]oci.PlatformImage{{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Image: v2["amd64"]}})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := oci.PublishIndex(context.Background(), idx, oci.PublishOptions{Dest: mustRef(t, ns+"/oneplatform/python")})
	if err != nil {
		t.Fatal(err)
	}
	key, err := defaultKeyPath()
	if err != nil {
		t.Fatal(err)
	}
	f.cli(t, ExitOK, "attest", pr.Refs[0], "--key", key, "--evidence", f.evidence2)
	f.cli(t, ExitOK, "verify", pr.Refs[0], "--key", f.pub)

	for _, c := range []struct {
		name string
		args []string
		// why is the error the refusal wraps, what is the detail it names.
		why  error
		what string
	}{
		{"another runtime", f.rebaseArgs(a, built.Reference, f.static, ""), appimage.ErrIncompatible,
			"the application is on the python:slim line, the new base is static:distroless"},
		{"another tier", f.rebaseArgs(a, built.Reference, f.dev, "", "--allow-dev-base-unsafe"), appimage.ErrIncompatible,
			"the application is on the python:slim line, the new base is python:dev"},
		{"dev base", f.rebaseArgs(a, built.Reference, f.dev, ""), appimage.ErrBuildOnlyBase, "build-time tier"},
		{"missing architecture", f.rebaseArgs(a, built.Reference, pr.Refs[0], ""), appimage.ErrIncompatible, "has no linux/arm64/v8 image"},
		{"app signed by another key", append(f.rebaseArgs(a, built.Reference, f.slimV2, ""), "--app-key", f.pub), appimage.ErrAppSignature,
			"application image signature not verified"},
		{"no boundary", append(f.rebaseArgs(a, f.slimV1, f.slimV2, ""), "--app-key", f.pub), appimage.ErrNoBoundary, "image has no app boundary"},
		{"unsigned new base", f.rebaseArgs(a, built.Reference, copyIndex(t, f.slimV2, ns+"/unsigned/python"), ""), appimage.ErrBaseRejected, "new base"},
	} {
		to := ns + "/refused-rebase/" + strings.ReplaceAll(c.name, " ", "-")
		for i, arg := range c.args {
			if arg == "--to" {
				c.args[i+1] = to
			}
		}
		code, out, errs := run(t, append([]string{"-f", f.fleet}, c.args...)...)
		if code != ExitFailed || !strings.Contains(errs, c.why.Error()) || !strings.Contains(errs, c.what) {
			t.Errorf("%s: exit %d, want %d with %q and %q\nstderr: %s", c.name, code, ExitFailed, c.why, c.what, tail(errs, 2000))
		}
		if rep := decode[appRebaseReport](t, out); !strings.Contains(rep.Refused, c.why.Error()) || len(rep.Attached) != 0 {
			t.Errorf("%s: report refused=%q attached=%d", c.name, rep.Refused, len(rep.Attached))
		}
		noManifests(t, to)
	}
}

// TestAppRebaseKeylessApplicationIdentity: an application signed keyless in
// its repository's workflow rebases when its exact identity is given, is
// refused under another repository's, and rebase wants a signer for it.
func TestAppRebaseKeylessApplicationIdentity(t *testing.T) {
	f := publishedAppFleet(t)
	ns := namespace(t, f.host)
	a := f.signedApp(t, ns)
	built := a.built
	ss, err := sigtest.New()
	if err != nil {
		t.Fatal(err)
	}
	id := sigtest.GitHubIdentity{Repository: "acme/server", Workflow: ".github/workflows/release.yml", Ref: "refs/heads/main"}
	ref, err := oci.RequireDigest(built.Reference)
	if err != nil {
		t.Fatal(err)
	}
	store, err := attest.Open(ref, attest.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	idx := registryIndex(t, built.Reference)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := idx.MediaType()
	size, _ := idx.Size()
	for _, d := range append([]v1.Descriptor{{MediaType: mt, Digest: built.Digest, Size: size}}, im.Manifests...) {
		st, err := attest.SignatureStatement(ref.Repo.String(), d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ss.SignStatement(context.Background(), id, st)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Attach(context.Background(), v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, b, attest.PredicateSignature); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(t.TempDir(), "trusted_root.json")
	writeFile(t, root, string(ss.TrustedRootJSON()))
	args := func(repo string) []string {
		return []string{"app", "rebase", built.Reference, "--onto", f.slimV2, "--base-key", f.pub, "--key", a.key.Path(),
			"--app-certificate-identity", id.BuildSignerURI(), "--app-source-repository", repo, "--app-source-ref", "refs/heads/main",
			"--trusted-root", root, "--without-sct-unsafe", "--to", ns + "/apps/keyless", "--json"}
	}
	out, _ := f.cli(t, ExitOK, args("https://github.com/acme/server")...)
	if rb := decode[appRebaseReport](t, out); rb.AppVerification.Channel("signature").Entries[0].Signer != id.BuildSignerURI() {
		t.Errorf("application signer %+v", rb.AppVerification.Channel("signature").Entries[0])
	}
	_, errs := f.cli(t, ExitFailed, args("https://github.com/acme/other")...)
	if !strings.Contains(errs, appimage.ErrAppSignature.Error()) {
		t.Errorf("another repository: %s", errs)
	}
	_, errs = f.cli(t, ExitUsage, "app", "rebase", built.Reference, "--onto", f.slimV2, "--base-key", f.pub, "--to", ns+"/apps/x")
	if !strings.Contains(errs, "--app-key") {
		t.Errorf("no application signer: %s", errs)
	}
}

func mustRef(t *testing.T, s string) oci.Ref {
	t.Helper()
	r, err := oci.ParseRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAppTeamsGuide runs docs/app-teams.md: app=key blocks in order with
// bash, in one directory holding the fleet's clearcutt.yaml, vex/ and
// exceptions.yaml and the application's app/server.py, with a clearcutt
// binary built from this tree and the application team's own key
// directory; app=keyless blocks in-process against an unreachable
// registry, where every flag must be accepted and only the network fail.
func TestAppTeamsGuide(t *testing.T) {
	goBin := testenv.Need(t, "go", "the Go toolchain")
	testenv.Need(t, "jq", "apt-get install jq")
	testenv.Need(t, "cosign", "scripts/install-tools.sh")
	f := publishedAppFleet(t)
	appRepo := namespace(t, f.host) + "/apps/guide"
	blocks := testenv.DocBlocks(t, filepath.Join(f.repo, "docs/app-teams.md"), "app", "key", "keyless")
	tmp := t.TempDir()
	bin, home, work := filepath.Join(tmp, "bin"), filepath.Join(tmp, "home"), filepath.Join(tmp, "work")
	build := exec.Command(goBin, "build", "-o", filepath.Join(bin, "clearcutt"), ".")
	build.Dir = f.repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.MkdirAll(filepath.Join(work, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(work, "vex"), os.DirFS(filepath.Join(f.repo, "vex"))); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"clearcutt.yaml", "exceptions.yaml"} {
		data, err := os.ReadFile(filepath.Join(f.repo, file))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(work, file), string(data))
	}
	writeFile(t, filepath.Join(work, "app", "server.py"), "#!/bin/python3\nprint('hello from the server')\n")
	if err := os.Chmod(filepath.Join(work, "app", "server.py"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := testenv.CleanEnv(
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
	)
	fleetPrefix := f.host + "/fleet"
	digest := func(ref string) string { _, d, _ := strings.Cut(ref, "@"); return d }
	local := strings.NewReplacer("<fleet>", fleetPrefix, "<base-digest>", digest(f.slimV1), "<candidate-digest>", digest(f.slimV2),
		"<fleet-pub>", f.pub, "<db>", f.db, "<app-repo>", appRepo)
	const unreachable = "127.0.0.1:9"
	offline := strings.NewReplacer("<fleet>", unreachable+"/fleet", "<base-digest>", digest(f.slimV1), "<candidate-digest>", digest(f.slimV2),
		"<app-repo>", unreachable+"/apps/guide", "<app-digest>", digest(f.slimV1))
	placeholder := regexp.MustCompile(`<[a-z][a-z-]*>`)
	counts := map[string]int{}
	for _, b := range blocks {
		counts[b.Mode]++
		switch b.Mode {
		case "key":
			script := local.Replace(b.Script)
			if ph := placeholder.FindString(script); ph != "" {
				t.Fatalf("docs/app-teams.md:%d: unknown placeholder %s", b.Line, ph)
			}
			cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
			cmd.Env, cmd.Dir = env, work
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("docs/app-teams.md:%d: %v\n%s\n%s", b.Line, err, script, tail(string(out), 4000))
			}
		case "keyless":
			for _, c := range strings.Split(strings.ReplaceAll(b.Script, "\\\n", " "), "\n") {
				args := strings.Fields(offline.Replace(c))
				if len(args) == 0 {
					continue
				}
				if args[0] != "clearcutt" || slices.Contains(args, "--key") {
					t.Errorf("docs/app-teams.md:%d: a keyless block runs %q", b.Line, c)
					continue
				}
				if ph := placeholder.FindString(strings.Join(args, " ")); ph != "" {
					t.Fatalf("docs/app-teams.md:%d: unknown placeholder %s", b.Line, ph)
				}
				code, out, errs := run(t, append([]string{"-f", filepath.Join(work, "clearcutt.yaml")}, args[1:]...)...)
				if code != ExitRuntime || !strings.Contains(errs, "connection refused") {
					t.Errorf("docs/app-teams.md:%d: want a network failure offline, got exit %d\n%s\n%s", b.Line, code, errs, out)
				}
			}
		}
	}
	if counts["key"] < 8 || counts["keyless"] < 3 {
		t.Errorf("the guide has %v blocks: fewer than expected, is the fence marker intact?", counts)
	}
	// The guide's rebase kept the application layers and was attested.
	data, err := os.ReadFile(filepath.Join(work, "rebase.json"))
	if err != nil {
		t.Fatal(err)
	}
	rb := decode[appRebaseReport](t, string(data))
	if len(rb.Platforms) != 2 || len(rb.Attached) != 4 || rb.NewBase.Reference != f.slimV2 {
		t.Errorf("the guide's rebase: platforms %d attached %d new base %s", len(rb.Platforms), len(rb.Attached), rb.NewBase.Reference)
	}
}

// The GitHub Actions outputs of the app commands are exactly those the
// contract declares for them, and none while it declares none.
func TestAppStagesFollowTheContract(t *testing.T) {
	reports := map[string]stager{
		"app build": appBuildReport{BuildResult: appimage.BuildResult{Platforms: []appimage.Platform{{Platform: "linux/amd64"}}},
			Reference: "registry.test/app@sha256:" + strings.Repeat("a", 64), Refs: []string{"registry.test/app@sha256:" + strings.Repeat("a", 64)}},
		"app diff-base": appDiffReport{appimage.DiffReport{App: "registry.test/app@sha256:" + strings.Repeat("a", 64), Passed: true, SameLine: true}},
		"app rebase": appRebaseReport{Reference: "registry.test/app@sha256:" + strings.Repeat("b", 64),
			Refs: []string{"registry.test/app@sha256:" + strings.Repeat("b", 64)}},
	}
	for key, r := range reports {
		st, ok := r.stage(key)
		want, declared := gha.Outputs[key]
		if ok != declared {
			t.Errorf("%s: stage given %v, contract declares it %v", key, ok, declared)
			continue
		}
		if !ok {
			continue
		}
		var got []string
		for k := range st.outputs {
			got = append(got, k)
		}
		slices.Sort(got)
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(got, want) || st.summary == "" {
			t.Errorf("%s: outputs %v, contract %v", key, got, want)
		}
		if _, ok := r.stage("verify"); ok {
			t.Errorf("%s report renders the verify stage", key)
		}
	}
}
