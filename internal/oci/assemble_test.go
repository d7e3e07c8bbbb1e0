package oci

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/closure"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func assemble(t *testing.T, o AssembleOptions) Result {
	t.Helper()
	r, err := Assemble(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAssembleDeterministic(t *testing.T) {
	s, ms := twoArch(t)
	a := assemble(t, assembleOpts(s, ms, t.TempDir()))
	// A fresh cache and the manifests in the other order: same digest.
	b := assemble(t, assembleOpts(s, []*closure.Manifest{ms[1], ms[0]}, t.TempDir()))
	if a.Digest != b.Digest {
		t.Fatalf("two assemblies differ: %s vs %s", a.Digest, b.Digest)
	}
	if a.LayersBuilt == 0 || b.LayersBuilt == 0 {
		t.Fatalf("expected fresh builds, got %d and %d", a.LayersBuilt, b.LayersBuilt)
	}
	o := assembleOpts(s, ms, t.TempDir())
	o.SourceDateEpoch++
	c := assemble(t, o)
	if c.Digest == a.Digest {
		t.Fatal("a different SOURCE_DATE_EPOCH gave the same digest")
	}
}

func TestAssembleIndexShape(t *testing.T) {
	s, ms := twoArch(t)
	r := assemble(t, assembleOpts(s, ms, t.TempDir()))
	im, err := r.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
		t.Fatalf("index %s with %d manifests", im.MediaType, len(im.Manifests))
	}
	want := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}}
	for i, d := range im.Manifests {
		if d.MediaType != types.OCIManifestSchema1 || d.Platform == nil || !d.Platform.Equals(want[i]) {
			t.Errorf("manifest %d: %s %+v", i, d.MediaType, d.Platform)
		}
		img, err := r.Index.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != want[i].Architecture || cf.Variant != want[i].Variant || cf.OS != "linux" {
			t.Errorf("config platform %s/%s/%s", cf.OS, cf.Architecture, cf.Variant)
		}
		if !cf.Created.Time.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("created = %v", cf.Created)
		}
		if cf.Config.User != "65532:65532" || cf.Config.Entrypoint[0] != "/bin/python" || cf.Config.WorkingDir != "/home/nonroot" {
			t.Errorf("config %+v", cf.Config)
		}
		l := cf.Config.Labels
		if l[LabelRuntime] != "python" || l[LabelTier] != "distroless" || l[LabelClosureRoot] != ms[i].Root ||
			l["org.opencontainers.image.source"] != "https://example.com/fleet" || l[LabelCreated] != "2023-11-14T22:13:20Z" {
			t.Errorf("labels %v", l)
		}
		m, _ := img.Manifest()
		if len(cf.History) != len(m.Layers) || len(cf.RootFS.DiffIDs) != len(m.Layers) || len(m.Layers) != 4 {
			t.Errorf("%d history, %d diff ids, %d layers (want 4)", len(cf.History), len(cf.RootFS.DiffIDs), len(m.Layers))
		}
		for _, ld := range m.Layers {
			if ld.MediaType != types.OCILayer || ld.Annotations[AnnotationLayer] == "" {
				t.Errorf("layer descriptor %+v", ld)
			}
		}
		if r.Images[i].Digest != d.Digest {
			t.Errorf("Result.Images[%d] = %s, index has %s", i, r.Images[i].Digest, d.Digest)
		}
	}
}

// readTar returns the headers and contents of a layer.
func readTar(t *testing.T, l v1.Layer) ([]*tar.Header, map[string]string) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var hs []*tar.Header
	data := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hs, data
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		data[h.Name] = string(b)
		hs = append(hs, h)
	}
}

