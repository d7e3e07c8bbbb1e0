package vulndb

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	v6 "github.com/anchore/grype/grype/db/v6"
	"github.com/spf13/afero"

	"github.com/clearcutt/clearcutt/internal/fsutil"
)

// Fetch errors. Each is wrapped with the URL, file or directory concerned.
var (
	// ErrInvalidFetchOptions: the options are incomplete or refused.
	ErrInvalidFetchOptions = errors.New("invalid fetch options")
	// ErrListing: the listing cannot be read or does not describe a
	// usable database archive.
	ErrListing = errors.New("cannot use the vulnerability database listing")
	// ErrChecksumMismatch: the archive downloaded is not the one the
	// listing names.
	ErrChecksumMismatch = errors.New("vulnerability database archive checksum mismatch")
	// ErrArchive: the archive does not hold the database the listing describes.
	ErrArchive = errors.New("invalid vulnerability database archive")
	// ErrStale: the database offered is older than the maximum age.
	ErrStale = errors.New("vulnerability database is stale")
	// ErrNotDBDir: the output directory exists and holds something other
	// than a database, so it is not replaced.
	ErrNotDBDir = errors.New("not a vulnerability database directory")
)

// DefaultListingURL is the listing grype itself reads to find the current
// v6 database: grype's default distribution URL
// (distribution.DefaultConfig().LatestURL in grype/db/v6/distribution,
// "https://grype.anchore.io/databases") resolved to its v6 latest.json.
const DefaultListingURL = "https://grype.anchore.io/databases/v6/latest.json"

// listingFileName is the name of a distribution's listing.
const listingFileName = "latest.json"

// Listing statuses: the distribution lifecycle of the database the listing
// names, as grype's distribution client reads them.
const (
	statusActive     = "active"
	statusDeprecated = "deprecated"
	statusEndOfLife  = "eol"
)

// Transfer limits. The timeouts are those grype's distribution client
// applies to the listing and to the archive; the size limits bound what a
// listing, an archive and the database it holds may make us write to disk
// (5 GiB is the extraction limit grype applies).
const (
	listingTimeout = 30 * time.Second
	archiveTimeout = 300 * time.Second
	maxListingSize = 1 << 20
	maxArchiveSize = 5 << 30
	maxDBSize      = 5 << 30
)

// ListingURL resolves a distribution URL as grype does: a URL ending in
// .json is the listing itself; any other is the distribution root, whose v6
// listing is ROOT/v6/latest.json.
func ListingURL(u string) string {
	if strings.HasSuffix(u, ".json") {
		return u
	}
	return fmt.Sprintf("%s/v%d/%s", strings.TrimRight(u, "/"), v6.ModelVersion, listingFileName)
}

// FetchOptions configure Fetch.
type FetchOptions struct {
	// ListingURL is the latest.json listing or the distribution root
	// (DefaultListingURL when empty); see ListingURL.
	ListingURL string
	// Dir is the directory the database is installed in: it holds
	// vulnerability.db and grype's import.json afterwards. An existing Dir
	// is replaced whole, and only if it holds nothing but a database.
	Dir string
	// MaxAge is the oldest database build accepted; it must be positive.
	MaxAge time.Duration
	// AllowStaleUnsafe accepts a database older than MaxAge.
	AllowStaleUnsafe bool
	// CACert is a PEM file of the certificate authorities trusted for the
	// listing and the archive instead of the system roots (a private mirror).
	CACert string
	// AllowHTTPUnsafe accepts a plain-HTTP listing URL. The archive checksum
	// then comes over the same unauthenticated channel as the archive.
	AllowHTTPUnsafe bool
	// Now is the time the database age is judged at (time.Now when zero).
	Now time.Time
	// Progress receives a line for each step.
	Progress func(string)
	// Transfer receives the bytes downloaded so far and the archive size
	// (-1 when unknown) while the archive downloads.
	Transfer func(done, total int64)
}

