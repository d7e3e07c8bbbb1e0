package catalog

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Finding statuses, as internal/scan annotates vulns/v0.2 results.
const (
	FindingActive     = "active"
	FindingSuppressed = "suppressed"
	FindingExcepted   = "excepted"
)

// severities from the most to the least severe.
var severities = []string{"critical", "high", "medium", "low", "negligible", "unknown"}

func severityRank(s string) int {
	for i, n := range severities {
		if n == s {
			return i
		}
	}
	return len(severities) - 1
}

// normSeverity maps a severity name to one of severities ("unknown" for
// anything else).
func normSeverity(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, n := range severities {
		if n == s {
			return n
		}
	}
	return "unknown"
}

// add counts one finding of severity s.
func (c *Severities) add(s string) {
	switch normSeverity(s) {
	case "critical":
		c.Critical++
	case "high":
		c.High++
	case "medium":
		c.Medium++
	case "low":
		c.Low++
	case "negligible":
		c.Negligible++
	default:
		c.Unknown++
	}
}

// Total is the number of findings counted.
func (c Severities) Total() int {
	return c.Critical + c.High + c.Medium + c.Low + c.Negligible + c.Unknown
}

// vulnsPredicate is the part of a vulns/v0.2 predicate the catalog reads:
// each result's id, its severities (the scanner's own under method
// "grype") and the annotations internal/scan writes.
type vulnsPredicate struct {
	Scanner *struct {
		Result []struct {
			ID       string `json:"id"`
			Severity []struct {
				Method string `json:"method"`
				Score  string `json:"score"`
			} `json:"severity"`
			Annotations []map[string]any `json:"annotations"`
		} `json:"result"`
	} `json:"scanner"`
}

// ReadVulnerabilities summarises a verified vulns/v0.2 predicate. Every
// result is kept: a finding a VEX statement suppressed or an exception
// covers is counted apart, and a status the catalog does not know counts
// as active. A predicate without a scanner is refused.
func ReadVulnerabilities(predicate []byte, scanTime time.Time, dbBuilt *time.Time) (*Vulnerabilities, error) {
	var p vulnsPredicate
	if err := json.Unmarshal(predicate, &p); err != nil {
		return nil, fmt.Errorf("%w: vulnerability predicate: %v", ErrInvalid, err)
	}
	if p.Scanner == nil {
		return nil, fmt.Errorf("%w: vulnerability predicate has no scanner", ErrInvalid)
	}
	v := &Vulnerabilities{ScanTime: scanTime, DBBuiltAt: dbBuilt, Findings: []Finding{}}
	for i, r := range p.Scanner.Result {
		if r.ID == "" {
			return nil, fmt.Errorf("%w: vulnerability predicate: result %d has no id", ErrInvalid, i)
		}
		a := map[string]any{}
		for _, m := range r.Annotations {
			for k, val := range m {
				if _, seen := a[k]; !seen {
					a[k] = val
				}
			}
		}
		sev := ""
		for _, s := range r.Severity {
			if s.Method == "grype" {
				sev = s.Score
			}
		}
		if sev == "" {
			for _, s := range r.Severity {
				if s.Method != "cvss_vector" {
					sev = s.Score
					break
				}
			}
		}
		f := Finding{
			ID:               r.ID,
			Aliases:          strs(a["aliases"]),
			Severity:         normSeverity(sev),
			Package:          str(a["package"]),
			Version:          str(a["version"]),
			Type:             str(a["type"]),
			PURL:             str(a["purl"]),
			Origin:           str(a["origin"]),
			Status:           str(a["status"]),
			FixState:         str(a["fixState"]),
			FixedIn:          strs(a["fixedIn"]),
			VEXStatus:        str(a["vexStatus"]),
			VEXJustification: str(a["vexJustification"]),
			ExceptionOwner:   str(a["exceptionOwner"]),
			ExceptionExpires: str(a["exceptionExpires"]),
		}
		switch f.Status {
		case FindingSuppressed:
			v.Suppressed.add(f.Severity)
		case FindingExcepted:
			v.Excepted.add(f.Severity)
		default:
			f.Status = FindingActive
			v.Active.add(f.Severity)
		}
		v.Findings = append(v.Findings, f)
	}
	sort.SliceStable(v.Findings, func(i, j int) bool {
		a, b := v.Findings[i], v.Findings[j]
		if ra, rb := severityRank(a.Severity), severityRank(b.Severity); ra != rb {
			return ra < rb
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return a.Version < b.Version
	})
	return v, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	xs, _ := v.([]any)
	var out []string
	for _, x := range xs {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
