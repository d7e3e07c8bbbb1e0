package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/clearcutt/clearcutt/internal/fsutil"
	"github.com/clearcutt/clearcutt/internal/oci"
)

// layoutStore keeps referrers in an OCI layout: the artifact blobs go into
// blobs/, and the referrers of digest D are the OCI index named
// "sha256-<hex of D>" (org.opencontainers.image.ref.name) in index.json,
// the same index the tag fallback keeps in a registry. index.json is read,
// updated and replaced under the layout's lock (oci.EditLayoutIndex).
type layoutStore struct {
	dir string
	o   StoreOptions
}

func (s *layoutStore) String() string { return oci.LayoutPrefix + s.dir }

// FallbackTag is the referrers tag schema name of digest d: "sha256-<hex>".
func FallbackTag(d v1.Hash) string { return d.Algorithm + "-" + d.Hex }

func (s *layoutStore) blobPath(d v1.Hash) string {
	return filepath.Join(s.dir, "blobs", d.Algorithm, d.Hex)
}

func (s *layoutStore) writeBlob(d v1.Hash, data []byte) error {
	p := s.blobPath(d)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(p, data, 0o644)
}

func (s *layoutStore) readBlob(d v1.Descriptor) ([]byte, error) {
	if d.Size > s.o.MaxBundleSize {
		return nil, fmt.Errorf("%w: %s: blob %s is %d bytes (limit %d)", ErrBadArtifact, s, d.Digest, d.Size, s.o.MaxBundleSize)
	}
	data, err := os.ReadFile(s.blobPath(d.Digest))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	if err := checkBlob(d, data); err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	return data, nil
}

// rootIndex reads index.json; a missing file is an empty index.
func (s *layoutStore) rootIndex() (*v1.IndexManifest, error) {
	p := filepath.Join(s.dir, "index.json")
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil
	}
	if err != nil {
		return nil, err
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(raw, &im); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &im, nil
}

// referrers returns the position of subject's referrers index in the root
// index (-1 when absent) and its content.
func (s *layoutStore) referrers(root *v1.IndexManifest, subject v1.Hash) (int, *v1.IndexManifest, error) {
	tag := FallbackTag(subject)
	for i, d := range root.Manifests {
		if d.Annotations[oci.AnnotationRefName] != tag {
			continue
		}
		raw, err := s.readBlob(root.Manifests[i])
		if err != nil {
			return 0, nil, err
		}
		var im v1.IndexManifest
		if err := json.Unmarshal(raw, &im); err != nil {
			return 0, nil, fmt.Errorf("%s: referrers index %s: %w", s, d.Digest, err)
		}
		return i, &im, nil
	}
	return -1, &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil
}

func (s *layoutStore) Attach(ctx context.Context, subject v1.Descriptor, bundle []byte, predicateType string) (v1.Hash, error) {
	if err := ctx.Err(); err != nil {
		return v1.Hash{}, err
	}
	a, err := newArtifact(subject, bundle, predicateType, s.o.Created)
	if err != nil {
		return v1.Hash{}, err
	}
	// The root index is read, the referrers index extended and index.json
	// replaced under the layout's lock: concurrent attaches (the workers of
	// a rescan) each keep the others' artifacts.
	got := a.digest
	err = oci.EditLayoutIndex(s.dir, func(root *v1.IndexManifest) (bool, error) {
		pos, refs, err := s.referrers(root, subject.Digest)
		if err != nil {
			return false, err
		}
		for _, d := range refs.Manifests {
			if d.Digest == a.digest {
				return false, nil
			}
			raw, err := s.readBlob(d)
			if err != nil {
				return false, err
			}
			if r, ok := parseArtifact(raw, subject.Digest); ok && r.layer.Digest == a.layer.Digest {
				got = d.Digest
				return false, nil
			}
		}
		// Blobs first, index.json last: an interrupted attach leaves only
		// unreferenced blobs behind.
		for _, b := range []struct {
			d    v1.Hash
			data []byte
		}{{a.config.Digest, emptyJSON}, {a.layer.Digest, bundle}, {a.digest, a.manifest}} {
			if err := s.writeBlob(b.d, b.data); err != nil {
				return false, err
			}
		}
		refs.Manifests = append(refs.Manifests, a.desc)
		sort.Slice(refs.Manifests, func(i, j int) bool { return refs.Manifests[i].Digest.String() < refs.Manifests[j].Digest.String() })
		raw, err := json.Marshal(refs)
		if err != nil {
			return false, err
		}
		h, n, err := v1.SHA256(bytes.NewReader(raw))
		if err != nil {
			return false, err
		}
		if err := s.writeBlob(h, raw); err != nil {
			return false, err
		}
		entry := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h, Size: n,
			Annotations: map[string]string{oci.AnnotationRefName: FallbackTag(subject.Digest)}}
		if pos >= 0 {
			root.Manifests[pos] = entry
		} else {
			root.Manifests = append(root.Manifests, entry)
		}
		return true, nil
	})
	if err != nil {
		return v1.Hash{}, err
	}
	return got, nil
}

func (s *layoutStore) List(ctx context.Context, subject v1.Hash) ([]Stored, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := s.rootIndex()
	if err != nil {
		return nil, err
	}
	_, refs, err := s.referrers(root, subject)
	if err != nil {
		return nil, err
	}
	var out []Stored
	for _, d := range refs.Manifests {
		raw, err := s.readBlob(d)
		if err != nil {
			out = append(out, Stored{Digest: d.Digest, PredicateType: d.Annotations[AnnotationPredicateType], Err: err})
			continue
		}
		r, ok := parseArtifact(raw, subject)
		if !ok {
			continue
		}
		data, err := s.readBlob(r.layer)
		if err != nil {
			out = append(out, Stored{Digest: d.Digest, PredicateType: r.predicateType, Err: err})
			continue
		}
		out = append(out, Stored{Digest: d.Digest, PredicateType: r.predicateType, MediaType: string(r.layer.MediaType), Bundle: data, Created: r.created})
	}
	return out, nil
}