// FetchResult describes a database installed by Fetch.
type FetchResult struct {
	// Dir is the directory the database was installed in.
	Dir string `json:"dir"`
	// DB is the installed database, as Describe reads it.
	DB Info `json:"db"`
	// ListingURL is the listing read.
	ListingURL string `json:"listingURL"`
	// ArchiveURL is the archive downloaded.
	ArchiveURL string `json:"archiveURL"`
	// Checksum is the archive checksum the listing gives ("sha256:…"),
	// which the download matched.
	Checksum string `json:"checksum"`
	// Status is the distribution status of the listing: active, deprecated
	// or eol (grype stops receiving updates).
	Status string `json:"status"`
	// StaleDBAccepted is true when the database was older than the maximum
	// age and AllowStaleUnsafe accepted it.
	StaleDBAccepted bool `json:"staleDBAccepted,omitempty"`
	// Replaced is the database Dir held before, if any.
	Replaced *Info `json:"replaced,omitempty"`
}

// dbDirEntries are the files a database directory may hold: the database,
// grype's import metadata and grype's update-check stamp.
var dbDirEntries = map[string]bool{
	v6.VulnerabilityDBFileName: true,
	v6.ImportMetadataFileName:  true,
	"last_update_check":        true,
}

// Fetch installs the current database of a Grype v6 distribution in
// opts.Dir as grype's distribution client does: it reads the listing,
// refuses a database older than opts.MaxAge (unless AllowStaleUnsafe),
// downloads the archive the listing names and checks it against the
// listing's checksum, extracts the database, hydrates it and writes its
// import metadata as `grype db update` does, checks the result as Describe
// does, and only then moves it into place. All work happens in a temporary
// directory next to opts.Dir; on any error opts.Dir is left as it was.
func Fetch(ctx context.Context, opts FetchOptions) (FetchResult, error) {
	step := opts.Progress
	if step == nil {
		step = func(string) {}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if opts.ListingURL == "" {
		opts.ListingURL = DefaultListingURL
	}
	listing := ListingURL(opts.ListingURL)
	res := FetchResult{ListingURL: listing}
	if err := opts.validate(listing); err != nil {
		return res, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return res, fmt.Errorf("%w: output directory %s: %v", ErrInvalidFetchOptions, opts.Dir, err)
	}
	res.Dir = dir
	if res.Replaced, err = checkDBDir(dir); err != nil {
		return res, err
	}

	client, err := newHTTPClient(opts)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrInvalidFetchOptions, err)
	}

	step("reading the listing " + listing)
	doc, err := readListing(ctx, client, listing)
	if err != nil {
		return res, fmt.Errorf("%w: %s: %v", ErrListing, listing, err)
	}
	if err := checkListing(listing, doc); err != nil {
		return res, err
	}
	res.Status = doc.Status
	res.Checksum = doc.Checksum
	switch doc.Status {
	case statusDeprecated:
		step("warning: the listing is deprecated: this grype version will soon stop receiving database updates")
	case statusEndOfLife:
		step("warning: the listing is end-of-life: this grype version receives no further database updates")
	}
	if stale, err := judgeAge(listing, doc.Built.Time, now, opts); err != nil {
		return res, err
	} else if stale {
		res.StaleDBAccepted = true
	}

	archiveURL, err := resolveArchiveURL(listing, doc)
	if err != nil {
		return res, fmt.Errorf("%w: %s: %v", ErrListing, listing, err)
	}
	res.ArchiveURL = withoutQuery(archiveURL)
	format, ok := archiveFormatOf(archiveURL)
	if !ok {
		return res, fmt.Errorf("%w: %s: the archive %s is not a supported archive (%s)", ErrListing, listing, res.ArchiveURL, strings.Join(archiveSuffixes(), ", "))
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}

	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return res, fmt.Errorf("vulndb: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".fetch-")
	if err != nil {
		return res, fmt.Errorf("vulndb: %w", err)
	}
	keepTmp := false
	defer func() {
		if !keepTmp {
			os.RemoveAll(tmp)
		}
	}()

	step(fmt.Sprintf("downloading %s (%s, built %s)", res.ArchiveURL, doc.SchemaVersion, doc.Built.Format(time.RFC3339)))
	archive := filepath.Join(tmp, "archive"+format.suffix)
	sum, err := download(ctx, client, withoutChecksum(archiveURL), archive, opts.Transfer)
	if err != nil {
		return res, fmt.Errorf("vulndb: downloading %s: %w", res.ArchiveURL, err)
	}
	if want, _ := strings.CutPrefix(doc.Checksum, "sha256:"); !strings.EqualFold(sum, want) {
		return res, fmt.Errorf("%w: %s: the listing %s gives %s, the archive downloaded has sha256:%s",
			ErrChecksumMismatch, res.ArchiveURL, listing, doc.Checksum, sum)
	}
	step("archive matches " + doc.Checksum)
	if err := ctx.Err(); err != nil {
		return res, err
	}

	stage := filepath.Join(tmp, "db")
	if err := extractDB(archive, format, stage, res.ArchiveURL); err != nil {
		return res, err
	}
	if err := os.Remove(archive); err != nil {
		return res, fmt.Errorf("vulndb: %w", err)
	}
	step("hydrating the database")
	if err := v6.Hydrater()(stage); err != nil {
		return res, fmt.Errorf("%w: %s: hydrating: %v", ErrArchive, res.ArchiveURL, err)
	}
	if _, err := v6.WriteImportMetadata(afero.NewOsFs(), stage, archiveURL); err != nil {
		return res, fmt.Errorf("vulndb: %w", err)
	}

	info, err := Describe(stage)
	if err != nil {
		return res, fmt.Errorf("%w: %s: %v", ErrArchive, res.ArchiveURL, err)
	}
	if info.SchemaVersion != doc.SchemaVersion.String() || !sameSecond(info.Built, doc.Built.Time) {
		return res, fmt.Errorf("%w: %s holds a %s database built %s, the listing %s describes a %s database built %s",
			ErrArchive, res.ArchiveURL, info.SchemaVersion, info.Built.Format(time.RFC3339),
			listing, doc.SchemaVersion, doc.Built.Format(time.RFC3339))
	}
	// The age was judged on the listing's build time, which is now known
	// to be the database's own.
	if err := ctx.Err(); err != nil {
		return res, err
	}

	step("installing in " + dir)
	if err := install(stage, dir, filepath.Join(tmp, "previous"), &keepTmp); err != nil {
		return res, err
	}
	res.DB = info
	res.DB.Path = filepath.Join(dir, v6.VulnerabilityDBFileName)
	return res, nil
}

