package verify_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/testenv"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// benchImage is a two-platform index in go-containerregistry's in-process
// registry (no referrers API: bundles are found through the sha256-<hex>
// tag fallback, as on Debian's registry), signed on every channel with a
// local key by attest, as `clearcutt pipeline` does.
type benchImage struct {
	ref       oci.Ref
	index     v1.ImageIndex
	digest    v1.Hash
	platforms []v1.Hash
	store     attest.Store
	pubPath   string
	pub       []byte
}

func newBenchImage(b *testing.B) *benchImage {
	b.Helper()
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	b.Cleanup(srv.Close)
	idx := v1.ImageIndex(empty.Index)
	var platforms []v1.Hash
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(1024, 2)
		if err != nil {
			b.Fatal(err)
		}
		d, _ := img.Digest()
		platforms = append(platforms, d)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	d, _ := idx.Digest()
	ref, err := oci.ParseRef(strings.TrimPrefix(srv.URL, "http://") + "/fleet/python@" + d.String())
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.WriteIndex(ref.Repo.Digest(d.String()), idx); err != nil {
		b.Fatal(err)
	}
	keyPath := filepath.Join(b.TempDir(), "signing.key")
	signer, err := attest.LoadOrCreateKey(keyPath, true)
	if err != nil {
		b.Fatal(err)
	}
	store, err := attest.Open(ref, attest.StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	bi := &benchImage{ref: ref, index: idx, digest: d, platforms: platforms, store: store, pubPath: signer.PublicKeyPath()}
	if bi.pub, err = os.ReadFile(bi.pubPath); err != nil {
		b.Fatal(err)
	}
	attach := func(desc v1.Descriptor, predicateType string, predicate any) {
		st, err := attest.SignatureStatement("fleet/python", desc.Digest)
		if predicateType != verify.PredicateSignature {
			st, err = sigtest.Statement("fleet/python", desc.Digest, predicateType, predicate)
		}
		if err != nil {
			b.Fatal(err)
		}
		bundle, err := attest.SignStatement(ctx, signer, st)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := store.Attach(ctx, desc, bundle, predicateType); err != nil {
			b.Fatal(err)
		}
	}
	idxDesc, err := partial.Descriptor(idx)
	if err != nil {
		b.Fatal(err)
	}
	attach(*idxDesc, verify.PredicateSignature, nil)
	im, err := idx.IndexManifest()
	if err != nil {
		b.Fatal(err)
	}
	for _, desc := range im.Manifests {
		attach(desc, verify.PredicateSignature, nil)
		attach(desc, verify.PredicateSBOM, sbomOf(desc.Digest))
		attach(desc, verify.PredicateTestResult, testsPassed())
		attach(desc, verify.PredicateVulns, scanAt(time.Now().Add(-time.Hour), true))
		attach(desc, verify.PredicateVEX, vexDoc(desc.Digest))
	}
	return bi
}

// storeSource adapts attest.Store to verify.BundleSource, as the CLI does.
type storeSource struct{ s attest.Store }

func (s storeSource) List(ctx context.Context, d v1.Hash) ([]verify.StoredBundle, error) {
	stored, err := s.s.List(ctx, d)
	if err != nil {
		return nil, err
	}
	out := make([]verify.StoredBundle, 0, len(stored))
	for _, x := range stored {
		out = append(out, verify.StoredBundle{Digest: x.Digest, PredicateType: x.PredicateType, Bundle: x.Bundle, Created: x.Created})
	}
	return out, nil
}

// BenchmarkVerifyAllChannels verifies every channel of the index and its
// two platform images in one process, fetching from the registry each time.
func BenchmarkVerifyAllChannels(b *testing.B) {
	bi := newBenchImage(b)
	all := []verify.Channel{}
	for _, c := range verify.AllChannels() {
		if c != verify.ChannelProvenance {
			all = append(all, c)
		}
	}
	o := verify.Options{
		Image: bi.ref.String(), Index: bi.index, IndexDigest: bi.digest,
		Sources: verify.Sources{Bundles: storeSource{bi.store}, Legacy: verify.NewRegistryLegacyReader(bi.ref.Repo)},
		Policy:  verify.Policy{PublicKey: bi.pub, RequiredChannels: all},
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := verify.Run(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		if rep.ExitCode() != verify.ExitPassed {
			b.Fatalf("not verified: %+v", rep.Channels)
		}
	}
	b.ReportMetric(float64(len(bi.platforms)+1), "digests/op")
}

// BenchmarkCosignEquivalent runs what an auditor runs with cosign for the
// same checks: `cosign verify` for the index and each platform image, and
// one `cosign verify-attestation` per predicate type per platform.
func BenchmarkCosignEquivalent(b *testing.B) {
	cosign := testenv.Need(b, "cosign", "scripts/install-tools.sh")
	bi := newBenchImage(b)
	home := b.TempDir()
	env := testenv.CleanEnv("HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	var cmds [][]string
	for _, d := range append([]v1.Hash{bi.digest}, bi.platforms...) {
		cmds = append(cmds, []string{"verify", "--key", bi.pubPath, "--insecure-ignore-tlog", bi.ref.Repo.Digest(d.String()).String()})
	}
	for _, d := range bi.platforms {
		for _, pt := range []string{verify.PredicateSBOM, verify.PredicateTestResult, verify.PredicateVulns, verify.PredicateVEX} {
			cmds = append(cmds, []string{"verify-attestation", "--key", bi.pubPath, "--insecure-ignore-tlog", "--type", pt, bi.ref.Repo.Digest(d.String()).String()})
		}
	}
	b.ResetTimer()
	for b.Loop() {
		for _, args := range cmds {
			cmd := exec.Command(cosign, args...)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	}
	b.ReportMetric(float64(len(cmds)), "invocations/op")
}
