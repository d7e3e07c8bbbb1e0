package appimage

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/verify"
)

func TestParseArtifact(t *testing.T) {
	for in, want := range map[string]Artifact{
		"dist":                   {Path: "dist"},
		"linux/arm64=dist/arm64": {Path: "dist/arm64", Platform: "linux/arm64"},
		"linux/arm/v7=a=b":       {Path: "a=b", Platform: "linux/arm/v7"},
		"build/x=1":              {Path: "build/x=1"},
	} {
		got, err := ParseArtifact(in)
		if err != nil || got != want {
			t.Errorf("ParseArtifact(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "linux/=x", "linux/arm64=", "linux/arm/v7/x=y"} {
		if _, err := ParseArtifact(in); !errors.Is(err, ErrBadOptions) {
			t.Errorf("ParseArtifact(%q): %v, want ErrBadOptions", in, err)
		}
	}
}

func TestCleanDestAndConfig(t *testing.T) {
	for _, d := range []string{"/", "app", "/app/", "/a/../app", ""} {
		if _, err := cleanDest(d); !errors.Is(err, ErrBadOptions) {
			t.Errorf("cleanDest(%q): %v", d, err)
		}
	}
	if d, err := cleanDest("/srv/app"); err != nil || d != "/srv/app" {
		t.Errorf("cleanDest(/srv/app) = %q, %v", d, err)
	}
	for _, c := range []Config{
		{Env: []string{"NOVALUE"}},
		{Env: []string{"A=1", "A=2"}},
		{Labels: map[string]string{LabelBaseLayers: "1"}},
		{Labels: map[string]string{oci.LabelBaseName: "x"}},
		{Entrypoint: []string{""}},
		{Cmd: []string{}},
	} {
		if err := c.Validate(); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// layerID is a layer's digest, diff_id and size.
func layerID(l *appLayer) string {
	d, _ := l.Digest()
	diff, _ := l.DiffID()
	n, _ := l.Size()
	return fmt.Sprintf("%s %s %d", d, diff, n)
}

func layerHeaders(t *testing.T, l *appLayer) []*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	tr := tar.NewReader(io.TeeReader(rc, h))
	var out []*tar.Header
	for {
		hd, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, hd)
	}
	io.Copy(io.Discard, rc)
	diffID, _ := l.DiffID()
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID.String() {
		t.Errorf("diff_id %s, uncompressed bytes hash to %s", diffID, got)
	}
	return out
}

// A layer depends on the files' contents and the executable bit only: the
// host's modes, times and directory order do not reach it.
func TestBuildLayerIsReproducibleAndNormalised(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "dist")
	for p, c := range map[string]string{"bin/server": "#!/bin/sh\n", "static/b.css": "b", "static/a.css": "a"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, p), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "bin/server"), 0o4750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bin/server", filepath.Join(src, "run")); err != nil {
		t.Fatal(err)
	}
	spec := layerSpec{src: src, dest: "/srv/app", uid: 65532, gid: 65532, epoch: time.Unix(1700000000, 0).UTC()}
	first, err := buildLayer(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	hs := layerHeaders(t, first)
	var got []string
	for _, h := range hs {
		got = append(got, h.Name)
		if !h.ModTime.Equal(spec.epoch) || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %s uname %q gname %q", h.Name, h.ModTime, h.Uname, h.Gname)
		}
		wantMode, owned := map[string]int64{"srv/": 0o755, "srv/app/bin/server": 0o755, "srv/app/run": 0o777,
			"srv/app/static/a.css": 0o644}[h.Name], h.Name != "srv/"
		if wantMode == 0 {
			wantMode = map[byte]int64{tar.TypeDir: 0o755, tar.TypeReg: 0o644}[h.Typeflag]
		}
		if h.Mode != wantMode || owned != (h.Uid == 65532 && h.Gid == 65532) || !owned && h.Uid != 0 {
			t.Errorf("%s: mode %o uid %d gid %d", h.Name, h.Mode, h.Uid, h.Gid)
		}
	}
	want := []string{"srv/", "srv/app/", "srv/app/bin/", "srv/app/bin/server", "srv/app/run", "srv/app/static/", "srv/app/static/a.css", "srv/app/static/b.css"}
	if !slices.Equal(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	if !slices.Equal(first.paths, []string{"/srv/app/bin/server", "/srv/app/run", "/srv/app/static/a.css", "/srv/app/static/b.css"}) {
		t.Errorf("paths %v", first.paths)
	}

	// Other host modes and times, same executable bit: the same bytes.
	later := time.Now().Add(time.Hour)
	for _, p := range []string{"bin/server", "static/a.css", "static"} {
		if err := os.Chtimes(filepath.Join(src, p), later, later); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "bin/server"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "static/a.css"), 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := buildLayer(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	if layerID(second) != layerID(first) {
		t.Errorf("second build %s, first %s", layerID(second), layerID(first))
	}
	// Content, the executable bit, the owner and the epoch do change it.
	if err := os.Chmod(filepath.Join(src, "static/a.css"), 0o744); err != nil {
		t.Fatal(err)
	}
	firstDigest, _ := first.Digest()
	for name, s := range map[string]layerSpec{"mode": spec, "owner": {src: src, dest: spec.dest, uid: 1000, gid: 1000, epoch: spec.epoch}} {
		l, err := buildLayer(dir, s)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := l.Digest(); d == firstDigest {
			t.Errorf("a changed %s gives the same layer", name)
		}
	}

	// A single file goes under the destination by its name.
	one, err := buildLayer(dir, layerSpec{src: filepath.Join(src, "bin/server"), dest: "/app", uid: 65532, gid: 65532, epoch: spec.epoch})
	if err != nil {
		t.Fatal(err)
	}
	if got := layerHeaders(t, one); len(got) != 2 || got[0].Name != "app/" || got[1].Name != "app/server" || got[1].Mode != 0o755 {
		t.Errorf("single file layer %+v", got)
	}

	// A named pipe cannot be carried.
	if err := syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := buildLayer(dir, spec); !errors.Is(err, ErrBadArtifact) || !strings.Contains(err.Error(), "pipe") {
		t.Errorf("a fifo: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "app-layer-*"))
	if len(left) != 5 {
		t.Errorf("layer files %d, want the 5 built (the failed one removed)", len(left))
	}
}

func TestReadBoundaryChecksTheLabels(t *testing.T) {
	base := &v1.ConfigFile{Config: v1.Config{User: "65532:65532", Env: []string{"PATH=/bin"}, Entrypoint: []string{"/bin/python3"},
		Labels: map[string]string{oci.LabelRuntime: "python", oci.LabelTier: "slim", "org.opencontainers.image.title": "python-slim"}}}
	ids := []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}, {Algorithm: "sha256", Hex: strings.Repeat("2", 64)}}
	appID := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("3", 64)}
	c := Config{Entrypoint: []string{"/app/server"}, Env: []string{"PATH=/app/bin:/bin", "PORT=8080"}, WorkingDir: "/app",
		Labels: map[string]string{"org.opencontainers.image.source": "https://github.com/acme/server"}}
	b := Boundary{BaseLayers: 2, TopDiffID: ids[1], BaseDigest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("4", 64)},
		BaseName: "registry.test/fleet/python@sha256:" + strings.Repeat("5", 64), Config: c}
	cf, err := appConfig(base, c, time.Unix(0, 0).UTC(), b)
	if err != nil {
		t.Fatal(err)
	}
	cf.RootFS.DiffIDs = append(slices.Clone(ids), appID)
	if !slices.Equal(cf.Config.Env, []string{"PATH=/app/bin:/bin", "PORT=8080"}) || cf.Config.User != "65532:65532" ||
		cf.Config.Labels["org.opencontainers.image.title"] != "" || cf.Config.Labels[oci.LabelRuntime] != "python" || cf.Config.Cmd != nil {
		t.Fatalf("config %+v", cf.Config)
	}
	got, err := ReadBoundary(cf)
	if err != nil {
		t.Fatal(err)
	}
	if got.BaseLayers != 2 || got.TopDiffID != ids[1] || got.BaseDigest != b.BaseDigest || got.BaseName != b.BaseName ||
		!slices.Equal(got.Config.Env, c.Env) || got.Config.Labels["org.opencontainers.image.source"] != "https://github.com/acme/server" {
		t.Errorf("boundary %+v", got)
	}
	for name, mutateCF := range map[string]func(*v1.ConfigFile){
		"no labels":          func(cf *v1.ConfigFile) { delete(cf.Config.Labels, LabelBaseLayers) },
		"top layer moved":    func(cf *v1.ConfigFile) { cf.Config.Labels[LabelBaseLayers] = "1" },
		"no app layer":       func(cf *v1.ConfigFile) { cf.RootFS.DiffIDs = ids },
		"entrypoint changed": func(cf *v1.ConfigFile) { cf.Config.Entrypoint = []string{"/bin/sh"} },
		"env dropped":        func(cf *v1.ConfigFile) { cf.Config.Env = []string{"PATH=/bin"} },
		"config unreadable":  func(cf *v1.ConfigFile) { cf.Config.Labels[LabelConfig] = `{"user":"0"}` },
		"base by tag":        func(cf *v1.ConfigFile) { cf.Config.Labels[oci.LabelBaseName] = "registry.test/fleet/python:slim" },
	} {
		bad := cf.DeepCopy()
		mutateCF(bad)
		if _, err := ReadBoundary(bad); !errors.Is(err, ErrNoBoundary) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func spdx(pkgs ...[3]string) []byte {
	var ps []map[string]any
	for _, p := range pkgs {
		e := map[string]any{"name": p[0], "versionInfo": p[1]}
		if p[2] == "CONTAINER" {
			e["primaryPackagePurpose"] = "CONTAINER"
		} else if p[2] != "" {
			e["externalRefs"] = []map[string]string{{"referenceType": "purl", "referenceLocator": p[2]}}
		}
		ps = append(ps, e)
	}
	b, _ := json.Marshal(map[string]any{"spdxVersion": "SPDX-2.3", "packages": ps})
	return b
}

func vulns(results ...[5]string) []byte {
	var rs []map[string]any
	for _, r := range results {
		rs = append(rs, map[string]any{"id": r[0], "severity": []map[string]string{{"method": "grype", "score": r[4]}},
			"annotations": []map[string]any{{"package": r[1], "version": r[2], "status": r[3]}}})
	}
	b, _ := json.Marshal(map[string]any{"scanner": map[string]any{"uri": "grype", "result": rs}})
	return b
}

func TestDiffSBOMsAndVulns(t *testing.T) {
	before := spdx([3]string{"image", "sha256:aa", "CONTAINER"}, [3]string{"python3", "3.11.2", "pkg:nix/python3@3.11.2"},
		[3]string{"zlib", "1.2.13", "pkg:nix/zlib@1.2.13?arch=x86_64"}, [3]string{"expat", "2.5.0", "pkg:nix/expat@2.5.0"},
		[3]string{"openssl", "3.0.22", "pkg:nix/openssl@3.0.22"})
	after := spdx([3]string{"image", "sha256:bb", "CONTAINER"}, [3]string{"python3", "3.11.9", "pkg:nix/python3@3.11.9"},
		[3]string{"zlib", "1.2.13", "pkg:nix/zlib@1.2.13"}, [3]string{"tzdata", "2026f", "pkg:nix/tzdata@2026f"},
		[3]string{"openssl", "3.0.22", "pkg:nix/openssl@3.0.22"}, [3]string{"requests", "2.31.0", "pkg:pypi/requests@2.31.0"})
	d, err := DiffSBOMs(before, after)
	if err != nil {
		t.Fatal(err)
	}
	names := func(cs []PackageChange) (out []string) {
		for _, c := range cs {
			out = append(out, c.Type+"/"+c.Name+" "+strings.Join(c.Before, ",")+">"+strings.Join(c.After, ","))
		}
		return out
	}
	if !slices.Equal(names(d.Added), []string{"nix/tzdata >2026f", "pypi/requests >2.31.0"}) ||
		!slices.Equal(names(d.Removed), []string{"nix/expat 2.5.0>"}) ||
		!slices.Equal(names(d.Changed), []string{"nix/python3 3.11.2>3.11.9"}) || d.Unchanged != 2 {
		t.Errorf("added %v removed %v changed %v unchanged %d", names(d.Added), names(d.Removed), names(d.Changed), d.Unchanged)
	}
	if _, err := DiffSBOMs([]byte(`{"spdxVersion":"SPDX-3.0"}`), after); err == nil {
		t.Error("an SPDX 3 document was read as 2.x")
	}

	v, err := DiffVulns(
		vulns([5]string{"CVE-1", "python3", "3.11.2", "active", "medium"}, [5]string{"CVE-2", "zlib", "1.2.13", "excepted", "critical"},
			[5]string{"CVE-3", "glibc", "2.36", "suppressed", "high"}, [5]string{"CVE-3", "glibc", "2.35", "active", "high"}),
		vulns([5]string{"CVE-2", "zlib", "1.2.13", "excepted", "critical"}, [5]string{"CVE-3", "glibc", "2.36", "suppressed", "high"},
			[5]string{"CVE-4", "tzdata", "2026f", "active", "low"}))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(vs []VulnChange) (out []string) {
		for _, c := range vs {
			out = append(out, c.ID+" "+c.Package+" "+c.Severity+" "+c.BeforeStatus+">"+c.AfterStatus)
		}
		return out
	}
	if !slices.Equal(ids(v.Fixed), []string{"CVE-1 python3 medium active>"}) || !slices.Equal(ids(v.New), []string{"CVE-4 tzdata low >active"}) ||
		!slices.Equal(ids(v.Still), []string{"CVE-2 zlib critical excepted>excepted", "CVE-3 glibc high active>suppressed"}) {
		t.Errorf("fixed %v new %v still %v", ids(v.Fixed), ids(v.New), ids(v.Still))
	}
	if _, err := DiffVulns([]byte(`{}`), []byte(`{}`)); err == nil {
		t.Error("a predicate without a scanner was read")
	}
}

// signedBase writes a base index (random layers, fleet labels) for archs to
// an OCI layout and signs it with key; it returns the reference.
func signedBase(t *testing.T, dir string, key *attest.KeySigner, runtime, tier, user string, archs ...string) (oci.Ref, v1.ImageIndex) {
	t.Helper()
	var images []oci.PlatformImage
	for _, arch := range archs {
		img, err := random.Image(256, 2)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		cf.Config = v1.Config{User: user, Env: []string{"PATH=/bin"}, Entrypoint: []string{"/bin/" + runtime}, WorkingDir: "/",
			Labels: map[string]string{oci.LabelRuntime: runtime, oci.LabelTier: tier, LabelVersion: "1"}}
		img, err = mutate.ConfigFile(mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON), cf)
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, oci.PlatformImage{Platform: v1.Platform{OS: "linux", Architecture: arch}, Image: img})
	}
	idx, err := oci.NewIndex(images)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := oci.WriteLayout(context.Background(), dir, idx, "")
	if err != nil {
		t.Fatal(err)
	}
	ref := oci.Ref{Layout: dir, Digest: desc.Digest.String()}
	if key != nil {
		store, err := attest.Open(ref, attest.StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := attest.Run(context.Background(), attest.Options{Target: attest.Target{Ref: ref, Index: idx}, Store: store, Signer: key,
			AllowMissingEvidenceUnsafe: true}); err != nil {
			t.Fatal(err)
		}
	}
	return ref, idx
}