func (o FetchOptions) validate(listing string) error {
	if o.Dir == "" {
		return fmt.Errorf("%w: no output directory", ErrInvalidFetchOptions)
	}
	if o.MaxAge <= 0 {
		return fmt.Errorf("%w: the maximum database age must be positive, not %s", ErrInvalidFetchOptions, o.MaxAge)
	}
	u, err := url.Parse(listing)
	if err != nil {
		return fmt.Errorf("%w: listing URL %s: %v", ErrInvalidFetchOptions, listing, err)
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("%w: listing URL %s: no host", ErrInvalidFetchOptions, listing)
	case u.Scheme == "https":
	case u.Scheme == "http" && o.AllowHTTPUnsafe:
	case u.Scheme == "http":
		return fmt.Errorf("%w: listing URL %s: plain HTTP leaves the checksum unauthenticated (use https, or accept it with the unsafe option)", ErrInvalidFetchOptions, listing)
	default:
		return fmt.Errorf("%w: listing URL %s: scheme %q is not https", ErrInvalidFetchOptions, listing, u.Scheme)
	}
	if o.CACert != "" {
		b, err := os.ReadFile(o.CACert)
		if err != nil {
			return fmt.Errorf("%w: CA certificates: %v", ErrInvalidFetchOptions, err)
		}
		if !hasCertificate(b) {
			return fmt.Errorf("%w: CA certificates: %s holds no PEM certificate", ErrInvalidFetchOptions, o.CACert)
		}
	}
	return nil
}

