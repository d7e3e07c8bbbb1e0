package catalog

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/clearcutt/clearcutt/internal/closure"
)

// scrubLayer is a layer holding a runtime's scrub report and, when link is
// set, the image root's link to it.
func scrubLayer(t *testing.T, report, link string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	const rt = "nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-python3-3.11.2"
	write := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	write(&tar.Header{Name: rt + "/nix-support/clearcutt-scrub.json", Typeflag: tar.TypeReg, Mode: 0o444}, report)
	if link != "" {
		write(&tar.Header{Name: "etc/clearcutt/closure-scrub.json", Typeflag: tar.TypeSymlink, Linkname: link, Mode: 0o777}, "")
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestScrubReportIsReadFromTheImage(t *testing.T) {
	const report = `{"schema":"clearcutt.dev/closure-scrub/v1","runtime":"python3-3.11.2","removedFromClosure":["bash-5.2.15"],
		"files":[{"path":"bin/python3.11-config","action":"removed","reason":"shell script: #!…-bash-5.2.15/bin/sh"}]}`
	const target = "/nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-python3-3.11.2/nix-support/clearcutt-scrub.json"
	read := func(report, link string) (*closure.Scrub, error) {
		f, err := readLayer(scrubLayer(t, report, link))
		if err != nil {
			t.Fatal(err)
		}
		return scrubOf([]layerFacts{f})
	}
	s, err := read(report, target)
	if err != nil || s == nil || s.Runtime != "python3-3.11.2" || len(s.RemovedFromClosure) != 1 || s.RemovedFromClosure[0] != "bash-5.2.15" ||
		len(s.Files) != 1 || s.Files[0].Action != closure.ScrubRemoved {
		t.Fatalf("scrub %+v, %v", s, err)
	}
	// A relative link resolves against /etc/clearcutt.
	if s, err := read(report, "../.."+target); err != nil || s == nil {
		t.Errorf("relative link: %+v, %v", s, err)
	}
	// No link: the runtime is carried as it is.
	if s, err := read(report, ""); err != nil || s != nil {
		t.Errorf("no link: %+v, %v", s, err)
	}
	// A link to a report the image does not hold, and a malformed report,
	// are errors, never an empty report.
	if _, err := read(report, "/nix/store/x-missing/nix-support/clearcutt-scrub.json"); err == nil || !strings.Contains(err.Error(), "does not hold") {
		t.Errorf("dangling link: %v", err)
	}
	if _, err := read(strings.Replace(report, `"action":"removed"`, `"action":"hidden"`, 1), target); !errors.Is(err, closure.ErrScrub) || !strings.Contains(err.Error(), `action "hidden"`) {
		t.Errorf("unknown action: %v", err)
	}
	if _, err := read(strings.Replace(report, "closure-scrub/v1", "closure-scrub/v9", 1), target); !errors.Is(err, closure.ErrScrub) {
		t.Errorf("unknown schema: %v, want closure.ErrScrub", err)
	}
}
