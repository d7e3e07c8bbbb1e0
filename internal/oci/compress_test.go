package oci

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"testing"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/klauspost/compress/flate"
)

// layerInput is size bytes of deterministic, partly compressible data: words
// from a small vocabulary (so matches reach across block boundaries) mixed
// with runs of random bytes.
func layerInput(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"ELF", "/nix/store/", "python3.11", "lib", "\x00\x00\x00\x00", "import ", "def ", "return ", "\n", "    "}
	b := make([]byte, 0, size+64)
	for len(b) < size {
		if r.IntN(8) == 0 {
			for range r.IntN(48) {
				b = append(b, byte(r.Uint32()))
			}
			continue
		}
		b = append(b, words[r.IntN(len(words))]...)
	}
	return b[:size]
}

// compressLayer writes in through writeLayerFile with the given workers and
// GOMAXPROCS, chunk bytes per Write (all at once when chunk is 0), and
// returns the layer and its file's bytes.
func compressLayer(t *testing.T, in []byte, workers, procs, chunk int) (*FileLayer, []byte) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	l, err := writeLayerFile(t.TempDir(), "layer-*", workers, func(w io.Writer) error {
		if chunk == 0 {
			_, err := w.Write(in)
			return err
		}
		for p := in; len(p) > 0; {
			n := min(chunk, len(p))
			if _, err := w.Write(p[:n]); err != nil {
				return err
			}
			p = p[n:]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	return l, b
}

// TestLayerGzipIndependentOfWorkers: the compressed bytes of a layer are the
// same with one worker or many, under any GOMAXPROCS, whatever the sizes of
// the writes, for inputs shorter than a block, of exactly whole blocks and
// of several blocks plus a remainder.
func TestLayerGzipIndependentOfWorkers(t *testing.T) {
	for _, size := range []int{0, 1, 100 << 10, gzipBlockSize, 2 * gzipBlockSize, 3*gzipBlockSize + 12345} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			in := layerInput(size, uint64(size))
			ref, want := compressLayer(t, in, 1, 1, 0)
			for _, c := range []struct{ workers, procs, chunk int }{
				{1, 1, 4096}, {2, 1, 0}, {2, 2, 32 << 10}, {3, 4, 7777}, {8, 8, 0}, {8, 2, 1 << 20}, {gzipWorkers(), 8, 512},
			} {
				l, got := compressLayer(t, in, c.workers, c.procs, c.chunk)
				if !bytes.Equal(got, want) || l.digest != ref.digest || l.size != ref.size || l.diffID != ref.diffID {
					t.Fatalf("%d workers, GOMAXPROCS %d, writes of %d: digest %s (%d bytes), with 1 worker %s (%d bytes)",
						c.workers, c.procs, c.chunk, l.digest, l.size, ref.digest, ref.size)
				}
			}
		})
	}
}

// TestLayerGzipIsOneStandardMember: a layer is a single gzip member with a
// fixed header that compress/gzip (what go-containerregistry, containerd and
// docker read it with) decompresses to the input, and whose digest, diff_id
// and size describe the file.
func TestLayerGzipIsOneStandardMember(t *testing.T) {
	in := layerInput(2*gzipBlockSize+999, 7)
	l, b := compressLayer(t, in, 4, 4, 10000)
	// ID1 ID2 CM=8 FLG=0 MTIME=0 XFL=0 OS=255
	if hdr := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}; !bytes.Equal(b[:10], hdr) {
		t.Errorf("header % x, want % x", b[:10], hdr)
	}
	// bytes.Reader is an io.ByteReader, so gzip.Reader reads no further
	// than the end of the member.
	br := bytes.NewReader(b)
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, in) {
		t.Fatalf("decompressed %d bytes differ from the %d written", len(out), len(in))
	}
	if br.Len() != 0 {
		t.Fatalf("%d bytes follow the gzip member", br.Len())
	}
	sum := sha256.Sum256(b)
	diff := sha256.Sum256(in)
	if l.digest.Hex != hex.EncodeToString(sum[:]) || l.diffID.Hex != hex.EncodeToString(diff[:]) || l.size != int64(len(b)) {
		t.Fatalf("layer %s %s %d does not describe its file", l.digest, l.diffID, l.size)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if out, err := io.ReadAll(rc); err != nil || !bytes.Equal(out, in) {
		t.Fatalf("Uncompressed: %d bytes, %v", len(out), err)
	}
}