func hasCertificate(b []byte) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err == nil {
			return true
		}
	}
}

// checkDBDir accepts a missing directory, or one holding nothing but a
// database (whose description it returns, if it has one).
func checkDBDir(dir string) (*Info, error) {
	st, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("vulndb: %w", err)
	case st.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%w: %s is a symbolic link; give the directory it points to", ErrNotDBDir, dir)
	case !st.IsDir():
		return nil, fmt.Errorf("%w: %s is not a directory", ErrNotDBDir, dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	for _, e := range entries {
		if !dbDirEntries[e.Name()] || !e.Type().IsRegular() {
			return nil, fmt.Errorf("%w: %s holds %s; it would be replaced whole, so only a directory holding nothing but a database is", ErrNotDBDir, dir, e.Name())
		}
	}
	if info, err := Describe(dir); err == nil {
		return &info, nil
	}
	return nil, nil
}

// listingDoc is a v6 listing (latest.json), in the format grype's
// distribution package writes and reads (distribution.LatestDocument): the
// lifecycle status, the schema version and build time of the database, and
// the archive's path relative to the listing and its checksum.
type listingDoc struct {
	Status string `json:"status"`
	v6.Description
	Path     string `json:"path"`
	Checksum string `json:"checksum"`
}

// checkListing refuses a listing that does not name a v6 archive with a
// sha256 checksum and a build time.
func checkListing(listing string, doc *listingDoc) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrListing, listing, fmt.Sprintf(format, a...))
	}
	if doc == nil {
		return bad("empty listing")
	}
	if doc.SchemaVersion.Model != v6.ModelVersion {
		return bad("schema %s; this grype reads schema v%d", doc.SchemaVersion, v6.ModelVersion)
	}
	if doc.Path == "" {
		return bad("no archive path")
	}
	if doc.Built.IsZero() {
		return bad("no build time")
	}
	sum, ok := strings.CutPrefix(doc.Checksum, "sha256:")
	if _, err := hex.DecodeString(sum); !ok || err != nil || len(sum) != 64 {
		return bad("checksum %q is not sha256:<64 hex digits>", doc.Checksum)
	}
	switch doc.Status {
	case statusActive, statusDeprecated, statusEndOfLife:
	default:
		return bad("unknown status %q", doc.Status)
	}
	return nil
}

// judgeAge returns whether the database built at built is stale, and an
// ErrStale error naming where when it is and staleness is not accepted.
func judgeAge(where string, built, now time.Time, o FetchOptions) (bool, error) {
	age := now.Sub(built)
	if age <= o.MaxAge {
		return false, nil
	}
	if o.AllowStaleUnsafe {
		return true, nil
	}
	return true, fmt.Errorf("%w: %s offers a database built %s, %s ago; the maximum age is %s (wait for a newer build, or accept it with the unsafe option)",
		ErrStale, where, built.UTC().Format(time.RFC3339), age.Round(time.Minute), o.MaxAge)
}

// newHTTPClient is the client for the listing and the archive: the
// environment's proxy settings, the certificate authorities of opts.CACert
// instead of the system roots when it is set, and no redirect from HTTPS to
// plain HTTP unless plain HTTP is accepted.
func newHTTPClient(opts FetchOptions) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if opts.CACert != "" {
		b, err := os.ReadFile(opts.CACert)
		if err != nil {
			return nil, fmt.Errorf("CA certificates: %v", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("CA certificates: %s holds no PEM certificate", opts.CACert)
		}
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if req.URL.Scheme != "https" && !(req.URL.Scheme == "http" && opts.AllowHTTPUnsafe) {
				return fmt.Errorf("redirected to %s, which is not https", withoutQuery(req.URL.String()))
			}
			return nil
		},
	}, nil
}

