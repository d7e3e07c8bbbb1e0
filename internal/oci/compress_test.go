package oci

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"testing"

	"github.com/clearcutt/clearcutt/internal/closure"
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