type bundles struct{ s attest.Store }

func (b bundles) List(ctx context.Context, d v1.Hash) ([]verify.StoredBundle, error) {
	stored, err := b.s.List(ctx, d)
	var out []verify.StoredBundle
	for _, s := range stored {
		out = append(out, verify.StoredBundle{Digest: s.Digest, PredicateType: s.PredicateType, Bundle: s.Bundle, Created: s.Created, Err: s.Err})
	}
	return out, err
}

// keyVerifier verifies the signature channel of an index in a layout
// against key's public key with internal/verify.
func keyVerifier(t *testing.T, key *attest.KeySigner) Verifier {
	pem, err := os.ReadFile(key.PublicKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, ref oci.Ref, idx v1.ImageIndex) (verify.Report, error) {
		store, err := attest.Open(ref, attest.StoreOptions{})
		if err != nil {
			return verify.Report{}, err
		}
		d, _ := ref.Hash()
		return verify.Run(ctx, verify.Options{Image: ref.String(), Index: idx, IndexDigest: d, Sources: verify.Sources{Bundles: bundles{store}},
			Policy: verify.Policy{PublicKey: pem, RequiredChannels: []verify.Channel{verify.ChannelSignature}}})
	}
}

// Build and Rebase on bases in OCI layouts, verified by signature: a
// rebase gives the image a build on the new base gives, and every
// incompatibility is refused.
func TestBuildAndRebase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fleetKey, err := attest.LoadOrCreateKey(filepath.Join(dir, "fleet.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	appKey, err := attest.LoadOrCreateKey(filepath.Join(dir, "app.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	fleet, apps := keyVerifier(t, fleetKey), keyVerifier(t, appKey)
	v1Ref, v1Idx := signedBase(t, filepath.Join(dir, "v1"), fleetKey, "python", "slim", "65532:65532", "amd64", "arm64")
	v2Ref, v2Idx := signedBase(t, filepath.Join(dir, "v2"), fleetKey, "python", "slim", "65532:65532", "amd64", "arm64")
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "server"), []byte("server"), 0o755); err != nil {
		t.Fatal(err)
	}
	arm := filepath.Join(dir, "arm.so")
	if err := os.WriteFile(arm, []byte("arm"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Entrypoint: []string{"/app/server"}, Env: []string{"PORT=8080"}}
	build := func(ref oci.Ref, idx v1.ImageIndex, arts ...Artifact) (BuildResult, error) {
		return Build(ctx, BuildOptions{Base: ref, BaseIndex: idx, VerifyBase: fleet, Artifacts: arts, Config: cfg,
			SourceDateEpoch: 7, WorkDir: t.TempDir(), BuildOnlyTiers: []string{"dev"}})
	}
	arts := []Artifact{{Path: src}, {Path: arm, Platform: "linux/arm64"}}
	onV1, err := build(v1Ref, v1Idx, arts...)
	if err != nil {
		t.Fatal(err)
	}
	onV2, err := build(v2Ref, v2Idx, arts...)
	if err != nil {
		t.Fatal(err)
	}
	if len(onV1.Platforms) != 2 || len(onV1.Platforms[0].AppLayers) != 1 || len(onV1.Platforms[1].AppLayers) != 2 {
		t.Fatalf("platforms %+v", onV1.Platforms)
	}
	appDesc, err := oci.WriteLayout(ctx, filepath.Join(dir, "app"), onV1.Index, "")
	if err != nil {
		t.Fatal(err)
	}
	appRef := oci.Ref{Layout: filepath.Join(dir, "app"), Digest: appDesc.Digest.String()}
	appIdx := onV1.Index
	rebase := func(onto oci.Ref, ontoIdx v1.ImageIndex, verifyApp Verifier) (RebaseResult, error) {
		return Rebase(ctx, RebaseOptions{App: appRef, AppIndex: appIdx, VerifyApp: verifyApp, Onto: onto, OntoIndex: ontoIdx,
			VerifyBase: fleet, BuildOnlyTiers: []string{"dev"}})
	}
	// Not yet signed by the application's key.
	if _, err := rebase(v2Ref, v2Idx, apps); !errors.Is(err, ErrAppSignature) {
		t.Fatalf("unsigned application: %v", err)
	}
	store, err := attest.Open(appRef, attest.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attest.Run(ctx, attest.Options{Target: attest.Target{Ref: appRef, Index: appIdx}, Store: store, Signer: appKey, AllowMissingEvidenceUnsafe: true}); err != nil {
		t.Fatal(err)
	}
	rb, err := rebase(v2Ref, v2Idx, apps)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Digest != onV2.Digest {
		t.Errorf("rebased %s, built on the new base %s", rb.Digest, onV2.Digest)
	}
	for i, p := range rb.Platforms {
		if p.Before != onV1.Platforms[i].Digest || p.After != onV2.Platforms[i].Digest || !slices.Equal(p.AppLayers, onV1.Platforms[i].AppLayers) ||
			p.OldBase != onV1.Platforms[i].BaseDigest || p.NewBase != onV2.Platforms[i].BaseDigest {
			t.Errorf("%s: %+v", p.Platform, p)
		}
	}
	st, err := rb.Statement("registry.test/app")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := attest.ParseStatement(st)
	if err != nil || parsed.PredicateType != PredicateRebase || !parsed.IsAbout(rb.Digest) {
		t.Fatalf("statement %s: %v", st, err)
	}
	var pred RebasePredicate
	if err := json.Unmarshal(parsed.Predicate, &pred); err != nil || pred.OldBase != v1Ref.String() || pred.NewBase != v2Ref.String() || pred.App != appRef.String() {
		t.Errorf("predicate %+v: %v", pred, err)
	}

	both, amd64 := []string{"amd64", "arm64"}, []string{"amd64"}
	for _, c := range []struct {
		name                 string
		key                  *attest.KeySigner
		runtime, tier, user  string
		arch                 []string
		want                 error
		buildRefusedLikewise bool
	}{
		{"another runtime", fleetKey, "nodejs", "slim", "65532:65532", both, ErrIncompatible, false},
		{"another tier", fleetKey, "python", "distroless", "65532:65532", both, ErrIncompatible, false},
		{"another user", fleetKey, "python", "slim", "1000:1000", both, ErrIncompatible, false},
		{"missing architecture", fleetKey, "python", "slim", "65532:65532", amd64, ErrIncompatible, false},
		{"root base", fleetKey, "python", "slim", "0", both, ErrNotFleetBase, true},
		{"dev base", fleetKey, "python", "dev", "65532:65532", both, ErrBuildOnlyBase, true},
		{"signed by the application", appKey, "python", "slim", "65532:65532", both, ErrBaseRejected, true},
		{"unsigned", nil, "python", "slim", "65532:65532", both, ErrBaseRejected, true},
	} {
		ref, idx := signedBase(t, filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")), c.key, c.runtime, c.tier, c.user, c.arch...)
		if _, err := rebase(ref, idx, apps); !errors.Is(err, c.want) {
			t.Errorf("rebase onto %s: %v, want %v", c.name, err, c.want)
		}
		if _, err := build(ref, idx, Artifact{Path: src}); c.buildRefusedLikewise && !errors.Is(err, c.want) || !c.buildRefusedLikewise && err != nil {
			t.Errorf("build on %s: %v", c.name, err)
		}
	}

	// Artifacts must cover every platform, name only the base's, and not
	// overlap.
	for name, a := range map[string][]Artifact{
		"arm64 only":          {{Path: arm, Platform: "linux/arm64"}},
		"a platform it lacks": {{Path: src}, {Path: arm, Platform: "linux/s390x"}},
		"the same file twice": {{Path: src}, {Path: filepath.Join(src, "server")}},
	} {
		if _, err := build(v1Ref, v1Idx, a...); !errors.Is(err, ErrBadOptions) && !errors.Is(err, ErrBadArtifact) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The application image is no base, and a base is no application.
	if _, err := build(appRef, appIdx, Artifact{Path: src}); !errors.Is(err, ErrBaseRejected) {
		t.Errorf("build on the application image (signed by the application key): %v", err)
	}
	if _, err := Rebase(ctx, RebaseOptions{App: v1Ref, AppIndex: v1Idx, VerifyApp: fleet, Onto: v2Ref, OntoIndex: v2Idx, VerifyBase: fleet}); !errors.Is(err, ErrNoBoundary) {
		t.Errorf("rebase of a base: %v", err)
	}
}
