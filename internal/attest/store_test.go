package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
)

// storeKind is a store holding idx, and a way to add a foreign referrer.
type storeKind struct {
	name string
	open func(t *testing.T, idx v1.ImageIndex) (Store, func(subject v1.Descriptor))
}

func registryKind(kind string, start func(t *testing.T) string) storeKind {
	return storeKind{kind, func(t *testing.T, idx v1.ImageIndex) (Store, func(v1.Descriptor)) {
		host := start(t)
		repo, err := name.NewRepository(host+"/fleet/python", name.Insecure)
		must(t, err)
		d := descOf(t, idx)
		must(t, remote.WriteIndex(repo.Digest(d.Digest.String()), idx))
		s, err := Open(oci.Ref{Repo: repo}, StoreOptions{Created: time.Unix(1700000000, 0)})
		must(t, err)
		foreign := func(subject v1.Descriptor) {
			// A non-bundle referrer (an SBOM pushed by another tool).
			l := static.NewLayer([]byte(`{"spdxVersion":"SPDX-2.3"}`), "application/spdx+json")
			must(t, remote.WriteLayer(repo, l))
			must(t, remote.WriteLayer(repo, static.NewLayer(emptyJSON, EmptyMediaType)))
			raw := foreignManifest(t, subject, l)
			h, _, _ := v1.SHA256(strings.NewReader(string(raw)))
			must(t, remote.Put(repo.Digest(h.String()), rawManifest(raw)))
		}
		return s, foreign
	}}
}

func foreignManifest(t *testing.T, subject v1.Descriptor, l v1.Layer) []byte {
	t.Helper()
	ld, err := l.Digest()
	must(t, err)
	ln, _ := l.Size()
	cfg, cn, _ := v1.SHA256(strings.NewReader("{}"))
	raw, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: "application/spdx+json",
		Config:  v1.Descriptor{MediaType: EmptyMediaType, Digest: cfg, Size: cn},
		Layers:  []v1.Descriptor{{MediaType: "application/spdx+json", Digest: ld, Size: ln}},
		Subject: &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}})
	must(t, err)
	return raw
}

func inProcess(opts ...registry.Option) func(t *testing.T) string {
	return func(t *testing.T) string {
		opts = append(opts, registry.Logger(log.New(io.Discard, "", 0)))
		srv := httptest.NewServer(registry.New(opts...))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
}

var layoutKind = storeKind{"layout", func(t *testing.T, idx v1.ImageIndex) (Store, func(v1.Descriptor)) {
	dir := t.TempDir()
	_, err := oci.WriteLayout(context.Background(), dir, idx, "python:distroless")
	must(t, err)
	s, err := Open(oci.Ref{Layout: dir}, StoreOptions{Created: time.Unix(1700000000, 0)})
	must(t, err)
	foreign := func(subject v1.Descriptor) {
		// Recorded the same way as a bundle, in the referrers index.
		ls := s.(*layoutStore)
		l := static.NewLayer([]byte(`{"spdxVersion":"SPDX-2.3"}`), "application/spdx+json")
		data, _ := io.ReadAll(must2(l.Compressed()))
		ld, _ := l.Digest()
		must(t, ls.writeBlob(ld, data))
		raw := foreignManifest(t, subject, l)
		h, n, _ := v1.SHA256(strings.NewReader(string(raw)))
		must(t, ls.writeBlob(h, raw))
		root, err := ls.rootIndex()
		must(t, err)
		pos, refs, err := ls.referrers(root, subject.Digest)
		must(t, err)
		refs.Manifests = append(refs.Manifests, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: n, ArtifactType: "application/spdx+json"})
		ri, _ := json.Marshal(refs)
		rh, rn, _ := v1.SHA256(strings.NewReader(string(ri)))
		must(t, ls.writeBlob(rh, ri))
		e := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: rh, Size: rn, Annotations: map[string]string{oci.AnnotationRefName: FallbackTag(subject.Digest)}}
		if pos >= 0 {
			root.Manifests[pos] = e
		} else {
			root.Manifests = append(root.Manifests, e)
		}
		out, _ := json.Marshal(root)
		must(t, os.WriteFile(filepath.Join(dir, "index.json"), out, 0o644))
	}
	return s, foreign
}}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func storeKinds() []storeKind {
	return []storeKind{
		registryKind("referrers-api", inProcess(registry.WithReferrersSupport(true))),
		registryKind("ggcr-tag-fallback", inProcess()),
		registryKind("distribution-tag-fallback", func(t *testing.T) string { return ocitest.StartDistribution(t) }),
		layoutKind,
	}
}

