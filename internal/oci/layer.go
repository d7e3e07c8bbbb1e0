package oci

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// gzipLevel is fixed: the stdlib compressor is deterministic for a level.
const gzipLevel = 6

// FileLayer is a v1.Layer backed by a gzip file whose digest, diff_id and
// size are known without reading it.
type FileLayer struct {
	path   string
	digest v1.Hash
	diffID v1.Hash
	size   int64
}

var _ v1.Layer = (*FileLayer)(nil)

// WriteLayerFile runs write into a gzip stream compressed at the fixed level
// of every ClearCutt layer, stored in a new file in dir (named from pattern
// as os.CreateTemp names it, and synced), and returns the layer backed by
// that file, its digest, diff_id and size computed while writing. On any
// error the file is removed.
func WriteLayerFile(dir, pattern string, write func(io.Writer) error) (*FileLayer, error) {
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*FileLayer, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	compressed, uncompressed, counter := sha256.New(), sha256.New(), &countWriter{}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(tmp, compressed, counter), gzipLevel)
	if err != nil {
		return fail(err)
	}
	if err := write(io.MultiWriter(zw, uncompressed)); err != nil {
		return fail(err)
	}
	if err := zw.Close(); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	return &FileLayer{path: tmp.Name(), digest: sum(compressed), diffID: sum(uncompressed), size: counter.n}, nil
}

// Path returns the file holding the compressed layer.
func (l *FileLayer) Path() string { return l.path }

// Digest returns the sha256 of the compressed layer.
func (l *FileLayer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID returns the sha256 of the uncompressed layer.
func (l *FileLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Size returns the size of the compressed layer in bytes.
func (l *FileLayer) Size() (int64, error) { return l.size, nil }

// MediaType returns the OCI gzip layer media type.
func (l *FileLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// Compressed opens the layer's file.
func (l *FileLayer) Compressed() (io.ReadCloser, error) { return os.Open(l.path) }

// Uncompressed opens the layer's file through a gzip reader.
func (l *FileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &readCloser{Reader: zr, close: func() error { zr.Close(); return f.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
