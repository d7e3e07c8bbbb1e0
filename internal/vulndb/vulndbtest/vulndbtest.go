// Package vulndbtest publishes Grype v6 databases the way Anchore does, for
// tests of the code that fetches them: a .tar.zst archive named as grype-db
// names it and a latest.json listing written with grype's own distribution
// types, served over HTTPS from an in-process server.
package vulndbtest

import (
	"archive/tar"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	v6 "github.com/anchore/grype/grype/db/v6"
	"github.com/anchore/grype/grype/db/v6/distribution"
	"github.com/klauspost/compress/zstd"
)

// Published is a database packaged for distribution.
type Published struct {
	// Dir holds the archive and the listing.
	Dir string
	// Archive is the path of the .tar.zst archive.
	Archive string
	// Listing is the path of latest.json.
	Listing string
	// Doc is the listing as written.
	Doc distribution.LatestDocument
}

// Publish packages dbDir/vulnerability.db into a new directory: the archive
// vulnerability-db_vMODEL.REVISION.ADDITION_OLDEST_EPOCH.tar.zst holding the
// database at its root (as grype-db's package step writes it) and the
// latest.json listing that names it, with its sha256 checksum and the build
// time and schema version recorded in the database. edit, if not nil, may
// change the listing before it is written.
func Publish(t testing.TB, dbDir string, edit func(*distribution.LatestDocument)) Published {
	t.Helper()
	r, err := v6.NewReader(v6.Config{DBDirPath: dbDir})
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.GetDBMetadata()
	if err != nil || m == nil || m.BuildTimestamp == nil {
		t.Fatalf("no metadata in %s: %v", dbDir, err)
	}
	providers, err := r.AllProviders()
	if err != nil || len(providers) == 0 {
		t.Fatalf("no providers in %s: %v", dbDir, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var oldest time.Time
	for _, p := range providers {
		if p.DateCaptured == nil {
			t.Fatalf("provider %s in %s has no capture date", p.ID, dbDir)
		}
		if oldest.IsZero() || p.DateCaptured.Before(oldest) {
			oldest = *p.DateCaptured
		}
	}
	out := t.TempDir()
	name := fmt.Sprintf("vulnerability-db_v%d.%d.%d_%s_%d.tar.zst", m.Model, m.Revision, m.Addition,
		oldest.UTC().Format(time.RFC3339), m.BuildTimestamp.Unix())
	archive := filepath.Join(out, name)
	writeTarZst(t, archive, filepath.Join(dbDir, v6.VulnerabilityDBFileName))

	a, err := distribution.NewArchive(archive, *m.BuildTimestamp, m.Model, m.Revision, m.Addition)
	if err != nil {
		t.Fatal(err)
	}
	doc := distribution.NewLatestDocument(*a)
	if doc == nil {
		t.Fatalf("grype made no listing for %s", archive)
	}
	if edit != nil {
		edit(doc)
	}
	listing := filepath.Join(out, distribution.LatestFileName)
	f, err := os.Create(listing)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Write(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return Published{Dir: out, Archive: archive, Listing: listing, Doc: *doc}
}

// writeTarZst writes the file db as the only entry of a zstd-compressed
// tar archive, named by its base name.
func writeTarZst(t testing.TB, archive, db string) {
	t.Helper()
	in, err := os.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	zw, err := zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: filepath.Base(db), Size: st.Size(), Mode: 0o644, ModTime: st.ModTime()}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(tw, in); err != nil {
		t.Fatal(err)
	}
	for _, c := range []io.Closer{tw, zw, out} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Server serves directories over HTTPS from an in-process server.
type Server struct {
	*httptest.Server
	// CACert is a PEM file holding the server's certificate, to be trusted
	// by clients.
	CACert string
	// Requests lists the paths requested, in order (GET and HEAD).
	Requests func() []string
}

// Serve starts an HTTPS server that serves root under /databases/ (so a
// published database's listing is at URL+"/databases/v6/latest.json" when
// it is placed in root/v6). The server is closed when the test ends.
func Serve(t testing.TB, root string) *Server {
	t.Helper()
	reqs := make(chan string, 1024)
	files := http.StripPrefix("/databases/", http.FileServer(http.Dir(root)))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case reqs <- r.Method + " " + r.URL.Path:
		default:
		}
		files.ServeHTTP(w, r)
	}))
	// Clients that do not trust the certificate are expected in tests.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	var seen []string
	return &Server{Server: srv, CACert: ca, Requests: func() []string {
		for {
			select {
			case r := <-reqs:
				seen = append(seen, r)
			default:
				return append([]string(nil), seen...)
			}
		}
	}}
}

// Mirror places p in root/v6/ (creating it), the layout of Anchore's
// distribution, and returns that directory.
func Mirror(t testing.TB, root string, p Published) string {
	t.Helper()
	dir := filepath.Join(root, fmt.Sprintf("v%d", v6.ModelVersion))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{p.Archive, p.Listing} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
