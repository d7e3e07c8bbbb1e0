package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func readIndexJSON(t *testing.T, dir string) v1.IndexManifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	must(t, json.Unmarshal(raw, &im))
	return im
}

func TestWriteLayoutRefName(t *testing.T) {
	s, ms := twoArch(t)
	cache := t.TempDir()
	a := assemble(t, assembleOpts(s, ms, cache))
	o := assembleOpts(s, ms, cache)
	o.SourceDateEpoch = 1
	b := assemble(t, o)
	dir := t.TempDir()
	ctx := context.Background()

	if _, err := WriteLayout(ctx, dir, a.Index, "python:distroless"); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteLayout(ctx, dir, a.Index, "python:distroless"); err != nil {
		t.Fatal(err)
	}
	im := readIndexJSON(t, dir)
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != a.Digest ||
		im.Manifests[0].Annotations[AnnotationRefName] != "python:distroless" || im.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json after two identical writes: %+v", im.Manifests)
	}
	// A new build under the same name replaces the entry; another name adds one.
	if _, err := WriteLayout(ctx, dir, b.Index, "python:distroless"); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteLayout(ctx, dir, a.Index, "python:previous"); err != nil {
		t.Fatal(err)
	}
	im = readIndexJSON(t, dir)
	got := map[string]v1.Hash{}
	for _, d := range im.Manifests {
		got[d.Annotations[AnnotationRefName]] = d.Digest
	}
	if len(im.Manifests) != 2 || got["python:distroless"] != b.Digest || got["python:previous"] != a.Digest {
		t.Fatalf("index.json: %v", got)
	}
	idx, err := ReadLayoutIndex(dir, b.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d != b.Digest {
		t.Fatalf("read back %s, want %s", d, b.Digest)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestWriteLayoutInterruptedKeepsOldIndexJSON(t *testing.T) {
	s, ms := twoArch(t)
	good := assemble(t, assembleOpts(s, ms, t.TempDir()))
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := WriteLayout(ctx, dir, good.Index, "python:distroless"); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "index.json"))

	// An index whose layer blob cannot be read fails midway through the blobs.
	broken := &FileLayer{path: filepath.Join(t.TempDir(), "gone.tar.gz"),
		digest: v1.Hash{Algorithm: "sha256", Hex: hexA}, diffID: v1.Hash{Algorithm: "sha256", Hex: hexA}, size: 10}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{Layer: broken})
	must(t, err)
	bad := mutate.AppendManifests(good.Index, mutate.IndexAddendum{Add: img})
	if _, err := WriteLayout(ctx, dir, bad, "python:distroless"); err == nil {
		t.Fatal("a layout write with an unreadable blob succeeded")
	}
	after, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if !bytes.Equal(before, after) {
		t.Fatal("index.json changed after a failed write")
	}
	// A rerun with readable content completes.
	o := assembleOpts(s, ms, t.TempDir())
	o.SourceDateEpoch = 7
	next := assemble(t, o)
	if _, err := WriteLayout(ctx, dir, next.Index, "python:distroless"); err != nil {
		t.Fatal(err)
	}
	if im := readIndexJSON(t, dir); len(im.Manifests) != 1 || im.Manifests[0].Digest != next.Digest {
		t.Fatalf("after rerun: %+v", im.Manifests)
	}
}
