package oci

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"os"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/pgzip"
)

// Layer compression. A layer is one gzip member (RFC 1952) whose deflate
// stream is cut into blocks of exactly gzipBlockSize uncompressed bytes
// (the last one shorter, empty when the input ends on a boundary); the
// blocks are compressed concurrently by github.com/klauspost/pgzip and
// written in order.
//
// The bytes are a function of the uncompressed input, gzipLevel and
// gzipBlockSize only, never of the number of workers, GOMAXPROCS or timing:
//   - block boundaries fall at fixed offsets of the input, whatever the
//     sizes of the writes that fed it;
//   - each block is compressed by its own deflate encoder (klauspost/compress
//     flate at gzipLevel, reset before every block) primed with the last
//     16 KiB of the previous block's input as its dictionary, and ends with a
//     sync flush (the last one with the final block), so a block's output
//     depends on its input and that tail alone;
//   - blocks are written in input order, whichever finishes first;
//   - the header is fixed: no name, comment or extra field, MTIME 0, OS 255
//     (unknown), as compress/gzip and `gzip -n` write it.
//
// Workers only decide how many blocks are in flight, which bounds memory
// to about three block-sized buffers per worker. TestLayerGzipMatchesReference
// checks the output against the format written out sequentially with a new
// encoder per block. Changing the level, the block size or the deflate
// implementation (an upgrade of klauspost/compress or pgzip may) changes
// every layer digest: layerFormat names them, and TestLayerGzipGolden pins
// one digest so such a change cannot go unnoticed.
const (
	gzipLevel      = 6
	gzipBlockSize  = 1 << 20
	maxGzipWorkers = 8
)

// gzipWorkers is the number of blocks compressed at once: GOMAXPROCS,
// at most maxGzipWorkers.
func gzipWorkers() int {
	return min(max(runtime.GOMAXPROCS(0), 1), maxGzipWorkers)
}

// newLayerGzip returns the layer compressor writing to w with workers
// blocks in flight.
func newLayerGzip(w io.Writer, workers int) (*pgzip.Writer, error) {
	zw, err := pgzip.NewWriterLevel(w, gzipLevel)
	if err != nil {
		return nil, err
	}
	if err := zw.SetConcurrency(gzipBlockSize, max(workers, 1)); err != nil {
		return nil, err
	}
	// pgzip writes the Unix time of ModTime as is; the zero time.Time would
	// not give MTIME 0.
	zw.ModTime = time.Unix(0, 0)
	return zw, nil
}

// FileLayer is a v1.Layer backed by a gzip file whose digest, diff_id and
// size are known without reading it.
type FileLayer struct {
	path   string
	digest v1.Hash
	diffID v1.Hash
	size   int64
}

var _ v1.Layer = (*FileLayer)(nil)

// WriteLayerFile runs write into the gzip stream of every ClearCutt layer
// (level 6, compressed in parallel blocks; see gzipLevel), stored in a new
// file in dir (named from pattern as os.CreateTemp names it, and synced), and
// returns the layer backed by that file, its digest, diff_id and size
// computed while writing. On any error the file is removed. The file's bytes
// depend only on what write writes.
func WriteLayerFile(dir, pattern string, write func(io.Writer) error) (*FileLayer, error) {
	return writeLayerFile(dir, pattern, gzipWorkers(), write)
}

func writeLayerFile(dir, pattern string, workers int, write func(io.Writer) error) (*FileLayer, error) {
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
	zw, err := newLayerGzip(io.MultiWriter(tmp, compressed, counter), workers)
	if err != nil {
		return fail(err)
	}
	if err := write(io.MultiWriter(zw, uncompressed)); err != nil {
		zw.Close()
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