// TestAssembleIndependentOfWorkers assembles a closure with a store path
// larger than several compression blocks under GOMAXPROCS 1 (one worker)
// and 8 (eight workers): every layer digest and the index digest are the
// same, and every layer decompresses to the tar Assemble wrote.
func TestAssembleIndependentOfWorkers(t *testing.T) {
	s := newStore(t)
	_, a := newFixtureIn(t, s, "amd64")
	big := s.add("libbig-1.0", nil,
		entry{rel: "lib/libbig.so", content: string(layerInput(3*gzipBlockSize+4321, 1))},
		entry{rel: "share/big.txt", content: string(layerInput(gzipBlockSize/2, 2))})
	a.Paths = append(a.Paths, big)
	sort.Slice(a.Paths, func(i, j int) bool { return a.Paths[i].Path < a.Paths[j].Path })
	a.ClosureSize += big.NarSize
	ms := []*closure.Manifest{a}

	run := func(procs int) Result {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		return assemble(t, assembleOpts(s, ms, t.TempDir()))
	}
	one, many := run(1), run(8)
	if one.Digest != many.Digest {
		t.Fatalf("index digest %s with one worker, %s with eight", one.Digest, many.Digest)
	}
	lo, lm := one.Images[0].Layers, many.Images[0].Layers
	if len(lo) != len(lm) {
		t.Fatalf("%d layers vs %d", len(lo), len(lm))
	}
	sawBig := false
	for i := range lo {
		if lo[i].Digest != lm[i].Digest || lo[i].DiffID != lm[i].DiffID || lo[i].Size != lm[i].Size {
			t.Errorf("layer %s: %s vs %s", lo[i].Describe, lo[i].Digest, lm[i].Digest)
		}
		sawBig = sawBig || lo[i].Describe == big.Path
	}
	if !sawBig {
		t.Fatalf("no layer of its own for %s", big.Path)
	}

	// go-containerregistry reads every layer back and checks its digest,
	// diff_id and size against the manifest and config.
	if err := validate.Index(many.Index); err != nil {
		t.Fatal(err)
	}
	// Each layer decompresses to the tar whose sha256 is its diff_id,
	// computed from the bytes written into the compressor.
	layers, err := many.Images[0].Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(rc)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, zr)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != lm[i].DiffID.Hex {
			t.Errorf("layer %s decompresses to sha256:%s, its diff_id is %s", lm[i].Describe, got, lm[i].DiffID)
		}
	}
}

// referenceGzip is the layer format written out sequentially with a new
// deflate encoder per block: the header, then for each gzipBlockSize block
// (and one more, empty, when the input ends on a boundary) the block
// deflated with the previous block's last 16 KiB as dictionary and a sync
// flush, the last block closing the stream, then CRC-32 and size.
func referenceGzip(t *testing.T, in []byte) []byte {
	t.Helper()
	out := bytes.NewBuffer([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255})
	var dict []byte
	for off := 0; ; off += gzipBlockSize {
		block := in[off:min(off+gzipBlockSize, len(in))]
		last := off+gzipBlockSize > len(in)
		fw, err := flate.NewWriterDict(out, gzipLevel, dict)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(block); err != nil {
			t.Fatal(err)
		}
		must(t, fw.Flush())
		if last {
			must(t, fw.Close())
			break
		}
		dict = nil
		if len(block) > 16<<10 {
			dict = block[len(block)-16<<10:]
		}
	}
	binary.Write(out, binary.LittleEndian, crc32.ChecksumIEEE(in))
	binary.Write(out, binary.LittleEndian, uint32(len(in)))
	return out.Bytes()
}

// TestLayerGzipMatchesReference: the parallel compressor writes exactly
// what the sequential definition of the format gives.
func TestLayerGzipMatchesReference(t *testing.T) {
	for _, size := range []int{0, 1, 16 << 10, gzipBlockSize, gzipBlockSize + 100, 3*gzipBlockSize + 12345} {
		in := layerInput(size, uint64(size)+11)
		_, got := compressLayer(t, in, 4, 4, 5000)
		if want := referenceGzip(t, in); !bytes.Equal(got, want) {
			t.Errorf("%d bytes: the layer (%d bytes) differs from the reference (%d bytes)", size, len(got), len(want))
		}
	}
}

// TestLayerGzipGolden pins the compressed bytes of a fixed input. They
// change only with the level, the block size or the deflate implementation
// (a klauspost/compress or pgzip upgrade may change them): any of these is
// a new layer format, so layerFormat must change with this digest.
func TestLayerGzipGolden(t *testing.T) {
	const want = "sha256:981be822fb55f19dbf0aa54f6a451b8ea7e31708b931c86c0169a6218d76db71"
	l, _ := compressLayer(t, layerInput(3*gzipBlockSize+12345, 3), 2, 2, 0)
	if l.digest.String() != want {
		t.Fatalf("digest %s (%d bytes), pinned %s: the compressed bytes changed; change layerFormat and this digest together", l.digest, l.size, want)
	}
}
