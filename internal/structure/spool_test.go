package structure

import (
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// swappingLayer serves its first uncompressed stream from Layer and
// every later one from then: a blob replaced while the gate reads it.
type swappingLayer struct {
	v1.Layer
	then  v1.Layer
	calls int
}

func (l *swappingLayer) Uncompressed() (io.ReadCloser, error) {
	l.calls++
	if l.calls == 1 {
		return l.Layer.Uncompressed()
	}
	return l.then.Uncompressed()
}

// Each layer is decompressed once, and the filesystem checks judge the
// bytes the layer checks read: a layer whose stream changes between two
// reads cannot show one content to one check and another to the next.
func TestLayersAreReadOnce(t *testing.T) {
	top := &swappingLayer{
		Layer: layer(t, plain("opt/notes.txt", "x")),
		then:  layer(t, file("opt/start", 0o755, []byte("#!/bin/sh\nexec app\n"))),
	}
	img := image(t, runtime.GOARCH, distrolessConfig(), layer(t, distrolessFS(t)...), top)
	top.calls = 0

	res := run(t, img, "distroless", distrolessRules)
	if top.calls != 1 {
		t.Errorf("the top layer was decompressed %d times, want 1", top.calls)
	}
	wantStatus(t, res, IDNoShell, Passed)
}

// A layer stream that cannot be kept is the machine's failure, not the
// image's: it is no ErrImage, and the error names the file.
func TestSpoolFailureIsNotAnImageError(t *testing.T) {
	img := image(t, runtime.GOARCH, distrolessConfig(), layer(t, distrolessFS(t)...))
	dir := filepath.Join(t.TempDir(), "missing")
	_, _, err := scanLayers(img, dir)
	if err == nil {
		t.Fatal("no error for a spool directory that does not exist")
	}
	if errors.Is(err, ErrImage) {
		t.Errorf("reported as an image error: %v", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, "layer-0.tar")) {
		t.Errorf("error does not name the file: %v", err)
	}
}
