// Package vulndb writes, fetches and describes Grype v6 vulnerability databases. A
// platform team can publish its own advisories for pkg:nix packages (keyed
// by Nix pname), upstream CPEs and language or distribution ecosystems; the
// tests and the demo build a small database from testdata/vulndb.
package vulndb

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrInvalidAdvisories is wrapped by every error about an advisories file.
var ErrInvalidAdvisories = errors.New("invalid advisories file")

// APIVersion and Kind identify an advisories file.
const (
	APIVersion = "clearcutt.dev/v1alpha1"
	Kind       = "VulnerabilityAdvisories"
)

// File is an advisories file.
type File struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	// Provider names the source of the advisories in the database (default "clearcutt").
	Provider   string     `yaml:"provider,omitempty"`
	Advisories []Advisory `yaml:"advisories"`
}

// Advisory is one vulnerability and the packages it affects.
type Advisory struct {
	ID       string `yaml:"id"`
	Severity string `yaml:"severity"` // critical, high, medium, low, negligible
	// CVSS is an optional CVSS vector, e.g. CVSS:3.1/AV:N/AC:L/...
	CVSS        string     `yaml:"cvss,omitempty"`
	Description string     `yaml:"description,omitempty"`
	Aliases     []string   `yaml:"aliases,omitempty"`
	URLs        []string   `yaml:"urls,omitempty"`
	Published   string     `yaml:"published,omitempty"` // YYYY-MM-DD
	Affected    []Affected `yaml:"affected"`
}

// Affected is one package (by ecosystem and name) or one CPE, and the range
// of its versions that is vulnerable.
type Affected struct {
	// Ecosystem is nix, python, npm, java, go, deb, ... ; with Name it keys a
	// package row. Nix rows match Nix packages by pname.
	Ecosystem string `yaml:"ecosystem,omitempty"`
	Name      string `yaml:"name,omitempty"`
	// Distro scopes an OS package row, e.g. "debian:12".
	Distro string `yaml:"distro,omitempty"`
	// CPE keys a CPE row instead (cpe:2.3:a:vendor:product:*...).
	CPE string `yaml:"cpe,omitempty"`
	// Constraint is the vulnerable range, e.g. ">= 3.0.0, < 3.0.8".
	Constraint string `yaml:"constraint"`
	// Fixed is the first fixed version; empty when no fix exists.
	Fixed string `yaml:"fixed,omitempty"`
	// FixState is fixed (default when Fixed is set), not-fixed (default
	// otherwise) or wont-fix.
	FixState string `yaml:"fixState,omitempty"`
}

var (
	idRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9][A-Za-z0-9:._-]*$`)
	severs = map[string]bool{"critical": true, "high": true, "medium": true, "low": true, "negligible": true}
	fixSt  = map[string]bool{"fixed": true, "not-fixed": true, "wont-fix": true}
)

// Load reads and strictly decodes an advisories file: unknown fields, a
// wrong kind and incomplete entries are errors naming the file and line.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidAdvisories, err)
	}
	return Parse(path, data)
}

// Parse decodes data, naming path in errors.
func Parse(path string, data []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalidAdvisories, path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	// A second pass keeps the position of each advisory for validation errors.
	var pos struct {
		Advisories []yaml.Node `yaml:"advisories"`
	}
	_ = yaml.Unmarshal(data, &pos)
	line := func(i int) string {
		if i < len(pos.Advisories) {
			return fmt.Sprintf("%s:%d", path, pos.Advisories[i].Line)
		}
		return path
	}
	if f.APIVersion != APIVersion || f.Kind != Kind {
		return nil, fmt.Errorf("%w: %s: want apiVersion %s and kind %s, found %q and %q", ErrInvalidAdvisories, path, APIVersion, Kind, f.APIVersion, f.Kind)
	}
	if f.Provider == "" {
		f.Provider = "clearcutt"
	}
	if len(f.Advisories) == 0 {
		return nil, fmt.Errorf("%w: %s: no advisories", ErrInvalidAdvisories, path)
	}
	seen := map[string]bool{}
	for i, a := range f.Advisories {
		where := fmt.Sprintf("%s: advisories[%d]", line(i), i)
		if err := a.validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidAdvisories, where, err)
		}
		if seen[a.ID] {
			return nil, fmt.Errorf("%w: %s: duplicate id %s", ErrInvalidAdvisories, where, a.ID)
		}
		seen[a.ID] = true
	}
	return &f, nil
}

func (a Advisory) validate() error {
	if !idRE.MatchString(a.ID) {
		return fmt.Errorf("id %q is not an advisory identifier (e.g. CVE-2023-40217)", a.ID)
	}
	if !severs[strings.ToLower(a.Severity)] {
		return fmt.Errorf("%s: severity %q is not one of critical, high, medium, low, negligible", a.ID, a.Severity)
	}
	if a.Published != "" {
		if _, err := time.Parse(time.DateOnly, a.Published); err != nil {
			return fmt.Errorf("%s: published %q is not a date (YYYY-MM-DD)", a.ID, a.Published)
		}
	}
	if len(a.Affected) == 0 {
		return fmt.Errorf("%s: no affected packages", a.ID)
	}
	for j, af := range a.Affected {
		switch {
		case af.CPE != "" && (af.Ecosystem != "" || af.Name != "" || af.Distro != ""):
			return fmt.Errorf("%s: affected[%d]: cpe excludes ecosystem, name and distro", a.ID, j)
		case af.CPE != "":
			if _, err := parseCPE(af.CPE); err != nil {
				return fmt.Errorf("%s: affected[%d]: %v", a.ID, j, err)
			}
		case af.Ecosystem == "" || af.Name == "":
			return fmt.Errorf("%s: affected[%d]: needs ecosystem and name, or cpe", a.ID, j)
		}
		if af.Distro != "" {
			if _, _, err := splitDistro(af.Distro); err != nil {
				return fmt.Errorf("%s: affected[%d]: %v", a.ID, j, err)
			}
		}
		if strings.TrimSpace(af.Constraint) == "" {
			return fmt.Errorf("%s: affected[%d]: constraint is required (e.g. \"< 1.2.3\")", a.ID, j)
		}
		if af.FixState != "" && !fixSt[af.FixState] {
			return fmt.Errorf("%s: affected[%d]: fixState %q is not one of fixed, not-fixed, wont-fix", a.ID, j, af.FixState)
		}
		if (af.FixState == "fixed") != (af.Fixed != "") && af.FixState != "" {
			return fmt.Errorf("%s: affected[%d]: fixState fixed needs a fixed version, and only it", a.ID, j)
		}
	}
	return nil
}

// cpeParts are the attributes of a CPE 2.3 formatted string.
type cpeParts struct{ part, vendor, product string }

func parseCPE(s string) (cpeParts, error) {
	f := strings.Split(s, ":")
	if len(f) != 13 || f[0] != "cpe" || f[1] != "2.3" || f[2] == "" || f[3] == "" || f[4] == "" || f[4] == "*" {
		return cpeParts{}, fmt.Errorf("cpe %q is not a CPE 2.3 string with part, vendor and product", s)
	}
	return cpeParts{part: f[2], vendor: f[3], product: f[4]}, nil
}

func splitDistro(s string) (name, major string, err error) {
	name, major, ok := strings.Cut(s, ":")
	if !ok || name == "" || major == "" {
		return "", "", fmt.Errorf("distro %q is not NAME:MAJOR (e.g. debian:12)", s)
	}
	return name, major, nil
}
