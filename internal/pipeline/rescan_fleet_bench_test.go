package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/catalog"
	fleetfile "github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/rescan"
	"github.com/clearcutt/clearcutt/internal/rescan/rescantest"
	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// fleetPlatforms is the size of BenchmarkRescanFleet500's fleet: images
// of two platforms each.
const fleetPlatforms = 500

// benchIdentity is the GitHub job that published the synthetic fleet and
// signs its rescans.
var benchIdentity = fleetfile.Identity{
	Issuer:     sigtest.GitHubIssuer,
	Repository: "acme/base-images",
	Workflow:   ".github/workflows/publish.yml",
	Ref:        "refs/heads/main",
}

var benchSigner = sigtest.GitHubIdentity{Repository: benchIdentity.Repository, Workflow: benchIdentity.Workflow, Ref: benchIdentity.Ref}

// roundTrip posts a request's body to an in-process HTTP server and reads
// its answer: the network part of a call to Fulcio or Rekor, whose answer
// the in-process Sigstore then gives.
type roundTrip struct{ url string }

func (r roundTrip) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("%s: %s", r.url, resp.Status)
	}
	return nil
}

// echoServer answers every POST with 201 and a body about the size of a
// log entry or a certificate chain.
func echoServer(b *testing.B) string {
	answer := []byte(`{"entry":"` + strings.Repeat("A", 2048) + `"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(answer)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// remoteCA is the in-process certificate authority behind an HTTP round
// trip carrying the public key to certify.
type remoteCA struct {
	rt    roundTrip
	inner sign.CertificateProvider
}

func (c remoteCA) GetCertificate(ctx context.Context, kp sign.Keypair, o *sign.CertificateProviderOptions) ([]byte, error) {
	pem, err := kp.GetPublicKeyPem()
	if err != nil {
		return nil, err
	}
	if err := c.rt.post(ctx, []byte(pem)); err != nil {
		return nil, err
	}
	return c.inner.GetCertificate(ctx, kp, o)
}

// remoteLog is the in-process transparency log behind an HTTP round trip
// carrying the entry (the certificate and the DSSE envelope).
type remoteLog struct {
	rt    roundTrip
	inner sign.Transparency
}

func (l remoteLog) GetTransparencyLogEntry(ctx context.Context, certPEM []byte, b *protobundle.Bundle) error {
	body := append([]byte(nil), certPEM...)
	if env := b.GetDsseEnvelope(); env != nil {
		body = append(body, env.GetPayload()...)
		for _, s := range env.GetSignatures() {
			body = append(body, s.GetSig()...)
		}
	}
	if err := l.rt.post(ctx, body); err != nil {
		return err
	}
	return l.inner.GetTransparencyLogEntry(ctx, certPEM, b)
}

// tsaServer serves the in-process timestamp authority over HTTP.
func tsaServer(b *testing.B, ss *sigtest.Sigstore) string {
	tsa := ss.TSATransport()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := tsa.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// countingSigner counts the signatures made.
type countingSigner struct {
	attest.Signer
	n atomic.Int64
}

func (c *countingSigner) BundleOptions(ctx context.Context) (sign.Keypair, sign.BundleOptions, error) {
	c.n.Add(1)
	return c.Signer.BundleOptions(ctx)
}

// publishBenchFleet pushes fleetPlatforms/2 two-platform images to the
// registry at host, each platform with a keyless-signed SBOM attestation
// of the synthetic fleet (the shared packages and its own), and returns
// their catalog entries.
func publishBenchFleet(b *testing.B, host string, ss *sigtest.Sigstore) []catalog.Image {
	ctx := context.Background()
	images := make([]catalog.Image, fleetPlatforms/2)
	errs := make([]error, len(images))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				images[i], errs[i] = publishBenchImage(ctx, host, ss, i)
			}
		}()
	}
	for i := range images {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return images
}

func publishBenchImage(ctx context.Context, host string, ss *sigtest.Sigstore, i int) (catalog.Image, error) {
	runtimeName, tier := fmt.Sprintf("app%03d", i), "distroless"
	name := runtimeName + ":" + tier
	idx := v1.ImageIndex(empty.Index)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(256, 1)
		if err != nil {
			return catalog.Image{}, err
		}
		if img, err = mutate.Config(img, v1.Config{Labels: map[string]string{oci.LabelRuntime: runtimeName, oci.LabelTier: tier}}); err != nil {
			return catalog.Image{}, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	d, err := idx.Digest()
	if err != nil {
		return catalog.Image{}, err
	}
	ref, err := oci.RequireDigest(host + "/fleet/" + runtimeName + "@" + d.String())
	if err != nil {
		return catalog.Image{}, err
	}
	if err := remote.WriteIndex(ref.DigestRef(d), idx); err != nil {
		return catalog.Image{}, err
	}
	store, err := attest.Open(ref, attest.StoreOptions{})
	if err != nil {
		return catalog.Image{}, err
	}
	im := catalog.Image{Name: name, Runtime: runtimeName, Tier: tier, Reference: ref.String(), IndexDigest: d.String()}
	m, err := idx.IndexManifest()
	if err != nil {
		return catalog.Image{}, err
	}
	for k, desc := range m.Manifests {
		im.Platforms = append(im.Platforms, catalog.Platform{Platform: "linux/" + desc.Platform.Architecture, Digest: desc.Digest.String()})
		doc := rescantest.SBOMNamed(2*i+k, name+"@"+desc.Digest.String())
		st, err := attest.WrapPredicate(name, desc.Digest, attest.PredicateSPDX, doc)
		if err != nil {
			return catalog.Image{}, err
		}
		bundle, err := ss.SignStatement(ctx, benchSigner, st)
		if err != nil {
			return catalog.Image{}, err
		}
		if _, err := store.Attach(ctx, v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}, bundle, attest.PredicateSPDX); err != nil {
			return catalog.Image{}, err
		}
	}
	return im, nil
}

// peakHeap samples runtime.MemStats.HeapInuse every 10 ms until stop is
// called, which returns the largest value seen.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak.Load() {
			peak.Store(ms.HeapInuse)
		}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		sample()
		return peak.Load()
	}
}

// BenchmarkRescanFleet500 rescans a published fleet of 500 platform images
// (250 two-platform images of the synthetic fleet of BenchmarkRescan) end
// to end with rescan.Run, opened and verified as clearcutt rescan opens and
// verifies them (stage.OpenIndex, attest.Open, stage.Verifier with the
// fleet's keyless policy): every SBOM attestation is fetched from
// go-containerregistry's in-process registry and verified against the
// in-process Sigstore's trusted root, every SBOM matched with real grype,
// every new statement (per platform the scan and the OpenVEX statement,
// per image the index scan) signed keylessly and attached to the registry.
// Signing makes a real HTTP round trip to the timestamp authority and to
// the transparency log per signature, and to the certificate authority
// per key pair, as keyless signing does, to in-process servers. Workers is
// the default, one per core.
//
// Custom metrics: sigs/s (signatures over the run's wall time),
// signatures/op, platforms/op and peak-heap-MiB, the largest
// runtime.MemStats.HeapInuse sampled every 10 ms during the run (the heap
// the rescan holds, after a GC before it starts, with the in-process
// registry's images and bundles; not the process's RSS).
func BenchmarkRescanFleet500(b *testing.B) {
	ss, err := sigtest.New()
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	b.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	images := publishBenchFleet(b, host, ss)

	policy, err := verify.PolicyFromFleet(benchIdentity, verify.FleetPolicyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	verifier := stage.Verifier{Policy: policy, Trusted: ss.TrustedRoot(), WithoutSCTUnsafe: true}
	keyless, err := attest.NewKeyless(attest.KeylessOptions{
		CertificateAuthority: remoteCA{roundTrip{echoServer(b)}, ss.Fulcio(benchSigner)},
		Transparency:         remoteLog{roundTrip{echoServer(b)}, ss.Rekor()},
		TSAURL:               tsaServer(b, ss),
		IDToken:              func(context.Context) (string, error) { return benchSigner.IDToken(), nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	db := rescantest.DB(b)
	vex, exc := rescantest.Policy(b)
	ctx := context.Background()

	var rep rescan.Report
	var signatures int64
	var peak uint64
	var elapsed time.Duration
	for b.Loop() {
		signer := &countingSigner{Signer: keyless}
		now := time.Now().UTC()
		runtime.GC()
		stop := peakHeap()
		start := time.Now()
		rep, err = rescan.Run(ctx, rescan.Options{
			Images: images,
			Open:   pipeline.RescanOpen(nil, now),
			Verify: pipeline.RescanVerify(verifier),
			Scan:   scan.BatchOptions{DBDir: db, Now: now, VEX: vex, Exceptions: exc},
			Gate:   gate.Policy{FailOn: gate.High, Now: now},
			Signer: signer,
		})
		elapsed += time.Since(start)
		peak = max(peak, stop())
		signatures = signer.n.Load()
		if err != nil {
			b.Fatal(err)
		}
	}
	if rep.Platforms != fleetPlatforms || rep.Failed != 0 {
		for _, im := range rep.Images {
			for _, p := range im.Platforms {
				if p.Status != rescan.StatusRescanned {
					b.Fatalf("%s %s: %s", im.Name, p.Platform, p.Reason)
				}
			}
		}
		b.Fatalf("%d platforms rescanned, %d failed; want %d rescanned", rep.Platforms, rep.Failed, fleetPlatforms)
	}
	b.ReportMetric(float64(rep.Platforms), "platforms/op")
	b.ReportMetric(float64(signatures), "signatures/op")
	b.ReportMetric(float64(signatures)*float64(b.N)/elapsed.Seconds(), "sigs/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