// get sends a GET request for u with the product's User-Agent and returns
// the response of a 200; any other status is an error naming it.
func get(ctx context.Context, client *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "clearcutt "+version())
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("bad response code: %s", resp.Status)
	}
	return resp, nil
}

// readListing downloads and decodes the listing at u. An empty listing
// ({}) is nil, as grype reads it.
func readListing(ctx context.Context, client *http.Client, u string) (*listingDoc, error) {
	ctx, cancel := context.WithTimeout(ctx, listingTimeout)
	defer cancel()
	resp, err := get(ctx, client, u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxListingSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxListingSize {
		return nil, fmt.Errorf("the listing is larger than %d bytes", maxListingSize)
	}
	var doc listingDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("unable to parse DB latest.json: %w", err)
	}
	if doc == (listingDoc{}) {
		return nil, nil
	}
	return &doc, nil
}

// resolveArchiveURL resolves the archive path of a listing as grype does:
// relative to the listing's directory on the same host, with the listing's
// checksum as the checksum query parameter (the form grype records in the
// database's import metadata; the parameter is not sent to the server).
func resolveArchiveURL(listing string, doc *listingDoc) (string, error) {
	u, err := url.Parse(listing)
	if err != nil {
		return "", fmt.Errorf("unable to parse db URL %q: %w", listing, err)
	}
	u.Path = path.Join(path.Dir(u.Path), path.Clean(doc.Path))
	u.RawPath = ""
	q := u.Query()
	q.Add("checksum", doc.Checksum)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// withoutChecksum drops the checksum query parameter from u.
func withoutChecksum(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	q.Del("checksum")
	p.RawQuery = q.Encode()
	return p.String()
}

// download writes the archive at u to the file dest and returns its sha256
// digest in hex, reporting the transfer while it runs. It refuses an archive
// larger than maxArchiveSize.
func download(ctx context.Context, client *http.Client, u, dest string, transfer func(done, total int64)) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, archiveTimeout)
	defer cancel()
	resp, err := get(ctx, client, u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.ContentLength > maxArchiveSize {
		return "", fmt.Errorf("the archive is %d bytes, more than the limit of %d", resp.ContentLength, int64(maxArchiveSize))
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	r := &transferReader{r: io.LimitReader(resp.Body, maxArchiveSize+1), total: resp.ContentLength, report: transfer}
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return "", err
	}
	if n > maxArchiveSize {
		return "", fmt.Errorf("the archive is larger than the limit of %d bytes", int64(maxArchiveSize))
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return "", fmt.Errorf("the archive ended after %d of %d bytes", n, resp.ContentLength)
	}
	r.flush()
	if err := f.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// transferReader counts the bytes read through it and reports them at most
// every 250ms, and once more when flushed.
type transferReader struct {
	r      io.Reader
	done   int64
	total  int64
	report func(done, total int64)
	last   time.Time
}

func (t *transferReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.done += int64(n)
	if t.report != nil && time.Since(t.last) >= 250*time.Millisecond {
		t.last = time.Now()
		t.report(t.done, t.total)
	}
	return n, err
}

func (t *transferReader) flush() {
	if t.report != nil {
		t.report(t.done, t.total)
	}
}

// install moves stage to dir. An existing dir is first moved to previous
// and restored if the second move fails; should that fail too, keepTmp is
// set so that the previous database survives at previous, which the error
// names.
func install(stage, dir, previous string, keepTmp *bool) error {
	if err := fsutil.SwapDir(stage, dir, previous); err != nil {
		var re *fsutil.RestoreError
		if errors.As(err, &re) {
			*keepTmp = true
			return fmt.Errorf("vulndb: installing: %w; restoring the previous database failed (%v): it is at %s", re.Err, re.RestoreErr, previous)
		}
		return fmt.Errorf("vulndb: installing: %w", err)
	}
	return nil
}

func sameSecond(a, b time.Time) bool {
	d := a.Sub(b)
	return d < time.Second && d > -time.Second
}

func withoutQuery(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.RawQuery = ""
	return p.String()
}

// version is the version of the main module, for the User-Agent.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
