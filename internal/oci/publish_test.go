package oci

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// layoutSource assembles the two-architecture fixture into a layout and
// returns the by-digest source reference.
func layoutSource(t *testing.T) (Ref, Result) {
	t.Helper()
	s, ms := twoArch(t)
	r := assemble(t, assembleOpts(s, ms, t.TempDir()))
	dir := t.TempDir()
	if _, err := WriteLayout(context.Background(), dir, r.Index, "python:distroless"); err != nil {
		t.Fatal(err)
	}
	src, err := RequireDigest("oci:" + dir + "@" + r.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	return src, r
}

// fixtureBlobs is the number of distinct blobs of the fixture: 4 layers and
// a config per architecture.
const fixtureBlobs = 10

func publish(t *testing.T, o PublishOptions) PublishResult {
	t.Helper()
	if o.Backoff == nil {
		o.Backoff = &remote.Backoff{Duration: 5 * time.Millisecond, Factor: 1, Steps: 5}
	}
	r, err := Publish(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPublishToLayout(t *testing.T) {
	src, built := layoutSource(t)
	dest, _ := ParseRef("oci:" + t.TempDir())
	first := publish(t, PublishOptions{Source: src, Dest: dest, RefName: "python:distroless"})
	if first.Digest != built.Digest || first.BlobsUploaded != fixtureBlobs || first.BlobsSkipped != 0 || first.BytesUploaded == 0 {
		t.Fatalf("first publish: %+v", first)
	}
	if len(first.Platforms) != 2 || first.Platforms["linux/arm64/v8"] != built.Images[1].Digest {
		t.Fatalf("platforms %v", first.Platforms)
	}
	second := publish(t, PublishOptions{Source: src, Dest: dest, RefName: "python:distroless"})
	if second.BlobsUploaded != 0 || second.BlobsSkipped != fixtureBlobs || second.BytesUploaded != 0 {
		t.Fatalf("second publish: %+v", second)
	}
	im := readIndexJSON(t, dest.Layout)
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations[AnnotationRefName] != "python:distroless" {
		t.Fatalf("index.json %+v", im.Manifests)
	}
	if _, err := ReadLayoutIndex(dest.Layout, built.Digest); err != nil {
		t.Fatal(err)
	}
}

func TestPublishRefusesSourceWithoutDigest(t *testing.T) {
	src, _ := layoutSource(t)
	src.Digest = ""
	dest, _ := ParseRef("oci:" + t.TempDir())
	if _, err := Publish(context.Background(), PublishOptions{Source: src, Dest: dest}); !errors.Is(err, ErrNotByDigest) {
		t.Fatalf("err = %v, want ErrNotByDigest", err)
	}
}

// recorder wraps a registry handler: it can fail requests with 503 and
// records every request that succeeded, in order.
type recorder struct {
	next http.Handler
	// fail503 returns true for a request that must fail.
	fail503 func(r *http.Request) bool
	mu      sync.Mutex
	ok      []string
	failed  int
}

func (h *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	fail := h.fail503 != nil && h.fail503(r)
	if fail {
		h.failed++
	}
	h.mu.Unlock()
	if fail {
		io.Copy(io.Discard, r.Body)
		http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"try again"}]}`, http.StatusServiceUnavailable)
		return
	}
	sw := &statusWriter{ResponseWriter: w, code: 200}
	h.next.ServeHTTP(sw, r)
	if sw.code < 300 {
		h.mu.Lock()
		h.ok = append(h.ok, r.Method+" "+r.URL.Path)
		h.mu.Unlock()
	}
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }

func startRegistry(t *testing.T, h *recorder) string {
	t.Helper()
	h.next = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestPublishToRegistryUploadsOnlyMissingBlobs(t *testing.T) {
	src, built := layoutSource(t)
	host := startRegistry(t, &recorder{})
	dest, err := ParseRef(host + "/fleet/python")
	must(t, err)
	first := publish(t, PublishOptions{Source: src, Dest: dest, Tags: []string{"distroless"}})
	if first.BlobsUploaded != fixtureBlobs || first.BlobsSkipped != 0 || first.BytesUploaded == 0 {
		t.Fatalf("first publish: %+v", first)
	}
	second := publish(t, PublishOptions{Source: src, Dest: dest, Tags: []string{"distroless"}})
	if second.BlobsUploaded != 0 || second.BlobsSkipped != fixtureBlobs || second.BytesUploaded != 0 {
		t.Fatalf("second publish: %+v", second)
	}
	dref, _ := name.NewDigest(host + "/fleet/python@" + built.Digest.String())
	idx, err := remote.Index(dref)
	must(t, err)
	if d, _ := idx.Digest(); d != built.Digest {
		t.Fatalf("pulled %s, want %s", d, built.Digest)
	}
	tag, _ := name.NewTag(host + "/fleet/python:distroless")
	desc, err := remote.Head(tag)
	must(t, err)
	if desc.Digest != built.Digest {
		t.Fatalf("tag points to %s", desc.Digest)
	}
	if want := []string{dref.String(), tag.String()}; strings.Join(second.Refs, " ") != strings.Join(want, " ") {
		t.Errorf("refs %v, want %v", second.Refs, want)
	}
}

func TestPublishRetriesTransientErrors(t *testing.T) {
	src, built := layoutSource(t)
	seen := map[string]int{}
	h := &recorder{fail503: func(r *http.Request) bool {
		// The first two attempts of every manifest PUT and blob HEAD fail.
		if (r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")) ||
			(r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/blobs/")) {
			k := r.Method + r.URL.Path
			seen[k]++
			return seen[k] <= 2
		}
		return false
	}}
	host := startRegistry(t, h)
	dest, _ := ParseRef(host + "/fleet/python")
	r := publish(t, PublishOptions{Source: src, Dest: dest, Tags: []string{"distroless"}})
	if r.Digest != built.Digest || r.BlobsUploaded != fixtureBlobs {
		t.Fatalf("publish after retries: %+v", r)
	}
	if h.failed < 2*(fixtureBlobs+3) {
		t.Fatalf("only %d requests failed; the test did not exercise retries", h.failed)
	}
	dref, _ := name.NewDigest(host + "/fleet/python@" + built.Digest.String())
	if _, err := remote.Index(dref); err != nil {
		t.Fatal(err)
	}
}

func TestPublishWritesTagsOnlyAfterIndex(t *testing.T) {
	src, built := layoutSource(t)
	h := &recorder{}
	host := startRegistry(t, h)
	dest, _ := ParseRef(host + "/fleet/python:latest")
	publish(t, PublishOptions{Source: src, Dest: dest, Tags: []string{"distroless", "3.12"}})
	lastDigestPut, firstTagPut := -1, len(h.ok)
	indexPut := -1
	for i, req := range h.ok {
		if !strings.HasPrefix(req, "PUT ") || !strings.Contains(req, "/manifests/") {
			continue
		}
		if strings.Contains(req, "/manifests/sha256:") {
			lastDigestPut = i
			if strings.HasSuffix(req, built.Digest.String()) {
				indexPut = i
			}
		} else if i < firstTagPut {
			firstTagPut = i
		}
	}
	tags := 0
	for _, req := range h.ok {
		if strings.HasPrefix(req, "PUT ") && (strings.HasSuffix(req, ":latest") || strings.HasSuffix(req, "/latest") ||
			strings.HasSuffix(req, "/distroless") || strings.HasSuffix(req, "/3.12")) {
			tags++
		}
	}
	if indexPut < 0 || tags != 3 {
		t.Fatalf("index PUT at %d, %d tag PUTs; requests %v", indexPut, tags, h.ok)
	}
	if firstTagPut < lastDigestPut || firstTagPut < indexPut {
		t.Fatalf("a tag was written (request %d) before the index and children were stored (%d): %v", firstTagPut, lastDigestPut, h.ok)
	}
}
