package oci

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/testenv"
	"github.com/google/go-containerregistry/pkg/registry"
)

// BenchClosureEnv names the closure manifest the benchmarks run on, e.g.
// out/closures/python-distroless-amd64.json; its store paths must exist.
// scripts/bench.sh sets it and writes the figures to docs/benchmarks.md.
const BenchClosureEnv = "CLEARCUTT_BENCH_CLOSURE"

// benchManifest reads the closure manifest named by BenchClosureEnv and
// checks that every store path it lists is present on this machine.
func benchManifest(b *testing.B) *closure.Manifest {
	b.Helper()
	p := os.Getenv(BenchClosureEnv)
	if p == "" {
		b.Skipf("%s is unset: set it to a closure manifest (out/closures/<image>-<arch>.json) whose store paths exist; scripts/bench.sh does", BenchClosureEnv)
	}
	m, err := closure.ReadManifest(p)
	if err != nil {
		b.Fatalf("%s=%s: %v", BenchClosureEnv, p, err)
	}
	for _, sp := range m.Paths {
		if _, err := os.Lstat(sp.Path); err != nil {
			b.Fatalf("%s=%s: store path %s: %v (build the closure first)", BenchClosureEnv, p, sp.Path, err)
		}
	}
	if m.ClosureSize <= 0 {
		b.Fatalf("%s=%s: field closureSize is %d", BenchClosureEnv, p, m.ClosureSize)
	}
	return m
}

func benchAssembleOpts(m *closure.Manifest, cacheDir string) AssembleOptions {
	return AssembleOptions{
		Manifests:       []*closure.Manifest{m},
		Config:          ImageConfig{User: "65532:65532", Entrypoint: []string{m.RuntimePath + "/bin/" + m.Runtime}},
		SourceDateEpoch: 1,
		CacheDir:        cacheDir,
	}
}

