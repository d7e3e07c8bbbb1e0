package scan

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrInvalidExceptions is wrapped by every error about an exceptions file.
var ErrInvalidExceptions = errors.New("invalid exceptions file")

// ExceptionsAPIVersion and ExceptionsKind identify an exceptions file.
const (
	ExceptionsAPIVersion = "clearcutt.dev/v1alpha1"
	ExceptionsKind       = "VulnerabilityExceptions"
)

// Exceptions is a decoded exceptions.yaml.
type Exceptions struct {
	APIVersion string      `yaml:"apiVersion" json:"apiVersion"`
	Kind       string      `yaml:"kind" json:"kind"`
	Exceptions []Exception `yaml:"exceptions" json:"exceptions"`
	// Path is the file the exceptions were read from.
	Path string `yaml:"-" json:"path"`
}

// Exception accepts one vulnerability in one package until a date.
type Exception struct {
	// ID is the vulnerability (or one of its aliases).
	ID string `yaml:"id" json:"id"`
	// Package is a package name (zlib) or a package URL without version
	// (pkg:nix/zlib, pkg:pypi/requests).
	Package string `yaml:"package" json:"package"`
	Owner   string `yaml:"owner" json:"owner"`
	Reason  string `yaml:"reason" json:"reason"`
	// Expires is the last day (YYYY-MM-DD, UTC) the exception applies.
	Expires string `yaml:"expires" json:"expires"`
	// Where is file:line, for reports.
	Where string `yaml:"-" json:"where"`

	expires time.Time
}

// ExpiresOn is the parsed expiry day.
func (e Exception) ExpiresOn() time.Time { return e.expires }

// LoadExceptions reads and strictly decodes an exceptions file.
func LoadExceptions(path string) (*Exceptions, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidExceptions, err)
	}
	return ParseExceptions(path, data)
}

// ParseExceptions decodes data (named path in errors): unknown fields,
// missing fields, bad dates and duplicates are errors with file:line.
func ParseExceptions(path string, data []byte) (*Exceptions, error) {
	var x Exceptions
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalidExceptions, path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	x.Path = path
	var nodes struct {
		Exceptions []yaml.Node `yaml:"exceptions"`
	}
	_ = yaml.Unmarshal(data, &nodes)
	if x.APIVersion != ExceptionsAPIVersion || x.Kind != ExceptionsKind {
		return nil, fmt.Errorf("%w: %s: want apiVersion %s and kind %s, found %q and %q", ErrInvalidExceptions, path, ExceptionsAPIVersion, ExceptionsKind, x.APIVersion, x.Kind)
	}
	seen := map[string]string{}
	for i := range x.Exceptions {
		e := &x.Exceptions[i]
		e.Where = path
		if i < len(nodes.Exceptions) {
			e.Where = fmt.Sprintf("%s:%d", path, nodes.Exceptions[i].Line)
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%w: %s: exceptions[%d]: %s", ErrInvalidExceptions, e.Where, i, fmt.Sprintf(format, args...))
		}
		for _, f := range []struct{ name, v string }{{"id", e.ID}, {"package", e.Package}, {"owner", e.Owner}, {"reason", e.Reason}, {"expires", e.Expires}} {
			if strings.TrimSpace(f.v) == "" {
				return nil, fail("%s is required", f.name)
			}
		}
		t, err := time.Parse(time.DateOnly, e.Expires)
		if err != nil {
			return nil, fail("expires %q is not a date (YYYY-MM-DD)", e.Expires)
		}
		e.expires = t
		key := strings.ToUpper(e.ID) + " " + e.Package
		if prev, dup := seen[key]; dup {
			return nil, fail("duplicate exception for %s in %s (first at %s)", e.ID, e.Package, prev)
		}
		seen[key] = e.Where
	}
	return &x, nil
}

// matches reports whether e covers vulnerability ids (an ID and its
// aliases) in the package named name with package URL purl.
func (e Exception) matches(ids []string, name, purl string) bool {
	idOK := false
	for _, id := range ids {
		if strings.EqualFold(id, e.ID) {
			idOK = true
		}
	}
	if !idOK {
		return false
	}
	if strings.HasPrefix(e.Package, "pkg:") {
		return purlBase(purl) != "" && purlBase(purl) == purlBase(e.Package)
	}
	return e.Package == name
}

// purlBase is a package URL without version, qualifiers and subpath.
func purlBase(p string) string {
	if !strings.HasPrefix(p, "pkg:") {
		return ""
	}
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if i := strings.LastIndexByte(p, '@'); i > strings.LastIndexByte(p, '/') {
		p = p[:i]
	}
	return p
}
