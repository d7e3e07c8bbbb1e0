package vulndb

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v6 "github.com/anchore/grype/grype/db/v6"
)

// ErrNoDB: the directory holds no Grype v6 database.
var ErrNoDB = errors.New("no grype v6 vulnerability database")

// Info describes a database.
type Info struct {
	// Path is the database file.
	Path string `json:"path"`
	// SchemaVersion is grype's schema version, e.g. v6.1.10.
	SchemaVersion string `json:"schemaVersion"`
	// Built is the build time recorded in the database.
	Built time.Time `json:"built"`
	// Digest is the sha256 of the database file (hex).
	Digest string `json:"digest"`
}

// URI identifies the database by schema version and content digest.
func (i Info) URI() string {
	return "pkg:generic/grype-vulnerability-db@" + i.SchemaVersion + "?checksum=sha256:" + i.Digest
}

// Describe reads the schema version and build time of the database in dir
// without modifying it.
func Describe(dir string) (Info, error) {
	p := filepath.Join(dir, v6.VulnerabilityDBFileName)
	if _, err := os.Stat(p); err != nil {
		return Info{}, fmt.Errorf("%w: %s: %v", ErrNoDB, p, err)
	}
	r, err := v6.NewReader(v6.Config{DBDirPath: dir})
	if err != nil {
		return Info{}, fmt.Errorf("%w: %s: %v", ErrNoDB, p, err)
	}
	defer r.Close()
	m, err := r.GetDBMetadata()
	if err != nil || m == nil || m.BuildTimestamp == nil {
		return Info{}, fmt.Errorf("%w: %s: no build metadata: %v", ErrNoDB, p, err)
	}
	sum, err := fileSHA256(p)
	if err != nil {
		return Info{}, err
	}
	return Info{
		Path:          p,
		Digest:        sum,
		SchemaVersion: fmt.Sprintf("v%d.%d.%d", m.Model, m.Revision, m.Addition),
		Built:         m.BuildTimestamp.UTC(),
	}, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
