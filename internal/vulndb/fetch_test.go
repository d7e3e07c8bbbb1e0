package vulndb_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anchore/grype/grype/db/v6/distribution"
	"github.com/anchore/grype/grype/db/v6/installation"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/ulikunitz/xz"

	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/testenv"
	"github.com/clearcutt/clearcutt/internal/vulndb"
	"github.com/clearcutt/clearcutt/internal/vulndb/vulndbtest"
)

const maxAge = 120 * time.Hour

// buildDB builds testdata/vulndb/advisories.yaml into a new database
// directory with the given build time.
func buildDB(t *testing.T, built time.Time) string {
	t.Helper()
	f, err := vulndb.Load(filepath.Join(testenv.RepoRoot(t), "testdata", "vulndb", "advisories.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := f.Build(context.Background(), dir, built); err != nil {
		t.Fatal(err)
	}
	return dir
}

// distribute publishes the database in dbDir as Anchore does and serves it;
// it returns the server and the distribution directory (ROOT/v6) on disk.
func distribute(t *testing.T, dbDir string, edit func(*distribution.LatestDocument)) (*vulndbtest.Server, vulndbtest.Published, string) {
	t.Helper()
	pub := vulndbtest.Publish(t, dbDir, edit)
	root := t.TempDir()
	v6dir := vulndbtest.Mirror(t, root, pub)
	return vulndbtest.Serve(t, root), pub, v6dir
}

func fetchOpts(srv *vulndbtest.Server, out string, steps *[]string) vulndb.FetchOptions {
	return vulndb.FetchOptions{
		ListingURL: srv.URL + "/databases/v6/latest.json",
		Dir:        out,
		MaxAge:     maxAge,
		CACert:     srv.CACert,
		Progress:   func(s string) { *steps = append(*steps, s) },
	}
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestFetchInstallsTheListedDatabase(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	built := now.Add(-time.Hour)
	srv, pub, _ := distribute(t, buildDB(t, built), nil)
	root := filepath.Join(t.TempDir(), "cache")
	out := filepath.Join(root, "6") // grype's own layout: DBRootDir/6

	var steps []string
	var transferred int64
	o := fetchOpts(srv, out, &steps)
	o.ListingURL = srv.URL + "/databases" // the distribution root, resolved as grype does
	o.Transfer = func(done, _ int64) { transferred = done }
	res, err := vulndb.Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	archiveURL := srv.URL + "/databases/v6/" + filepath.Base(pub.Archive)
	if res.ListingURL != srv.URL+"/databases/v6/latest.json" || res.ArchiveURL != archiveURL ||
		res.Checksum != pub.Doc.Checksum || !strings.HasPrefix(res.Checksum, "sha256:") || res.Status != "active" ||
		res.StaleDBAccepted || res.Replaced != nil || res.Dir != out {
		t.Fatalf("result = %+v", res)
	}
	st, _ := os.Stat(pub.Archive)
	if transferred != st.Size() {
		t.Errorf("transfer reported %d bytes, the archive has %d", transferred, st.Size())
	}
	info, err := vulndb.Describe(out)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Built.Equal(built) || info != res.DB || !strings.HasPrefix(info.SchemaVersion, "v6.") {
		t.Fatalf("installed %+v, result %+v, want built %s", info, res.DB, built)
	}
	if got := entries(t, out); !slices.Equal(got, []string{"import.json", "vulnerability.db"}) {
		t.Fatalf("%s holds %v", out, got)
	}
	if got := entries(t, root); !slices.Equal(got, []string{"6"}) {
		t.Fatalf("the fetch left %v next to the database", got)
	}
	want := []string{"reading the listing " + res.ListingURL, "downloading " + archiveURL, "archive matches " + res.Checksum, "hydrating", "installing in " + out}
	if len(steps) != len(want) {
		t.Fatalf("steps = %q", steps)
	}
	for i, w := range want {
		if !strings.HasPrefix(steps[i], w) {
			t.Errorf("step %d = %q, want %q…", i, steps[i], w)
		}
	}

	// grype's own installation code accepts the directory: schema, age and
	// the import metadata's digest of the database.
	cur, err := installation.NewCurator(installation.Config{DBRootDir: root, ValidateAge: true, ValidateChecksum: true, MaxAllowedBuiltAge: maxAge}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := cur.Status(); s.Error != nil || !s.Built.Equal(built) || s.From != archiveURL+"?checksum="+strings.ReplaceAll(res.Checksum, ":", "%3A") {
		t.Fatalf("grype status = %+v", s)
	}

	// The scanner matches against it.
	sbom, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "internal", "scan", "testdata", "python-closure.spdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	sr, err := scan.Run(context.Background(), scan.Options{SBOM: sbom, SBOMPath: "python-closure.spdx.json", DBDir: out, Now: now,
		Subject: scan.Subject{Name: "python:distroless", Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range sr.Findings {
		ids = append(ids, f.ID+" "+f.Package.Name)
	}
	if !slices.Contains(ids, "CVE-2023-40217 python3") || !slices.Contains(ids, "CVE-2023-4911 glibc") || !sr.Scanner.DB.Built.Equal(built) {
		t.Fatalf("scan against the fetched database: %q, db %+v", ids, sr.Scanner.DB)
	}

	// A newer build replaces the database whole.
	newer := now.Add(-10 * time.Minute)
	srv2, _, _ := distribute(t, buildDB(t, newer), nil)
	res2, err := vulndb.Fetch(context.Background(), fetchOpts(srv2, out, &steps))
	if err != nil {
		t.Fatal(err)
	}
	if res2.Replaced == nil || !res2.Replaced.Built.Equal(built) || !res2.DB.Built.Equal(newer) {
		t.Fatalf("replacing: %+v", res2)
	}
	if info, _ := vulndb.Describe(out); !info.Built.Equal(newer) {
		t.Fatalf("after replacing: %+v", info)
	}
	if got := entries(t, root); !slices.Equal(got, []string{"6"}) {
		t.Fatalf("replacing left %v next to the database", got)
	}
}

func TestFetchChecksumMismatchKeepsTheDatabase(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	oldDB := buildDB(t, now.Add(-48*time.Hour))
	parent := t.TempDir()
	out := filepath.Join(parent, "db")
	if err := os.Rename(oldDB, out); err != nil {
		t.Fatal(err)
	}
	before, err := vulndb.Describe(out)
	if err != nil {
		t.Fatal(err)
	}

	// The mirror serves another archive under the name the listing gives.
	other := vulndbtest.Publish(t, buildDB(t, now.Add(-2*time.Hour)), nil)
	srv, pub, v6dir := distribute(t, buildDB(t, now.Add(-time.Hour)), nil)
	b, err := os.ReadFile(other.Archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v6dir, filepath.Base(pub.Archive)), b, 0o644); err != nil {
		t.Fatal(err)
	}

	var steps []string
	_, err = vulndb.Fetch(context.Background(), fetchOpts(srv, out, &steps))
	if !errors.Is(err, vulndb.ErrChecksumMismatch) {
		t.Fatalf("err = %v, want ErrChecksumMismatch", err)
	}
	for _, want := range []string{filepath.Base(pub.Archive), "gives " + pub.Doc.Checksum, "has " + other.Doc.Checksum} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	after, err := vulndb.Describe(out)
	if err != nil || after != before {
		t.Fatalf("the database changed: %+v, was %+v (%v)", after, before, err)
	}
	if got := entries(t, out); !slices.Equal(got, []string{"vulnerability.db"}) {
		t.Fatalf("%s holds %v", out, got)
	}
	if got := entries(t, parent); !slices.Equal(got, []string{"db"}) {
		t.Fatalf("the failed fetch left %v", got)
	}
}

// archiveRequested reports whether srv was asked for an archive.
func archiveRequested(srv *vulndbtest.Server) bool {
	return slices.ContainsFunc(srv.Requests(), func(r string) bool { return strings.HasSuffix(r, ".tar.zst") })
}

func TestFetchRefusesStaleDatabase(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	built := now.Add(-6 * 24 * time.Hour)
	db := buildDB(t, built)
	srv, pub, _ := distribute(t, db, nil)
	out := filepath.Join(t.TempDir(), "db")
	var steps []string

	_, err := vulndb.Fetch(context.Background(), fetchOpts(srv, out, &steps))
	if !errors.Is(err, vulndb.ErrStale) || !strings.Contains(err.Error(), srv.URL+"/databases/v6/latest.json") ||
		!strings.Contains(err.Error(), "the maximum age is 120h0m0s") {
		t.Fatalf("err = %v, want ErrStale naming the listing", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused fetch created %s", out)
	}
	if archiveRequested(srv) {
		t.Fatalf("a stale database was downloaded: %q", srv.Requests())
	}

	// A longer maximum age accepts it.
	o := fetchOpts(srv, out, &steps)
	o.MaxAge = 7 * 24 * time.Hour
	if res, err := vulndb.Fetch(context.Background(), o); err != nil || res.StaleDBAccepted || !res.DB.Built.Equal(built) {
		t.Fatalf("max age 7d: %+v %v", res, err)
	}

	// The unsafe option accepts it and says so.
	out2 := filepath.Join(t.TempDir(), "db")
	o = fetchOpts(srv, out2, &steps)
	o.AllowStaleUnsafe = true
	res, err := vulndb.Fetch(context.Background(), o)
	if err != nil || !res.StaleDBAccepted || !res.DB.Built.Equal(built) {
		t.Fatalf("unsafe: %+v %v", res, err)
	}

	// A listing that calls the stale database fresh is caught by the build
	// time recorded in the database itself.
	lying, _, _ := distribute(t, db, func(d *distribution.LatestDocument) { d.Built.Time = now.Add(-time.Hour) })
	out3 := filepath.Join(t.TempDir(), "db")
	_, err = vulndb.Fetch(context.Background(), fetchOpts(lying, out3, &steps))
	if !errors.Is(err, vulndb.ErrArchive) || !strings.Contains(err.Error(), "built "+built.Format(time.RFC3339)) || !strings.Contains(err.Error(), filepath.Base(pub.Archive)) {
		t.Fatalf("lying listing: %v", err)
	}
	if _, err := os.Stat(out3); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused fetch created %s", out3)
	}
}

func TestFetchListingAndOptionErrors(t *testing.T) {
	srv, _, _ := distribute(t, buildDB(t, time.Now().Add(-time.Hour)), nil)
	var steps []string

	// A listing that 404s names its URL.
	o := fetchOpts(srv, filepath.Join(t.TempDir(), "db"), &steps)
	o.ListingURL = srv.URL + "/databases/v5/latest.json"
	if _, err := vulndb.Fetch(context.Background(), o); !errors.Is(err, vulndb.ErrListing) || !strings.Contains(err.Error(), o.ListingURL) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("404: %v", err)
	}

	// The server's certificate is verified: without its CA the fetch fails.
	o = fetchOpts(srv, filepath.Join(t.TempDir(), "db"), &steps)
	o.CACert = ""
	if _, err := vulndb.Fetch(context.Background(), o); !errors.Is(err, vulndb.ErrListing) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted server: %v", err)
	}

	// A listing without a sha256 checksum is refused before any download.
	weak, _, _ := distribute(t, buildDB(t, time.Now().Add(-time.Hour)), func(d *distribution.LatestDocument) { d.Checksum = "md5:0123" })
	if _, err := vulndb.Fetch(context.Background(), fetchOpts(weak, filepath.Join(t.TempDir(), "db"), &steps)); !errors.Is(err, vulndb.ErrListing) || !strings.Contains(err.Error(), `checksum "md5:0123"`) {
		t.Fatalf("md5 listing: %v", err)
	}
	if archiveRequested(weak) {
		t.Fatalf("requests = %q, want the listing only", weak.Requests())
	}

	// A deprecated listing is used with a warning; an unknown status is refused.
	dep, _, _ := distribute(t, buildDB(t, time.Now().Add(-time.Hour)), func(d *distribution.LatestDocument) { d.Status = distribution.StatusDeprecated })
	steps = nil
	if res, err := vulndb.Fetch(context.Background(), fetchOpts(dep, filepath.Join(t.TempDir(), "db"), &steps)); err != nil || res.Status != "deprecated" ||
		!slices.ContainsFunc(steps, func(s string) bool { return strings.HasPrefix(s, "warning: the listing is deprecated") }) {
		t.Fatalf("deprecated: %+v %v %q", res, err, steps)
	}
	odd, _, _ := distribute(t, buildDB(t, time.Now().Add(-time.Hour)), func(d *distribution.LatestDocument) { d.Status = "retired" })
	if _, err := vulndb.Fetch(context.Background(), fetchOpts(odd, filepath.Join(t.TempDir(), "db"), &steps)); !errors.Is(err, vulndb.ErrListing) || !strings.Contains(err.Error(), `unknown status "retired"`) {
		t.Fatalf("unknown status: %v", err)
	}

	// Plain HTTP is refused unless accepted unsafely.
	o = fetchOpts(srv, filepath.Join(t.TempDir(), "db"), &steps)
	o.ListingURL = "http://127.0.0.1:1/databases/v6/latest.json"
	if _, err := vulndb.Fetch(context.Background(), o); !errors.Is(err, vulndb.ErrInvalidFetchOptions) || !strings.Contains(err.Error(), "plain HTTP") {
		t.Fatalf("http: %v", err)
	}

	// Bad options.
	for name, edit := range map[string]func(*vulndb.FetchOptions){
		"no dir":     func(o *vulndb.FetchOptions) { o.Dir = "" },
		"no max age": func(o *vulndb.FetchOptions) { o.MaxAge = 0 },
		"ftp":        func(o *vulndb.FetchOptions) { o.ListingURL = "ftp://example.com/latest.json" },
		"no host":    func(o *vulndb.FetchOptions) { o.ListingURL = "https:///latest.json" },
		"no CA file": func(o *vulndb.FetchOptions) { o.CACert = filepath.Join(t.TempDir(), "none.pem") },
		"CA not PEM": func(o *vulndb.FetchOptions) {
			o.CACert = filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(o.CACert, []byte("not a certificate"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	} {
		o := fetchOpts(srv, filepath.Join(t.TempDir(), "db"), &steps)
		edit(&o)
		if _, err := vulndb.Fetch(context.Background(), o); !errors.Is(err, vulndb.ErrInvalidFetchOptions) {
			t.Errorf("%s: err = %v, want ErrInvalidFetchOptions", name, err)
		}
	}

	// A directory holding anything but a database is never replaced.
	notes := filepath.Join(t.TempDir(), "notes")
	if err := os.MkdirAll(notes, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notes, "README"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := len(srv.Requests())
	if _, err := vulndb.Fetch(context.Background(), fetchOpts(srv, notes, &steps)); !errors.Is(err, vulndb.ErrNotDBDir) || !strings.Contains(err.Error(), "README") {
		t.Fatalf("foreign directory: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(notes, "README")); err != nil || string(b) != "keep" {
		t.Fatalf("the foreign directory changed: %q %v", b, err)
	}
	if len(srv.Requests()) != before {
		t.Fatal("a refused directory still fetched")
	}
}

func TestFetchOverPlainHTTPWhenAcceptedUnsafely(t *testing.T) {
	built := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	pub := vulndbtest.Publish(t, buildDB(t, built), nil)
	root := t.TempDir()
	vulndbtest.Mirror(t, root, pub)
	plain := httptest.NewServer(http.StripPrefix("/databases/", http.FileServer(http.Dir(root))))
	t.Cleanup(plain.Close)
	res, err := vulndb.Fetch(context.Background(), vulndb.FetchOptions{
		ListingURL: plain.URL + "/databases/v6/latest.json", Dir: filepath.Join(t.TempDir(), "db"),
		MaxAge: maxAge, AllowHTTPUnsafe: true,
	})
	if err != nil || !res.DB.Built.Equal(built) {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestDefaultListingURL(t *testing.T) {
	if vulndb.DefaultListingURL != "https://grype.anchore.io/databases/v6/latest.json" {
		t.Fatalf("DefaultListingURL = %s", vulndb.DefaultListingURL)
	}
	// The listing grype reads by default: the LatestURL of grype's
	// distribution.DefaultConfig (grype/db/v6/distribution), resolved to
	// its v6 latest.json.
	if grype := vulndb.ListingURL(distribution.DefaultConfig().LatestURL); vulndb.DefaultListingURL != grype {
		t.Fatalf("DefaultListingURL = %s, grype's default listing is %s", vulndb.DefaultListingURL, grype)
	}
	if got := vulndb.ListingURL("https://mirror.example/dbs/"); got != "https://mirror.example/dbs/v6/latest.json" {
		t.Fatalf("ListingURL(root) = %s", got)
	}
	if got := vulndb.ListingURL("https://mirror.example/x.json"); got != "https://mirror.example/x.json" {
		t.Fatalf("ListingURL(json) = %s", got)
	}
}

// entry is a tar archive entry; a regular file's size is its body's.
type entry struct {
	tar.Header
	body string
}

// tarArchive is a tar archive of the given entries, compressed by wrap.
func tarArchive(t *testing.T, wrap func(io.Writer) io.WriteCloser, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := wrap(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if e.Typeflag == tar.TypeReg {
			e.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&e.Header); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// republish serves archive under name in place of pub's archive, with a
// listing naming it by its own checksum.
func republish(t *testing.T, pub vulndbtest.Published, name string, archive []byte) *vulndbtest.Server {
	t.Helper()
	root := t.TempDir()
	v6dir := filepath.Join(root, "v6")
	if err := os.MkdirAll(v6dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v6dir, name), archive, 0o644); err != nil {
		t.Fatal(err)
	}
	doc := pub.Doc
	doc.Path = name
	sum := sha256.Sum256(archive)
	doc.Checksum = "sha256:" + hex.EncodeToString(sum[:])
	f, err := os.Create(filepath.Join(v6dir, distribution.LatestFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Write(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return vulndbtest.Serve(t, root)
}

func gzipWriter(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }

func xzWriter(w io.Writer) io.WriteCloser {
	xw, err := xz.NewWriter(w)
	if err != nil {
		panic(err)
	}
	return xw
}

func TestFetchReadsTheArchiveFormatsGrypeReads(t *testing.T) {
	built := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	dbDir := buildDB(t, built)
	db, err := os.ReadFile(filepath.Join(dbDir, "vulnerability.db"))
	if err != nil {
		t.Fatal(err)
	}
	pub := vulndbtest.Publish(t, dbDir, nil)

	// A .tar.gz archive whose entries carry a ./ prefix, with another file.
	tgz := tarArchive(t, gzipWriter,
		entry{tar.Header{Name: "README", Typeflag: tar.TypeReg, Mode: 0o644}, "other files are left behind"},
		entry{tar.Header{Name: "./vulnerability.db", Typeflag: tar.TypeReg, Mode: 0o600}, string(db)})
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	if w, err := zw.Create("vulnerability.db"); err != nil {
		t.Fatal(err)
	} else if _, err := w.Write(db); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var steps []string
	for name, archive := range map[string][]byte{"vulnerability-db_v6.tar.gz": tgz, "vulnerability-db_v6.zip": zipped.Bytes()} {
		srv := republish(t, pub, name, archive)
		out := filepath.Join(t.TempDir(), "db")
		res, err := vulndb.Fetch(context.Background(), fetchOpts(srv, out, &steps))
		if err != nil || !res.DB.Built.Equal(built) || !strings.HasSuffix(res.ArchiveURL, name) {
			t.Fatalf("%s: %+v %v", name, res, err)
		}
		if got := entries(t, out); !slices.Equal(got, []string{"import.json", "vulnerability.db"}) {
			t.Fatalf("%s: %s holds %v", name, out, got)
		}
		if st, err := os.Stat(filepath.Join(out, "vulnerability.db")); err != nil || st.Mode().Perm() != 0o644 {
			t.Fatalf("%s: installed database: %v %v", name, st, err)
		}
	}

	// Archives that do not hold a usable database are refused, and leave
	// nothing behind.
	for name, c := range map[string]struct {
		archive []byte
		want    string
	}{
		// An xz archive is read (and found to lack the database).
		"xz":          {tarArchive(t, xzWriter, entry{tar.Header{Name: "README", Typeflag: tar.TypeReg}, "readme"}), "holds no vulnerability.db"},
		"no database": {tarArchive(t, gzipWriter, entry{tar.Header{Name: "README", Typeflag: tar.TypeReg}, "readme"}), "holds no vulnerability.db"},
		"symlink": {tarArchive(t, gzipWriter, entry{tar.Header{Name: "vulnerability.db", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, ""}),
			"vulnerability.db is not a regular file"},
		"parent":    {tarArchive(t, gzipWriter, entry{tar.Header{Name: "../README", Typeflag: tar.TypeReg}, "outside"}), "leaves the archive's directory"},
		"truncated": {tgz[:len(tgz)/2], "invalid vulnerability database archive"},
		"corrupt":   {[]byte("not gzip"), "invalid vulnerability database archive"},
	} {
		file := "vulnerability-db_v6.tar.gz"
		if name == "xz" {
			file = "vulnerability-db_v6.tar.xz"
		}
		srv := republish(t, pub, file, c.archive)
		parent := t.TempDir()
		_, err := vulndb.Fetch(context.Background(), fetchOpts(srv, filepath.Join(parent, "db"), &steps))
		if !errors.Is(err, vulndb.ErrArchive) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrArchive with %q", name, err, c.want)
		}
		if got := entries(t, parent); len(got) != 0 {
			t.Errorf("%s: the failed fetch left %v", name, got)
		}
	}

	// An archive in a format grype does not extract is refused before
	// it is downloaded.
	srv := republish(t, pub, "vulnerability-db_v6.rar", []byte("rar"))
	_, err = vulndb.Fetch(context.Background(), fetchOpts(srv, filepath.Join(t.TempDir(), "db"), &steps))
	if !errors.Is(err, vulndb.ErrListing) || !strings.Contains(err.Error(), "not a supported archive") {
		t.Fatalf("rar: %v", err)
	}
	if slices.ContainsFunc(srv.Requests(), func(r string) bool { return strings.HasSuffix(r, ".rar") }) {
		t.Fatalf("an unsupported archive was downloaded: %q", srv.Requests())
	}
}

func TestFetchRefusesARedirectToPlainHTTP(t *testing.T) {
	pub := vulndbtest.Publish(t, buildDB(t, time.Now().Add(-time.Hour)), nil)
	root := t.TempDir()
	vulndbtest.Mirror(t, root, pub)
	plain := httptest.NewServer(http.StripPrefix("/databases/", http.FileServer(http.Dir(root))))
	t.Cleanup(plain.Close)
	srv := vulndbtest.Serve(t, root)
	srv.Config.Handler = http.RedirectHandler(plain.URL+"/databases/v6/latest.json", http.StatusFound)
	var steps []string
	_, err := vulndb.Fetch(context.Background(), fetchOpts(srv, filepath.Join(t.TempDir(), "db"), &steps))
	if !errors.Is(err, vulndb.ErrListing) || !strings.Contains(err.Error(), "not https") {
		t.Fatalf("redirect to http: %v", err)
	}
}
