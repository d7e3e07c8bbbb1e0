package vulndb

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v6 "github.com/anchore/grype/grype/db/v6"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// archiveFormat is a database archive format, named by the suffix of the
// archive's path: the archive formats grype's distribution client extracts
// into a directory (go-getter's tar and zip decompressors).
type archiveFormat struct {
	suffix string
	// decompress wraps the archive in its decompressor; nil for zip.
	decompress func(io.Reader) (io.ReadCloser, error)
}

var archiveFormats = []archiveFormat{
	{".tar.zst", unzstd}, {".tzst", unzstd},
	{".tar.gz", ungzip}, {".tgz", ungzip},
	{".tar.xz", unxz}, {".txz", unxz},
	{".tar.bz2", unbzip2}, {".tbz2", unbzip2},
	{".tar", uncompressed},
	{".zip", nil},
}

func unzstd(r io.Reader) (io.ReadCloser, error) {
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	return d.IOReadCloser(), nil
}

func ungzip(r io.Reader) (io.ReadCloser, error) { return gzip.NewReader(r) }

func unxz(r io.Reader) (io.ReadCloser, error) {
	d, err := xz.NewReader(r)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(d), nil
}

func unbzip2(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(bzip2.NewReader(r)), nil }

func uncompressed(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(r), nil }

// archiveFormatOf is the format of the archive at u, by the suffix of its
// path.
func archiveFormatOf(u string) (archiveFormat, bool) {
	p, err := url.Parse(u)
	if err != nil {
		return archiveFormat{}, false
	}
	name := strings.ToLower(p.Path)
	for _, f := range archiveFormats {
		if strings.HasSuffix(name, f.suffix) {
			return f, true
		}
	}
	return archiveFormat{}, false
}

// archiveSuffixes lists the suffixes of the archive formats read.
func archiveSuffixes() []string {
	var s []string
	for _, f := range archiveFormats {
		s = append(s, f.suffix)
	}
	return s
}

// isDBEntry reports whether an archive entry name is the database at the
// archive's root, as extracting the archive into a directory places it.
func isDBEntry(name string) bool {
	return path.Clean("/"+strings.ReplaceAll(name, `\`, "/")) == "/"+v6.VulnerabilityDBFileName
}

// hasParentRef reports whether an archive entry name climbs out of the
// directory it is extracted into; such an archive is refused whole, as
// grype's extraction refuses it.
func hasParentRef(name string) bool {
	return slices.Contains(strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }), "..")
}

// extractDB writes the database held at the root of the archive file
// archive into a new directory stage, leaving anything else the archive
// holds unread. The entries together may hold at most maxDBSize bytes.
// archiveURL names the archive in errors.
func extractDB(archive string, format archiveFormat, stage, archiveURL string) error {
	if err := os.Mkdir(stage, 0o755); err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	to := filepath.Join(stage, v6.VulnerabilityDBFileName)
	var found bool
	var err error
	if format.decompress == nil {
		found, err = extractZip(archive, to)
	} else {
		found, err = extractTar(archive, format, to)
	}
	var notRegular errNotRegular
	switch {
	case errors.As(err, &notRegular):
		return fmt.Errorf("%w: %s: %s is not a regular file", ErrArchive, archiveURL, v6.VulnerabilityDBFileName)
	case errors.Is(err, errWrite):
		return fmt.Errorf("vulndb: %w", err)
	case err != nil:
		return fmt.Errorf("%w: %s: %v", ErrArchive, archiveURL, err)
	case !found:
		return fmt.Errorf("%w: %s holds no %s", ErrArchive, archiveURL, v6.VulnerabilityDBFileName)
	}
	return nil
}

// errNotRegular: the database entry is not a regular file.
type errNotRegular struct{}

func (errNotRegular) Error() string { return "not a regular file" }

// errWrite marks a failure writing the extracted database, which is not
// the archive's fault.
var errWrite = errors.New("writing the database")

func extractTar(archive string, format archiveFormat, to string) (bool, error) {
	f, err := os.Open(archive)
	if err != nil {
		return false, fmt.Errorf("%w: %v", errWrite, err)
	}
	defer f.Close()
	rc, err := format.decompress(f)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var total int64
	found := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return found, nil
		}
		if err != nil {
			return found, err
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader || hdr.Typeflag == tar.TypeXHeader {
			continue
		}
		if hasParentRef(hdr.Name) {
			return found, fmt.Errorf("entry %q leaves the archive's directory", hdr.Name)
		}
		if total += hdr.Size; total > maxDBSize {
			return found, fmt.Errorf("the archive holds more than %d bytes", int64(maxDBSize))
		}
		if !isDBEntry(hdr.Name) {
			continue
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			return found, errNotRegular{}
		}
		if err := writeDB(to, tr, hdr.Size); err != nil {
			return found, err
		}
		found = true
	}
}

func extractZip(archive, to string) (bool, error) {
	zr, err := zip.OpenReader(archive)
	if err != nil {
		return false, err
	}
	defer zr.Close()
	var total uint64
	found := false
	for _, zf := range zr.File {
		if hasParentRef(zf.Name) {
			return found, fmt.Errorf("entry %q leaves the archive's directory", zf.Name)
		}
		if total += zf.UncompressedSize64; total > maxDBSize {
			return found, fmt.Errorf("the archive holds more than %d bytes", int64(maxDBSize))
		}
		if !isDBEntry(zf.Name) {
			continue
		}
		if !zf.Mode().IsRegular() {
			return found, errNotRegular{}
		}
		r, err := zf.Open()
		if err != nil {
			return found, err
		}
		err = writeDB(to, r, int64(zf.UncompressedSize64))
		r.Close()
		if err != nil {
			return found, err
		}
		found = true
	}
	return found, nil
}

// writeDB writes the size bytes of r to the file to, replacing it.
func writeDB(to string, r io.Reader, size int64) error {
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("%w: %v", errWrite, err)
	}
	n, err := io.Copy(out, io.LimitReader(r, size))
	if err != nil {
		out.Close()
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("%w: %v", errWrite, err)
		}
		return err
	}
	if n != size {
		out.Close()
		return fmt.Errorf("%s ends after %d of %d bytes", v6.VulnerabilityDBFileName, n, size)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("%w: %v", errWrite, err)
	}
	if err := os.Chmod(to, 0o644); err != nil {
		return fmt.Errorf("%w: %v", errWrite, err)
	}
	return nil
}
