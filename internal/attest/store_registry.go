package attest

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/clearcutt/clearcutt/internal/oci"
)

// registryStore stores referrers in a registry repository. Registries
// without the referrers API get the sha256-<hex> fallback tag, which
// go-containerregistry maintains on push and reads on listing.
type registryStore struct {
	repo name.Repository
	o    StoreOptions
	opts []remote.Option
}

func newRegistryStore(ref oci.Ref, o StoreOptions) *registryStore {
	s := &registryStore{repo: ref.Repo, o: o}
	if o.Transport != nil {
		s.opts = append(s.opts, remote.WithTransport(o.Transport))
	}
	if o.Keychain != nil {
		s.opts = append(s.opts, remote.WithAuthFromKeychain(o.Keychain))
	}
	b := oci.DefaultBackoff
	if o.Backoff != nil {
		b = *o.Backoff
	}
	s.opts = append(s.opts, remote.WithRetryBackoff(b), remote.WithReferrersTagFallback(true))
	return s
}

func (s *registryStore) String() string { return s.repo.String() }

func (s *registryStore) ropts(ctx context.Context) []remote.Option {
	return append([]remote.Option{remote.WithContext(ctx)}, s.opts...)
}

// rawManifest is a remote.Taggable for manifest bytes written as they are.
type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error)        { return r, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (s *registryStore) Attach(ctx context.Context, subject v1.Descriptor, bundle []byte, predicateType string) (v1.Hash, error) {
	a, err := newArtifact(subject, bundle, predicateType, s.o.Created)
	if err != nil {
		return v1.Hash{}, err
	}
	if d, ok, err := s.existing(ctx, subject.Digest, a); err != nil || ok {
		return d, err
	}
	opts := s.ropts(ctx)
	for _, b := range []struct {
		data []byte
		mt   types.MediaType
	}{{emptyJSON, EmptyMediaType}, {bundle, BundleMediaType}} {
		if err := remote.WriteLayer(s.repo, static.NewLayer(b.data, b.mt), opts...); err != nil {
			return v1.Hash{}, fmt.Errorf("%s: upload %s blob: %w", s.repo, b.mt, err)
		}
	}
	if err := remote.Put(s.repo.Digest(a.digest.String()), rawManifest(a.manifest), opts...); err != nil {
		return v1.Hash{}, fmt.Errorf("%s: put bundle manifest for %s: %w", s.repo, subject.Digest, err)
	}
	return a.digest, nil
}

// existing finds a referrer of subject that is a or holds a's bundle.
func (s *registryStore) existing(ctx context.Context, subject v1.Hash, a *artifact) (v1.Hash, bool, error) {
	im, err := s.referrers(ctx, subject)
	if err != nil {
		return v1.Hash{}, false, err
	}
	for _, d := range im.Manifests {
		if d.Digest == a.digest {
			return d.Digest, true, nil
		}
	}
	for _, d := range im.Manifests {
		raw, err := s.manifest(ctx, d.Digest)
		if err != nil {
			return v1.Hash{}, false, err
		}
		if r, ok := parseArtifact(raw, subject); ok && r.layer.Digest == a.layer.Digest {
			return d.Digest, true, nil
		}
	}
	return v1.Hash{}, false, nil
}

func (s *registryStore) referrers(ctx context.Context, subject v1.Hash) (*v1.IndexManifest, error) {
	idx, err := remote.Referrers(s.repo.Digest(subject.String()), s.ropts(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("%s: referrers of %s: %w", s.repo, subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: referrers of %s: %w", s.repo, subject, err)
	}
	return im, nil
}

func (s *registryStore) manifest(ctx context.Context, d v1.Hash) ([]byte, error) {
	desc, err := remote.Get(s.repo.Digest(d.String()), s.ropts(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("%s: manifest %s: %w", s.repo, d, err)
	}
	if h, _, _ := v1.SHA256(bytes.NewReader(desc.Manifest)); h != d {
		return nil, fmt.Errorf("%w: %s: manifest %s has digest %s", ErrBadArtifact, s.repo, d, h)
	}
	return desc.Manifest, nil
}

func (s *registryStore) List(ctx context.Context, subject v1.Hash) ([]Stored, error) {
	im, err := s.referrers(ctx, subject)
	if err != nil {
		return nil, err
	}
	var out []Stored
	for _, d := range im.Manifests {
		raw, err := s.manifest(ctx, d.Digest)
		if err != nil {
			out = append(out, Stored{Digest: d.Digest, PredicateType: d.Annotations[AnnotationPredicateType], Err: err})
			continue
		}
		r, ok := parseArtifact(raw, subject)
		if !ok {
			continue
		}
		if r.layer.Size > s.o.MaxBundleSize {
			out = append(out, Stored{Digest: d.Digest, PredicateType: r.predicateType,
				Err: fmt.Errorf("%w: %s: bundle %s is %d bytes (limit %d)", ErrBadArtifact, s.repo, r.layer.Digest, r.layer.Size, s.o.MaxBundleSize)})
			continue
		}
		data, err := s.blob(ctx, r.layer)
		if err != nil {
			out = append(out, Stored{Digest: d.Digest, PredicateType: r.predicateType, Err: err})
			continue
		}
		out = append(out, Stored{Digest: d.Digest, PredicateType: r.predicateType, MediaType: string(r.layer.MediaType), Bundle: data, Created: r.created})
	}
	return out, nil
}

func (s *registryStore) blob(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	l, err := remote.Layer(s.repo.Digest(d.Digest.String()), s.ropts(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %w", s.repo, d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %w", s.repo, d.Digest, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, d.Size+1))
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %w", s.repo, d.Digest, err)
	}
	if err := checkBlob(d, data); err != nil {
		return nil, fmt.Errorf("%s: %w", s.repo, err)
	}
	return data, nil
}