func TestAttachAndList(t *testing.T) {
	ctx := context.Background()
	signer := testKey(t)
	for _, k := range storeKinds() {
		t.Run(k.name, func(t *testing.T) {
			idx := testIndex(t)
			store, foreign := k.open(t, idx)
			subject := descOf(t, idx)
			plat := platforms(t, idx)[1]
			foreign(subject)
			if got, err := store.List(ctx, subject.Digest); err != nil || len(got) != 0 {
				t.Fatalf("before attaching: %d bundles, %v", len(got), err)
			}
			sig := signAbout(t, signer, subject.Digest)
			a1, err := store.Attach(ctx, subject, sig, PredicateSignature)
			must(t, err)
			again, err := store.Attach(ctx, subject, sig, PredicateSignature)
			must(t, err)
			if again != a1 {
				t.Errorf("re-attaching the same bundle gave %s, then %s", a1, again)
			}
			psig := signAbout(t, signer, plat.Digest)
			a2, err := store.Attach(ctx, plat, psig, PredicateSignature)
			must(t, err)
			sbom := signWrapped(t, signer, plat.Digest)
			a3, err := store.Attach(ctx, plat, sbom, PredicateSPDX)
			must(t, err)

			got, err := store.List(ctx, subject.Digest)
			must(t, err)
			if len(got) != 1 || got[0].Digest != a1 || string(got[0].Bundle) != string(sig) ||
				got[0].PredicateType != PredicateSignature || got[0].MediaType != BundleMediaType ||
				!got[0].Created.Equal(time.Unix(1700000000, 0)) {
				t.Fatalf("index referrers: %+v", got)
			}
			if _, err := verifyKeyBundle(t, signer, got[0].Bundle, subject.Digest); err != nil {
				t.Errorf("stored bundle does not verify: %v", err)
			}
			got, err = store.List(ctx, plat.Digest)
			must(t, err)
			byType := map[string]Stored{}
			for _, s := range got {
				byType[s.PredicateType] = s
			}
			if len(got) != 2 || byType[PredicateSignature].Digest != a2 || byType[PredicateSPDX].Digest != a3 {
				t.Fatalf("platform referrers: %+v", got)
			}
			if pt, err := verifyKeyBundle(t, signer, byType[PredicateSPDX].Bundle, plat.Digest); err != nil || pt != PredicateSPDX {
				t.Errorf("SBOM bundle: %v %q", err, pt)
			}
		})
	}
}

// The artifact manifest is what cosign v3 writes for a bundle.
func TestArtifactManifestShape(t *testing.T) {
	idx := testIndex(t)
	subject := descOf(t, idx)
	b := signAbout(t, testKey(t), subject.Digest)
	a, err := newArtifact(subject, b, PredicateSignature, time.Unix(1700000000, 0))
	must(t, err)
	b2, err := newArtifact(subject, b, PredicateSignature, time.Unix(1700000000, 0))
	must(t, err)
	if a.digest != b2.digest {
		t.Error("the same bundle gave two manifests")
	}
	var m map[string]any
	must(t, json.Unmarshal(a.manifest, &m))
	cfg := m["config"].(map[string]any)
	layers := m["layers"].([]any)
	ann := m["annotations"].(map[string]any)
	subj := m["subject"].(map[string]any)
	if m["mediaType"] != "application/vnd.oci.image.manifest.v1+json" || m["artifactType"] != BundleMediaType ||
		cfg["mediaType"] != "application/vnd.oci.empty.v1+json" ||
		cfg["digest"] != "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" || cfg["size"] != 2.0 ||
		len(layers) != 1 || layers[0].(map[string]any)["mediaType"] != BundleMediaType ||
		ann["dev.sigstore.bundle.content"] != "dsse-envelope" || ann["dev.sigstore.bundle.predicateType"] != PredicateSignature ||
		ann["org.opencontainers.image.created"] != "2023-11-14T22:13:20Z" ||
		subj["digest"] != subject.Digest.String() || subj["mediaType"] != string(types.OCIImageIndex) {
		t.Fatalf("manifest %s", a.manifest)
	}
	if _, err := newArtifact(subject, []byte(`{"mediaType":"x"}`), PredicateSignature, time.Time{}); !errors.Is(err, ErrBadArtifact) {
		t.Errorf("non-bundle accepted: %v", err)
	}
}

