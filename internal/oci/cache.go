package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fsutil"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layerFormat versions everything that shapes a layer's bytes besides its
// inputs (tar header format, directory modes, the compressor, its level and
// block size). Changing any of them must change this string so old cache
// entries are never reused; TestLayerGzipGolden fails when the compressed
// bytes change.
const layerFormat = "clearcutt-layer/v3 gnu-tar pgzip-6-1MiB storedir-0755 moded-symlinks-copied"

// layerCache stores compressed layers as <key>.tar.gz with a <key>.json
// sidecar ({digest, diffID, size}). Both are written to a temporary file
// and renamed, blob first, so a sidecar always describes a complete blob.
type layerCache struct {
	dir string
}

type cacheMeta struct {
	Digest string `json:"digest"`
	DiffID string `json:"diffID"`
	Size   int64  `json:"size"`
}

// layerKey is sha256 over the inputs that determine the layer's bytes.
func layerKey(l PlannedLayer, perms []permKey, storeDir string, epoch int64) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nepoch %d\nstore %s\nkind %s\n", layerFormat, epoch, storeDir, l.Kind)
	var paths []string
	for _, p := range l.Paths {
		paths = append(paths, p.Path+" "+p.NarHash)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(h, "path %s\n", p)
	}
	if l.Kind == KindRoot {
		for _, p := range perms {
			fmt.Fprintf(h, "perm %s %s %d %d\n", p.path, p.mode, p.uid, p.gid)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

type permKey struct {
	path, mode string
	uid, gid   int
}

// get returns the cached layer for key, or nil on a miss. An entry whose
// blob does not match its sidecar is removed and reported as a miss.
func (c *layerCache) get(key string) (*FileLayer, error) {
	blob, metaPath := c.paths(key)
	raw, err := os.ReadFile(metaPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	l, err := func() (*FileLayer, error) {
		var m cacheMeta
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		d, err := v1.NewHash(m.Digest)
		if err != nil {
			return nil, err
		}
		diff, err := v1.NewHash(m.DiffID)
		if err != nil {
			return nil, err
		}
		f, err := os.Open(blob)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return nil, err
		}
		if n != m.Size || hex.EncodeToString(h.Sum(nil)) != d.Hex {
			return nil, fmt.Errorf("blob %s does not match its digest %s", blob, d)
		}
		return &FileLayer{path: blob, digest: d, diffID: diff, size: n}, nil
	}()
	if err != nil {
		os.Remove(metaPath)
		os.Remove(blob)
		return nil, nil
	}
	return l, nil
}

// put builds a layer by running write into a gzip stream and stores it.
func (c *layerCache) put(key string, write func(io.Writer) error) (*FileLayer, error) {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	blob, metaPath := c.paths(key)
	l, err := WriteLayerFile(c.dir, "layer-*.tmp", write)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(l.path, blob); err != nil {
		os.Remove(l.path)
		return nil, err
	}
	l.path = blob
	meta, _ := json.Marshal(cacheMeta{Digest: l.digest.String(), DiffID: l.diffID.String(), Size: l.size})
	if err := fsutil.WriteFileAtomic(metaPath, meta, 0o644); err != nil {
		return nil, err
	}
	return l, nil
}

func (c *layerCache) paths(key string) (blob, meta string) {
	return filepath.Join(c.dir, key+".tar.gz"), filepath.Join(c.dir, key+".json")
}

// parsePermKeys normalises permissions for the cache key.
func parsePermKeys(ps []closure.Permission) []permKey {
	out := make([]permKey, 0, len(ps))
	for _, p := range ps {
		out = append(out, permKey{path: p.Path, mode: p.Mode, uid: p.UID, gid: p.GID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}
