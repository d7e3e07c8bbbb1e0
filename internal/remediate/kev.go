package remediate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// ErrInvalidKEV is wrapped by every error about a KEV catalog file.
var ErrInvalidKEV = errors.New("invalid known-exploited-vulnerabilities catalog")

// KEV is an offline copy of CISA's Known Exploited Vulnerabilities catalog
// (known_exploited_vulnerabilities.json). Fields CISA adds later are
// ignored; the ones read here are checked.
type KEV struct {
	// Path is the file it was read from.
	Path           string `json:"path"`
	Title          string `json:"title,omitempty"`
	CatalogVersion string `json:"catalogVersion"`
	DateReleased   string `json:"dateReleased,omitempty"`
	// Count is the number of vulnerabilities listed.
	Count int `json:"count"`
	byID  map[string]KEVEntry
}

// KEVEntry is one vulnerability of the catalog.
type KEVEntry struct {
	CVEID                      string `json:"cveID"`
	VendorProject              string `json:"vendorProject,omitempty"`
	Product                    string `json:"product,omitempty"`
	VulnerabilityName          string `json:"vulnerabilityName,omitempty"`
	DateAdded                  string `json:"dateAdded,omitempty"`
	RequiredAction             string `json:"requiredAction,omitempty"`
	DueDate                    string `json:"dueDate,omitempty"`
	KnownRansomwareCampaignUse string `json:"knownRansomwareCampaignUse,omitempty"`
}

var cveRE = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

// LoadKEV reads a KEV catalog file.
func LoadKEV(path string) (*KEV, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKEV, err)
	}
	return ParseKEV(path, data)
}

// ParseKEV decodes a KEV catalog, naming path in errors: it must have a
// catalogVersion and a vulnerabilities list whose entries have a
// well-formed cveID and dates, and whose length matches count when count
// is given.
func ParseKEV(path string, data []byte) (*KEV, error) {
	var raw struct {
		Title           string      `json:"title"`
		CatalogVersion  string      `json:"catalogVersion"`
		DateReleased    string      `json:"dateReleased"`
		Count           *int        `json:"count"`
		Vulnerabilities *[]KEVEntry `json:"vulnerabilities"`
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidKEV, path, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidKEV, path, fmt.Sprintf(format, a...))
	}
	if strings.TrimSpace(raw.CatalogVersion) == "" {
		return nil, bad("no catalogVersion: not CISA's known_exploited_vulnerabilities.json")
	}
	if raw.Vulnerabilities == nil {
		return nil, bad("no vulnerabilities list")
	}
	vulns := *raw.Vulnerabilities
	if raw.Count != nil && *raw.Count != len(vulns) {
		return nil, bad("count is %d but %d vulnerabilities are listed", *raw.Count, len(vulns))
	}
	k := &KEV{Path: path, Title: raw.Title, CatalogVersion: raw.CatalogVersion, DateReleased: raw.DateReleased,
		Count: len(vulns), byID: make(map[string]KEVEntry, len(vulns))}
	for i, v := range vulns {
		if !cveRE.MatchString(v.CVEID) {
			return nil, bad("vulnerabilities[%d].cveID %q is not a CVE id", i, v.CVEID)
		}
		for field, d := range map[string]string{"dateAdded": v.DateAdded, "dueDate": v.DueDate} {
			if d == "" {
				continue
			}
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				return nil, bad("vulnerabilities[%d] (%s).%s %q is not a date (YYYY-MM-DD)", i, v.CVEID, field, d)
			}
		}
		k.byID[v.CVEID] = v
	}
	return k, nil
}

// Lookup returns the entry of the first of ids (a finding's id and its
// aliases) the catalog lists. A nil KEV lists nothing.
func (k *KEV) Lookup(ids ...string) (KEVEntry, bool) {
	if k == nil {
		return KEVEntry{}, false
	}
	for _, id := range ids {
		if e, ok := k.byID[strings.ToUpper(strings.TrimSpace(id))]; ok {
			return e, true
		}
	}
	return KEVEntry{}, false
}