func TestLayerTarHeaders(t *testing.T) {
	f, m := newFixture(t, "amd64")
	r := assemble(t, assembleOpts(f.store, []*closure.Manifest{m}, t.TempDir()))
	layers, err := r.Images[0].Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	// Layer order: cacert, libfoo, runtime (dependencies first), root.
	wantFirst := []string{f.cacert.Path, f.libfoo.Path, f.runtime.Path}
	for i, p := range wantFirst {
		if r.Images[0].Layers[i].Describe != p {
			t.Errorf("layer %d = %s, want %s", i, r.Images[0].Layers[i].Describe, p)
		}
	}
	epoch := time.Unix(1700000000, 0)
	byName := map[string]*tar.Header{}
	for li, l := range layers {
		hs, _ := readTar(t, l)
		if li < len(layers)-1 && (hs[0].Name != "nix/" || hs[1].Name != "nix/store/") {
			t.Errorf("layer %d does not start with the store parents: %s, %s", li, hs[0].Name, hs[1].Name)
		}
		seen := map[string]bool{}
		for _, h := range hs {
			byName[h.Name] = h
			if !h.ModTime.Equal(epoch) || h.Uname != "" || h.Gname != "" || len(h.PAXRecords) != 0 {
				t.Errorf("%s: mtime %v uname %q pax %v", h.Name, h.ModTime, h.Uname, h.PAXRecords)
			}
			parent := filepath.Dir(filepath.Clean(h.Name)) + "/"
			if parent != "./" && !seen[parent] {
				t.Errorf("%s comes before its parent %s", h.Name, parent)
			}
			seen[h.Name] = true
		}
	}
	check := func(name string, mode int64, uid int, typ byte) {
		t.Helper()
		h, ok := byName[name]
		if !ok {
			t.Errorf("%s missing", name)
			return
		}
		if h.Mode != mode || h.Uid != uid || h.Typeflag != typ {
			t.Errorf("%s: mode %o uid %d type %c, want %o %d %c", name, h.Mode, h.Uid, h.Typeflag, mode, uid, typ)
		}
	}
	rt := f.runtime.Path[1:]
	check(rt+"/", 0o555, 0, tar.TypeDir)
	check(rt+"/bin/python3", 0o555, 0, tar.TypeReg)
	check(rt+"/lib/python3.12/os.py", 0o444, 0, tar.TypeReg)
	check(rt+"/bin/python", 0o777, 0, tar.TypeSymlink)
	check("nix/", 0o755, 0, tar.TypeDir)
	check("nix/store/", 0o755, 0, tar.TypeDir)
	check("tmp/", 0o1777, 0, tar.TypeDir)
	check("home/nonroot/", 0o755, 65532, tar.TypeDir)
	check("etc/passwd", 0o444, 0, tar.TypeReg)
	check("bin/python", 0o777, 0, tar.TypeSymlink)
	if byName["bin/python"].Linkname != f.runtime.Path+"/bin/python" {
		t.Errorf("bin/python -> %s", byName["bin/python"].Linkname)
	}
	if _, ok := byName[f.root.Path[1:]+"/"]; ok {
		t.Error("the root store path is copied under /nix/store although nothing references it")
	}
}

func TestAddingPathKeepsOtherLayerDigests(t *testing.T) {
	f, m := newFixture(t, "amd64")
	cache := t.TempDir()
	before := assemble(t, assembleOpts(f.store, []*closure.Manifest{m}, cache))
	extra := f.store.add("zlib-1.3", nil, entry{rel: "lib/libz.so.1", content: "zlib"})
	m2 := manifest("amd64", f.root, f.cacert, f.libfoo, f.runtime, extra)
	m2.Permissions = m.Permissions
	// A fresh cache proves the bytes, not the cache, are stable.
	after := assemble(t, assembleOpts(f.store, []*closure.Manifest{m2}, t.TempDir()))
	got := map[string]v1.Hash{}
	for _, l := range after.Images[0].Layers {
		got[l.Describe] = l.Digest
	}
	for _, l := range before.Images[0].Layers {
		if l.Kind == KindStorePath && got[l.Describe] != l.Digest {
			t.Errorf("layer %s changed: %s -> %s", l.Describe, l.Digest, got[l.Describe])
		}
	}
	if len(after.Images[0].Layers) != len(before.Images[0].Layers)+1 {
		t.Errorf("%d layers after adding one path, want %d", len(after.Images[0].Layers), len(before.Images[0].Layers)+1)
	}
}

