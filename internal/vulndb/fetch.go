package vulndb

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/anchore/clio"
	v6 "github.com/anchore/grype/grype/db/v6"
	"github.com/anchore/grype/grype/db/v6/distribution"
	getter "github.com/hashicorp/go-getter"
	"github.com/spf13/afero"
	"github.com/wagoodman/go-progress"

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
// v6 database (grype's default distribution URL, resolved to its latest.json).
var DefaultListingURL = ListingURL(distribution.DefaultConfig().LatestURL)

// ListingURL resolves a distribution URL as grype does: a URL ending in
// .json is the listing itself; any other is the distribution root, whose v6
// listing is ROOT/v6/latest.json.
func ListingURL(u string) string {
	if strings.HasSuffix(u, ".json") {
		return u
	}
	return fmt.Sprintf("%s/v%d/%s", strings.TrimRight(u, "/"), v6.ModelVersion, distribution.LatestFileName)
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
// opts.Dir with grype's distribution client: it reads the listing, refuses
// a database older than opts.MaxAge (unless AllowStaleUnsafe), downloads the
// archive the listing names and checks it against the listing's checksum,
// extracts it, hydrates the database and writes its import metadata as
// `grype db update` does, checks the result as Describe does, and only then
// moves it into place. All work happens in a temporary directory next to
// opts.Dir; on any error opts.Dir is left as it was.
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

	client, err := distribution.NewClient(distribution.Config{
		ID:            clio.Identification{Name: "clearcutt", Version: version()},
		LatestURL:     listing,
		CACert:        opts.CACert,
		CheckTimeout:  distribution.DefaultConfig().CheckTimeout,
		UpdateTimeout: distribution.DefaultConfig().UpdateTimeout,
	})
	if err != nil {
		return res, fmt.Errorf("vulndb: %w", err)
	}

	step("reading the listing " + listing)
	doc, err := client.Latest()
	if err != nil {
		return res, fmt.Errorf("%w: %s: %v", ErrListing, listing, err)
	}
	if err := checkListing(listing, doc); err != nil {
		return res, err
	}
	res.Status = string(doc.Status)
	res.Checksum = doc.Checksum
	switch doc.Status {
	case distribution.StatusDeprecated:
		step("warning: the listing is deprecated: this grype version will soon stop receiving database updates")
	case distribution.StatusEndOfLife:
		step("warning: the listing is end-of-life: this grype version receives no further database updates")
	}
	if stale, err := judgeAge(listing, doc.Built.Time, now, opts); err != nil {
		return res, err
	} else if stale {
		res.StaleDBAccepted = true
	}

	archiveURL, err := client.ResolveArchiveURL(doc.Archive)
	if err != nil {
		return res, fmt.Errorf("%w: %s: %v", ErrListing, listing, err)
	}
	res.ArchiveURL = withoutQuery(archiveURL)
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
	extracted, err := download(client, archiveURL, tmp, opts.Transfer)
	if err != nil {
		var ce *getter.ChecksumError
		if errors.As(err, &ce) {
			return res, fmt.Errorf("%w: %s: the listing %s gives %s, the archive downloaded has sha256:%s",
				ErrChecksumMismatch, res.ArchiveURL, listing, doc.Checksum, hex.EncodeToString(ce.Actual))
		}
		return res, fmt.Errorf("vulndb: downloading %s: %w", res.ArchiveURL, err)
	}
	step("archive matches " + doc.Checksum)
	if err := ctx.Err(); err != nil {
		return res, err
	}

	stage := filepath.Join(tmp, "db")
	if err := stageDB(extracted, stage, res.ArchiveURL); err != nil {
		return res, err
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

// checkListing refuses a listing that does not name a v6 archive with a
// sha256 checksum and a build time.
func checkListing(listing string, doc *distribution.LatestDocument) error {
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
	case distribution.StatusActive, distribution.StatusDeprecated, distribution.StatusEndOfLife:
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

// download fetches and extracts the archive with grype's client, reporting
// the transfer while it runs, and returns the directory it extracted into.
func download(client distribution.Client, archiveURL, dest string, transfer func(done, total int64)) (string, error) {
	mon := progress.NewManual(-1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	if transfer != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					transfer(mon.Current(), mon.Size())
				}
			}
		}()
	}
	dir, err := client.Download(archiveURL, dest, mon)
	close(done)
	wg.Wait()
	if transfer != nil && err == nil {
		transfer(mon.Current(), mon.Size())
	}
	return dir, err
}

// stageDB moves the database extracted in src into a new directory stage,
// leaving behind anything else the archive held.
func stageDB(src, stage, archive string) error {
	db := filepath.Join(src, v6.VulnerabilityDBFileName)
	st, err := os.Lstat(db)
	if err != nil {
		return fmt.Errorf("%w: %s holds no %s", ErrArchive, archive, v6.VulnerabilityDBFileName)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: %s: %s is not a regular file", ErrArchive, archive, v6.VulnerabilityDBFileName)
	}
	if err := os.Mkdir(stage, 0o755); err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	to := filepath.Join(stage, v6.VulnerabilityDBFileName)
	if err := os.Rename(db, to); err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	if err := os.Chmod(to, 0o644); err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	return nil
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