func benchAssemble(b *testing.B, o AssembleOptions) Result {
	b.Helper()
	r, err := Assemble(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func layerCount(r Result) int {
	n := 0
	for _, img := range r.Images {
		n += len(img.Layers)
	}
	return n
}

// BenchmarkAssembleCold assembles the closure into an empty layer cache each
// iteration, so every layer is tarred, compressed, hashed and stored.
func BenchmarkAssembleCold(b *testing.B) {
	m := benchManifest(b)
	b.SetBytes(m.ClosureSize)
	for b.Loop() {
		b.StopTimer()
		dir, err := os.MkdirTemp(b.TempDir(), "cache-")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		r := benchAssemble(b, benchAssembleOpts(m, dir))
		b.StopTimer()
		if r.CacheHits != 0 || r.LayersBuilt != layerCount(r) {
			b.Fatalf("cold assemble: %d cache hits, %d of %d layers built", r.CacheHits, r.LayersBuilt, layerCount(r))
		}
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkAssembleWarm is the unchanged rebuild: the cache is filled once,
// then every iteration must take all layers from it (each cached blob is
// re-hashed against its sidecar) and give the same index digest.
func BenchmarkAssembleWarm(b *testing.B) {
	m := benchManifest(b)
	b.SetBytes(m.ClosureSize)
	o := benchAssembleOpts(m, b.TempDir())
	first := benchAssemble(b, o)
	for b.Loop() {
		r := benchAssemble(b, o)
		if r.LayersBuilt != 0 || r.CacheHits != layerCount(r) {
			b.Fatalf("unchanged rebuild: %d of %d layers rebuilt, %d cache hits", r.LayersBuilt, layerCount(r), r.CacheHits)
		}
		if r.Digest != first.Digest {
			b.Fatalf("unchanged rebuild: index digest %s, first build %s", r.Digest, first.Digest)
		}
	}
}

// BenchmarkTarGzipBaseline is the yardstick for BenchmarkAssembleCold:
// `tar -c --sort=name <store paths> | gzip -6 > /dev/null` over the same
// store paths, as two processes connected by a pipe.
func BenchmarkTarGzipBaseline(b *testing.B) {
	m := benchManifest(b)
	testenv.Need(b, "tar", "apt-get install tar")
	testenv.Need(b, "gzip", "apt-get install gzip")
	args := []string{"-c", "--sort=name", "-f", "-", "-C", "/"}
	for _, p := range m.Paths {
		args = append(args, strings.TrimPrefix(p.Path, "/"))
	}
	b.SetBytes(m.ClosureSize)
	for b.Loop() {
		if err := tarGzip(args); err != nil {
			b.Fatal(err)
		}
	}
}

func tarGzip(tarArgs []string) error {
	tar := exec.Command("tar", tarArgs...)
	gz := exec.Command("gzip", "-6")
	tar.Env, gz.Env = testenv.CleanEnv(), testenv.CleanEnv()
	var tarErr, gzErr strings.Builder
	tar.Stderr, gz.Stderr = &tarErr, &gzErr
	pipe, err := tar.StdoutPipe()
	if err != nil {
		return err
	}
	gz.Stdin = pipe // gz.Stdout nil: the output goes to /dev/null
	if err := gz.Start(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if err := tar.Run(); err != nil {
		gz.Wait()
		return fmt.Errorf("tar: %w: %s", err, tarErr.String())
	}
	if err := gz.Wait(); err != nil {
		return fmt.Errorf("gzip: %w: %s", err, gzErr.String())
	}
	return nil
}

// benchLayout assembles the closure once and writes it to an OCI layout,
// returning the by-digest reference Publish reads.
func benchLayout(b *testing.B, m *closure.Manifest) Ref {
	b.Helper()
	r := benchAssemble(b, benchAssembleOpts(m, b.TempDir()))
	dir := b.TempDir()
	if _, err := WriteLayout(context.Background(), dir, r.Index, m.Runtime+":"+m.Tier); err != nil {
		b.Fatal(err)
	}
	src, err := RequireDigest("oci:" + dir + "@" + r.Digest.String())
	if err != nil {
		b.Fatal(err)
	}
	return src
}

// benchRegistry starts ggcr's in-memory registry and returns a repository
// reference in it and a function that stops it.
func benchRegistry(b *testing.B) (Ref, func()) {
	b.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	dest, err := ParseRef(strings.TrimPrefix(srv.URL, "http://") + "/bench/fleet")
	if err != nil {
		srv.Close()
		b.Fatal(err)
	}
	return dest, srv.Close
}

func benchPublish(b *testing.B, src, dest Ref) PublishResult {
	b.Helper()
	r, err := Publish(context.Background(), PublishOptions{Source: src, Dest: dest, Tags: []string{"bench"}})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func reportUpload(b *testing.B, uploaded, skipped int, bytes int64) {
	n := float64(b.N)
	b.ReportMetric(float64(uploaded)/n, "blobs-uploaded/op")
	b.ReportMetric(float64(skipped)/n, "blobs-skipped/op")
	b.ReportMetric(float64(bytes)/n, "bytes-uploaded/op")
}

// BenchmarkPublishCold publishes the assembled index into a fresh, empty
// registry each iteration: every blob is uploaded.
func BenchmarkPublishCold(b *testing.B) {
	m := benchManifest(b)
	src := benchLayout(b, m)
	var uploaded, skipped int
	var bytes int64
	for b.Loop() {
		b.StopTimer()
		dest, stop := benchRegistry(b)
		b.StartTimer()
		r := benchPublish(b, src, dest)
		b.StopTimer()
		stop()
		if r.BlobsUploaded == 0 || r.BlobsSkipped != 0 {
			b.Fatalf("publish into an empty registry: %+v", r)
		}
		uploaded, skipped, bytes = uploaded+r.BlobsUploaded, skipped+r.BlobsSkipped, bytes+r.BytesUploaded
		b.StartTimer()
	}
	reportUpload(b, uploaded, skipped, bytes)
}

// BenchmarkPublishUnchanged publishes the same index again into a registry
// that already holds it: the blobs-uploaded/op and bytes-uploaded/op metrics
// are expected to be 0.
func BenchmarkPublishUnchanged(b *testing.B) {
	m := benchManifest(b)
	src := benchLayout(b, m)
	dest, stop := benchRegistry(b)
	defer stop()
	first := benchPublish(b, src, dest)
	var uploaded, skipped int
	var bytes int64
	for b.Loop() {
		r := benchPublish(b, src, dest)
		if r.Digest != first.Digest {
			b.Fatalf("second publish stored %s, first %s", r.Digest, first.Digest)
		}
		uploaded, skipped, bytes = uploaded+r.BlobsUploaded, skipped+r.BlobsSkipped, bytes+r.BytesUploaded
	}
	reportUpload(b, uploaded, skipped, bytes)
}