func TestOverBudgetBucketsAreStable(t *testing.T) {
	s := newStore(t)
	root := s.add("root", nil, entry{rel: "etc/os-release", content: "ID=clearcutt\n"})
	var ps []closure.StorePath
	for i := range 12 {
		ps = append(ps, s.add("pkg"+string(rune('a'+i)), nil, entry{rel: "share/x", content: string(rune('a' + i))}))
	}
	o := assembleOpts(s, []*closure.Manifest{manifest("amd64", root, ps...)}, t.TempDir())
	o.LayerBudget = 8 // 2 buckets, 5 single-path layers, the root layer
	before := assemble(t, o)
	if n := len(before.Images[0].Layers); n != 8 {
		t.Fatalf("%d layers, want 8", n)
	}
	small := s.add("pkg-tiny", nil)
	small.NarSize = 1
	o.Manifests = []*closure.Manifest{manifest("amd64", root, append(ps, small)...)}
	after := assemble(t, o)
	old := map[v1.Hash]bool{}
	for _, l := range before.Images[0].Layers {
		old[l.Digest] = true
	}
	changed := 0
	for _, l := range after.Images[0].Layers {
		if !old[l.Digest] {
			changed++
			if l.Kind != KindBucket || l.Bucket != BucketOf(small.Path, 2) {
				t.Errorf("unexpected changed layer %s", l.Describe)
			}
		}
	}
	if changed != 1 {
		t.Fatalf("%d layers changed, want exactly the one bucket", changed)
	}
}

func TestCacheHitDoesNotRebuild(t *testing.T) {
	s, ms := twoArch(t)
	cache := t.TempDir()
	first := assemble(t, assembleOpts(s, ms, cache))
	if first.CacheHits != 0 || first.LayersBuilt != 8 {
		t.Fatalf("first run: %d hits, %d built", first.CacheHits, first.LayersBuilt)
	}
	stamps := blobTimes(t, cache)
	second := assemble(t, assembleOpts(s, ms, cache))
	if second.LayersBuilt != 0 || second.CacheHits != 8 {
		t.Fatalf("second run: %d hits, %d built", second.CacheHits, second.LayersBuilt)
	}
	if second.Digest != first.Digest {
		t.Fatal("cached assembly has another digest")
	}
	for f, mt := range blobTimes(t, cache) {
		if !stamps[f].Equal(mt) {
			t.Errorf("%s was rewritten", f)
		}
	}
}

func blobTimes(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, _ := e.Info()
		out[e.Name()] = fi.ModTime()
	}
	return out
}

func TestCorruptCacheEntryIsRebuilt(t *testing.T) {
	s, ms := twoArch(t)
	cache := t.TempDir()
	first := assemble(t, assembleOpts(s, ms[:1], cache))
	blobs, _ := filepath.Glob(filepath.Join(cache, "*.tar.gz"))
	if len(blobs) != 4 {
		t.Fatalf("%d cached blobs, want 4", len(blobs))
	}
	must(t, os.WriteFile(blobs[0], []byte("corrupt"), 0o644))
	second := assemble(t, assembleOpts(s, ms[:1], cache))
	if second.LayersBuilt != 1 || second.CacheHits != 3 {
		t.Fatalf("after corruption: %d built, %d hits; want 1, 3", second.LayersBuilt, second.CacheHits)
	}
	if second.Digest != first.Digest {
		t.Fatal("rebuilt layer differs")
	}
	if tmp, _ := filepath.Glob(filepath.Join(cache, "*.tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}
