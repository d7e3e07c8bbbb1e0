package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/clearcutt/clearcutt/internal/fsutil"
)

// AnnotationRefName is the OCI layout annotation naming an entry of
// index.json (e.g. "python:distroless").
const AnnotationRefName = "org.opencontainers.image.ref.name"

const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// WriteLayout writes idx, its images and their blobs into the OCI layout at
// dir (created if missing), then records idx in index.json. Blobs are
// written first; index.json is replaced atomically, so an interrupted run
// leaves the old or the new index.json, and a rerun completes. An older
// entry with the same ref name is replaced; with refName empty, an entry
// with the same digest is kept rather than duplicated.
func WriteLayout(ctx context.Context, dir string, idx v1.ImageIndex, refName string) (v1.Descriptor, error) {
	if err := ctx.Err(); err != nil {
		return v1.Descriptor{}, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return v1.Descriptor{}, err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, "oci-layout"), []byte(ociLayoutFile), 0o644); err != nil {
		return v1.Descriptor{}, err
	}
	if err := writeBlobs(dir, idx); err != nil {
		return v1.Descriptor{}, err
	}
	d, err := idx.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	size, err := idx.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	desc := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: d, Size: size}
	if refName != "" {
		desc.Annotations = map[string]string{AnnotationRefName: refName}
	}
	if err := updateIndexJSON(dir, desc); err != nil {
		return v1.Descriptor{}, err
	}
	return desc, nil
}

// writeBlobs writes the blobs of idx into the layout at dir under a lock
// on its blobs directory. go-containerregistry writes a blob of known
// digest in place, so two writers of one layer (images that share it,
// assembled at the same time) would otherwise truncate each other's file
// while the first already reads it as present.
func writeBlobs(dir string, idx v1.ImageIndex) error {
	unlock, err := fsutil.LockDir(filepath.Join(dir, "blobs"))
	if err != nil {
		return err
	}
	defer unlock()
	if err := layout.Path(dir).WriteIndex(idx); err != nil {
		return fmt.Errorf("layout %s: %w", dir, err)
	}
	return nil
}

func updateIndexJSON(dir string, desc v1.Descriptor) error {
	return EditLayoutIndex(dir, func(im *v1.IndexManifest) (bool, error) {
		name := desc.Annotations[AnnotationRefName]
		kept := []v1.Descriptor{}
		for _, d := range im.Manifests {
			other := d.Annotations[AnnotationRefName]
			if name != "" && other == name {
				continue
			}
			if name == "" && other == "" && d.Digest == desc.Digest {
				continue
			}
			kept = append(kept, d)
		}
		im.Manifests = append(kept, desc)
		return true, nil
	})
}

// EditLayoutIndex is the one read-modify-write of the index.json of the
// layout at dir (created if missing, with its oci-layout file): it holds
// an exclusive lock on dir (fsutil.LockDir) while it reads index.json (a
// missing one is an empty index), calls edit, and, when edit reports a
// change, replaces index.json atomically. Concurrent editors, in this
// process or another, each see the others' changes; none is lost. Blobs
// the new entries name must be written before or inside edit.
func EditLayoutIndex(dir string, edit func(*v1.IndexManifest) (changed bool, err error)) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := fsutil.LockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	file := filepath.Join(dir, "index.json")
	im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	raw, err := os.ReadFile(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(raw, &im); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	changed, err := edit(&im)
	if err != nil || !changed {
		return err
	}
	if im.SchemaVersion == 0 {
		im.SchemaVersion = 2
	}
	if im.MediaType == "" {
		im.MediaType = types.OCIImageIndex
	}
	out, err := json.Marshal(im)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); errors.Is(err, os.ErrNotExist) {
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, "oci-layout"), []byte(ociLayoutFile), 0o644); err != nil {
			return err
		}
	}
	return fsutil.WriteFileAtomic(file, out, 0o644)
}

// ReadLayoutIndex returns the index with digest d recorded in the
// index.json of the layout at dir.
func ReadLayoutIndex(dir string, d v1.Hash) (v1.ImageIndex, error) {
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", dir, err)
	}
	im, err := root.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("layout %s: index.json: %w", dir, err)
	}
	for _, desc := range im.Manifests {
		if desc.Digest == d {
			if !desc.MediaType.IsIndex() {
				return nil, fmt.Errorf("%w: layout %s: %s is not an image index but a %s; give the digest of the multi-platform index", ErrNotIndex, dir, d, desc.MediaType)
			}
			idx, err := root.ImageIndex(d)
			if err != nil {
				return nil, fmt.Errorf("layout %s: %s: %w", dir, d, err)
			}
			return idx, nil
		}
	}
	// A platform image of one of the layout's indexes is named as such.
	for _, desc := range im.Manifests {
		if !desc.MediaType.IsIndex() {
			continue
		}
		child, err := root.ImageIndex(desc.Digest)
		if err != nil {
			continue
		}
		if cm, err := child.IndexManifest(); err == nil {
			for _, m := range cm.Manifests {
				if m.Digest == d {
					return nil, fmt.Errorf("%w: layout %s: %s is a platform image of the index %s, not an index; give the index digest", ErrNotIndex, dir, d, desc.Digest)
				}
			}
		}
	}
	return nil, fmt.Errorf("%w: layout %s has no index %s in index.json", ErrNotFound, dir, d)
}

// blobsOf lists the distinct layer and config blobs of idx's images, with
// their sizes, in a stable order.
func blobsOf(idx v1.ImageIndex) ([]v1.Descriptor, map[string]v1.Hash, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	seen := map[v1.Hash]bool{}
	var out []v1.Descriptor
	plats := map[string]v1.Hash{}
	for _, d := range im.Manifests {
		if d.Platform != nil {
			plats[d.Platform.String()] = d.Digest
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, nil, err
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, nil, err
		}
		for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if !seen[b.Digest] {
				seen[b.Digest] = true
				out = append(out, b)
			}
		}
	}
	return out, plats, nil
}
