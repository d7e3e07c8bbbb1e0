package oci

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/closure"
)

// perArch assembles every manifest alone, as native runners do.
func perArch(t *testing.T, s *fakeStore, ms []*closure.Manifest) []Result {
	t.Helper()
	var out []Result
	for _, m := range ms {
		out = append(out, assemble(t, assembleOpts(s, []*closure.Manifest{m}, t.TempDir())))
	}
	return out
}

func TestAssembleAloneGivesTheSamePlatformImage(t *testing.T) {
	s, ms := twoArch(t)
	both := assemble(t, assembleOpts(s, ms, t.TempDir()))
	alone := perArch(t, s, ms)
	for i, r := range alone {
		if len(r.Images) != 1 {
			t.Fatalf("%s alone: %d images", ms[i].Arch, len(r.Images))
		}
		got, want := r.Images[0], both.Images[i]
		if got.Digest != want.Digest {
			t.Errorf("%s: digest %s alone, %s together", ms[i].Arch, got.Digest, want.Digest)
		}
		gm, _ := got.Image.RawManifest()
		wm, _ := want.Image.RawManifest()
		if string(gm) != string(wm) {
			t.Errorf("%s: manifests differ:\n%s\n%s", ms[i].Arch, gm, wm)
		}
		// The one-platform index carries the same annotations as the
		// index over both.
		gi, _ := r.Index.IndexManifest()
		wi, _ := both.Index.IndexManifest()
		if len(gi.Manifests) != 1 || gi.Manifests[0].Digest != want.Digest || firstDiff(gi.Annotations, wi.Annotations) != "" {
			t.Errorf("%s: one-platform index %+v, index over both has annotations %v", ms[i].Arch, gi, wi.Annotations)
		}
	}
	idx, err := NewIndex([]PlatformImage{alone[1].Images[0], alone[0].Images[0]})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d != both.Digest {
		t.Fatalf("index over the images assembled alone is %s, assemble of both gave %s", d, both.Digest)
	}
}

func firstDiff(a, b map[string]string) string {
	k, _ := firstDifference(a, b)
	return k
}

func TestOverlayAssembledAloneGivesTheSameIndex(t *testing.T) {
	base, s, ms := overlaySetup(t)
	opts := func(ms []*closure.Manifest) AssembleOptions {
		o := assembleOpts(s, ms, t.TempDir())
		o.Base = &Base{Ref: "registry.example.com/fleet/base@" + base.Digest.String(), Index: base.Index}
		return o
	}
	both := assemble(t, opts(ms))
	var ims []PlatformImage
	for _, m := range ms {
		ims = append(ims, assemble(t, opts([]*closure.Manifest{m})).Images[0])
	}
	idx, err := NewIndex(ims)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d != both.Digest {
		t.Fatalf("overlay: index over images assembled alone is %s, together %s", d, both.Digest)
	}
	im, _ := idx.IndexManifest()
	if _, ok := im.Annotations[LabelBaseDigest]; ok || im.Annotations[LabelBaseName] == "" {
		t.Errorf("overlay index annotations %v: want the base name, not the per-platform base digest", im.Annotations)
	}
}

func TestNewIndexRefusesInconsistentImages(t *testing.T) {
	s, ms := twoArch(t)
	alone := perArch(t, s, ms)
	amd, arm := alone[0].Images[0], alone[1].Images[0]

	relabel := func(pi PlatformImage, k, v string) PlatformImage {
		cf, err := pi.Image.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Config.Labels[k] = v
		img, err := mutate.ConfigFile(pi.Image, cf)
		if err != nil {
			t.Fatal(err)
		}
		pi.Image = img
		return pi
	}
	wrongPlatform := arm
	wrongPlatform.Platform = v1.Platform{OS: "linux", Architecture: "arm64"}
	for name, c := range map[string]struct {
		ims  []PlatformImage
		want string
	}{
		"duplicate arch":   {[]PlatformImage{amd, amd}, "two images for architecture amd64"},
		"other runtime":    {[]PlatformImage{amd, relabel(arm, LabelRuntime, "node")}, "python/distroless"},
		"other tier":       {[]PlatformImage{amd, relabel(arm, LabelTier, "slim")}, "python/slim"},
		"other revision":   {[]PlatformImage{amd, relabel(arm, "org.opencontainers.image.revision", "abc")}, "label org.opencontainers.image.revision"},
		"platform mislaid": {[]PlatformImage{amd, wrongPlatform}, "config platform linux/arm64/v8"},
		"empty":            {nil, "no platform images"},
	} {
		_, err := NewIndex(c.ims)
		if !errors.Is(err, ErrInconsistentImages) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInconsistentImages mentioning %q", name, err, c.want)
		}
	}
}

