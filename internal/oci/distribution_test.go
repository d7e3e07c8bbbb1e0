package oci

import (
	"io"
	"testing"

	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPublishToDistribution pushes to the real Debian docker-registry,
// re-pushes (no blob uploaded), and pulls every image back by digest.
func TestPublishToDistribution(t *testing.T) {
	host := ocitest.StartDistribution(t)
	src, built := layoutSource(t)
	dest, err := ParseRef(host + "/clearcutt/python")
	must(t, err)
	first := publish(t, PublishOptions{Source: src, Dest: dest, Tags: []string{"distroless"}})
	if first.BlobsUploaded != fixtureBlobs || first.BytesUploaded == 0 {
		t.Fatalf("first push: %+v", first)
	}
	second := publish(t, PublishOptions{Source: src, Dest: dest, Tags: []string{"distroless"}})
	if second.BlobsUploaded != 0 || second.BlobsSkipped != fixtureBlobs {
		t.Fatalf("re-push: %+v", second)
	}
	dref, _ := name.NewDigest(host + "/clearcutt/python@" + built.Digest.String())
	idx, err := remote.Index(dref)
	must(t, err)
	if d, _ := idx.Digest(); d != built.Digest {
		t.Fatalf("pulled index %s, want %s", d, built.Digest)
	}
	for _, pi := range built.Images {
		img, err := remote.Image(dref.Context().Digest(pi.Digest.String()))
		must(t, err)
		layers, err := img.Layers()
		must(t, err)
		for i, l := range layers {
			d, err := l.Digest()
			must(t, err)
			if d != pi.Layers[i].Digest {
				t.Errorf("%s layer %d: %s, want %s", pi.Platform, i, d, pi.Layers[i].Digest)
			}
			// Reading the blob verifies its digest against the registry's bytes.
			rc, err := l.Compressed()
			must(t, err)
			_, err = io.Copy(io.Discard, rc)
			must(t, err)
			must(t, rc.Close())
		}
	}
	tag, _ := name.NewTag(host + "/clearcutt/python:distroless")
	desc, err := remote.Head(tag)
	must(t, err)
	if desc.Digest != built.Digest {
		t.Fatalf("tag distroless -> %s, want %s", desc.Digest, built.Digest)
	}
}