// A layout that holds referrers still serves its images, and a corrupted
// bundle blob is listed with its error, not dropped.
func TestLayoutStoreIntegrity(t *testing.T) {
	ctx := context.Background()
	idx := testIndex(t)
	store, _ := layoutKind.open(t, idx)
	dir := store.(*layoutStore).dir
	subject := descOf(t, idx)
	b := signAbout(t, testKey(t), subject.Digest)
	_, err := store.Attach(ctx, subject, b, PredicateSignature)
	must(t, err)
	if _, err := oci.ReadLayoutIndex(dir, subject.Digest); err != nil {
		t.Fatalf("layout no longer serves the index: %v", err)
	}
	p, err := layout.FromPath(dir)
	must(t, err)
	ii, err := p.ImageIndex()
	must(t, err)
	im, err := ii.IndexManifest()
	must(t, err)
	if len(im.Manifests) != 2 || im.Manifests[1].Annotations[oci.AnnotationRefName] != FallbackTag(subject.Digest) {
		t.Fatalf("index.json entries %+v", im.Manifests)
	}
	h, _, _ := v1.SHA256(strings.NewReader(string(b)))
	must(t, os.WriteFile(filepath.Join(dir, "blobs", "sha256", h.Hex), append(b, ' '), 0o644))
	got, err := store.List(ctx, subject.Digest)
	must(t, err)
	if len(got) != 1 || !errors.Is(got[0].Err, ErrBadArtifact) || got[0].PredicateType != PredicateSignature || got[0].Bundle != nil {
		t.Fatalf("corrupt bundle listed as %+v", got)
	}
}

func signAbout(t *testing.T, s Signer, d v1.Hash) []byte {
	t.Helper()
	st, err := SignatureStatement("", d)
	must(t, err)
	b, err := SignStatement(context.Background(), s, st)
	must(t, err)
	return b
}

func signWrapped(t *testing.T, s Signer, d v1.Hash) []byte {
	t.Helper()
	st, err := WrapPredicate("fleet/python", d, PredicateSPDX, []byte(`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT"}`))
	must(t, err)
	b, err := SignStatement(context.Background(), s, st)
	must(t, err)
	return b
}

// Debian's registry has no referrers API: the bundle is found through the
// sha256-<hex> fallback tag, which a referrers-API registry does not get.
func TestFallbackTagOnlyWithoutReferrersAPI(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		host    string
		wantTag bool
	}{{ocitest.StartDistribution(t), true}, {inProcess(registry.WithReferrersSupport(true))(t), false}} {
		repo, err := name.NewRepository(c.host+"/fleet/python", name.Insecure)
		must(t, err)
		idx := testIndex(t)
		subject := descOf(t, idx)
		must(t, remote.WriteIndex(repo.Digest(subject.Digest.String()), idx))
		s, err := Open(oci.Ref{Repo: repo}, StoreOptions{})
		must(t, err)
		_, err = s.Attach(ctx, subject, signAbout(t, testKey(t), subject.Digest), PredicateSignature)
		must(t, err)
		tags, err := remote.List(repo)
		must(t, err)
		has := false
		for _, tg := range tags {
			has = has || tg == FallbackTag(subject.Digest)
		}
		if has != c.wantTag {
			t.Errorf("%s: tags %v, want fallback tag: %v", c.host, tags, c.wantTag)
		}
	}
}

// The workers of a rescan attach to one layout at once: every attach,
// and an image written into the layout meanwhile, is kept.
func TestLayoutConcurrentAttachLosesNothing(t *testing.T) {
	ctx := context.Background()
	signer := testKey(t)
	dir := t.TempDir()
	var subjects []v1.Descriptor
	for i := range 4 {
		idx := testIndex(t)
		_, err := oci.WriteLayout(ctx, dir, idx, fmt.Sprintf("image-%d", i))
		must(t, err)
		subjects = append(subjects, descOf(t, idx))
		subjects = append(subjects, platforms(t, idx)...)
	}
	bundles := make([][]byte, len(subjects))
	for i, s := range subjects {
		bundles[i] = signAbout(t, signer, s.Digest)
	}
	store, err := Open(oci.Ref{Layout: dir}, StoreOptions{Created: time.Unix(1700000000, 0)})
	must(t, err)
	late := testIndex(t)
	var wg sync.WaitGroup
	errs := make([]error, len(subjects)+1)
	for i, s := range subjects {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = store.Attach(ctx, s, bundles[i], PredicateSignature)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, errs[len(subjects)] = oci.WriteLayout(ctx, dir, late, "late")
	}()
	wg.Wait()
	must(t, errors.Join(errs...))
	for i, s := range subjects {
		got, err := store.List(ctx, s.Digest)
		must(t, err)
		if len(got) != 1 || string(got[0].Bundle) != string(bundles[i]) {
			t.Errorf("%s: %d bundles after concurrent attaches, want its one", s.Digest, len(got))
		}
	}
	if _, err := oci.ReadLayoutIndex(dir, descOf(t, late).Digest); err != nil {
		t.Errorf("the image written during the attaches is gone: %v", err)
	}
}
