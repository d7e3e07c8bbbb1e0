package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// LegacyReader reads cosign's legacy tags sha256-<hex>.att and .sig from
// a registry repository or an OCI layout.
type LegacyReader struct {
	image func(ctx context.Context, tag string) (v1.Image, error) // nil image, nil error: no such tag
}

var _ LegacySource = (*LegacyReader)(nil)

// NewRegistryLegacyReader reads tags of repo.
func NewRegistryLegacyReader(repo name.Repository, opts ...remote.Option) *LegacyReader {
	return &LegacyReader{image: func(ctx context.Context, tag string) (v1.Image, error) {
		img, err := remote.Image(repo.Tag(tag), append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		return img, err
	}}
}

// NewLayoutLegacyReader reads tags of an OCI layout: manifests in
// index.json annotated org.opencontainers.image.ref.name = tag.
func NewLayoutLegacyReader(dir string) *LegacyReader {
	return &LegacyReader{image: func(_ context.Context, tag string) (v1.Image, error) {
		p, err := layout.FromPath(dir)
		if err != nil {
			return nil, err
		}
		idx, err := p.ImageIndex()
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, d := range im.Manifests {
			if d.Annotations["org.opencontainers.image.ref.name"] == tag {
				return idx.Image(d.Digest)
			}
		}
		return nil, nil
	}}
}

// Attestations returns the DSSE layers of sha256-<hex>.att.
func (r *LegacyReader) Attestations(ctx context.Context, subject v1.Hash) ([]LegacyLayer, error) {
	return r.layers(ctx, subject.Algorithm+"-"+subject.Hex+".att")
}

func (r *LegacyReader) layers(ctx context.Context, tag string) ([]LegacyLayer, error) {
	img, err := r.image(ctx, tag)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", tag, err)
	}
	if img == nil {
		return nil, nil
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read %s manifest: %w", tag, err)
	}
	out := make([]LegacyLayer, 0, len(m.Layers))
	for _, d := range m.Layers {
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("%s layer %s: %w", tag, d.Digest, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, fmt.Errorf("%s layer %s: %w", tag, d.Digest, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, 16<<20))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s layer %s: %w", tag, d.Digest, err)
		}
		if h, _, err := v1.SHA256(bytes.NewReader(data)); err != nil || h != d.Digest {
			return nil, fmt.Errorf("%w: %s layer %s does not match its digest", ErrLegacyFormat, tag, d.Digest)
		}
		out = append(out, LegacyLayer{MediaType: string(d.MediaType), Data: data, Annotations: d.Annotations})
	}
	return out, nil
}