func TestOpenPlatformImageFromLayoutAndRegistry(t *testing.T) {
	ctx := context.Background()
	s, ms := twoArch(t)
	both := assemble(t, assembleOpts(s, ms, t.TempDir()))
	alone := perArch(t, s, ms)

	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	// amd64: a one-platform index in a layout, named by the index digest.
	// arm64: the same in a registry, named by the platform manifest digest.
	dir := t.TempDir()
	if _, err := WriteLayout(ctx, dir, alone[0].Index, "python:distroless"); err != nil {
		t.Fatal(err)
	}
	amdRef, _ := RequireDigest("oci:" + dir + "@" + alone[0].Digest.String())
	armRepo, _ := ParseRef(host + "/stage/python")
	if _, err := PublishIndex(ctx, alone[1].Index, PublishOptions{Dest: armRepo}); err != nil {
		t.Fatal(err)
	}
	armRef, _ := RequireDigest(host + "/stage/python@" + alone[1].Images[0].Digest.String())

	var ims []PlatformImage
	for _, r := range []Ref{armRef, amdRef} {
		pi, err := OpenPlatformImage(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		ims = append(ims, pi)
	}
	if ims[0].Digest != both.Images[1].Digest || !ims[0].Platform.Equals(both.Images[1].Platform) {
		t.Errorf("arm64 from the registry: %s %s", ims[0].Digest, ims[0].Platform.String())
	}
	idx, err := NewIndex(ims)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d != both.Digest {
		t.Fatalf("index over a layout image and a registry image is %s, assemble of both gave %s", d, both.Digest)
	}

	// Published to another repository, the index is stored by digest with
	// every blob, and its tag moves.
	dest, _ := ParseRef(host + "/fleet/python")
	res, err := PublishIndex(ctx, idx, PublishOptions{Dest: dest, Tags: []string{"distroless"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != both.Digest || len(res.Platforms) != 2 || len(res.Refs) != 2 {
		t.Fatalf("publish: %+v", res)
	}
	got, err := remote.Index(dest.DigestRef(both.Digest))
	if err != nil {
		t.Fatal(err)
	}
	for _, pi := range both.Images {
		img, err := got.Image(pi.Digest)
		if err != nil {
			t.Fatal(err)
		}
		ls, _ := img.Layers()
		for _, l := range ls {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatalf("%s: layer not stored: %v", pi.Platform.String(), err)
			}
			rc.Close()
		}
	}
	tagDesc, err := remote.Head(dest.Repo.Tag("distroless"))
	if err != nil || tagDesc.Digest != both.Digest {
		t.Fatalf("tag distroless: %v %v", tagDesc, err)
	}

	// The image inside the layout is found by its own digest too.
	pi, err := OpenPlatformImage(ctx, Ref{Layout: dir, Digest: alone[0].Images[0].Digest.String()})
	if err != nil || pi.Digest != both.Images[0].Digest {
		t.Fatalf("platform manifest from the layout: %v %v", pi.Digest, err)
	}
}

func TestOpenPlatformImageRefusesMultiPlatformIndexAndUnknownDigest(t *testing.T) {
	ctx := context.Background()
	src, _ := layoutSource(t)
	_, err := OpenPlatformImage(ctx, src)
	if !errors.Is(err, ErrInconsistentImages) || !strings.Contains(err.Error(), "index has 2 entries") {
		t.Errorf("two-platform index: %v", err)
	}
	missing := Ref{Layout: src.Layout, Digest: "sha256:" + strings.Repeat("0", 64)}
	if _, err := OpenPlatformImage(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown digest: %v", err)
	}
	if _, err := OpenPlatformImage(ctx, Ref{Layout: src.Layout}); !errors.Is(err, ErrNotByDigest) {
		t.Errorf("no digest: %v", err)
	}
}

// An index entry made elsewhere may carry annotations or other descriptor
// fields, and a registry image reports the descriptor it was found by; the
// combined index is computed from the image alone.
func TestNewIndexIgnoresTheDescriptorAnImageWasFoundBy(t *testing.T) {
	ctx := context.Background()
	s, ms := twoArch(t)
	both := assemble(t, assembleOpts(s, ms, t.TempDir()))
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	var ims []PlatformImage
	for _, pi := range both.Images {
		p := pi.Platform
		idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: pi.Image, Descriptor: v1.Descriptor{
			Platform: &p, Annotations: map[string]string{"com.example.runner": "native-" + p.Architecture},
		}})
		repo, _ := ParseRef(host + "/runner/" + p.Architecture)
		res, err := PublishIndex(ctx, idx, PublishOptions{Dest: repo})
		if err != nil {
			t.Fatal(err)
		}
		repo.Digest = res.Digest.String()
		got, err := OpenPlatformImage(ctx, repo)
		if err != nil {
			t.Fatal(err)
		}
		ims = append(ims, got)
	}
	idx, err := NewIndex(ims)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d != both.Digest {
		im, _ := idx.IndexManifest()
		t.Fatalf("index %s, want %s: %+v", d, both.Digest, im.Manifests)
	}
}
