package catalog

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/vulns"
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

// ReadVulnerabilities summarises a verified vulns/v0.2 predicate. Every
// result is kept: a finding a VEX statement suppressed or an exception
// covers is counted apart, and a status the catalog does not know counts
// as active. A predicate vulns.Decode refuses (no scanner, a result
// without an id) is an error wrapping ErrInvalid and vulns.ErrInvalid.
func ReadVulnerabilities(predicate []byte, scanTime time.Time, dbBuilt *time.Time) (*Vulnerabilities, error) {
	p, err := vulns.Decode(vulns.PredicateType, predicate)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	v := &Vulnerabilities{ScanTime: scanTime, DBBuiltAt: dbBuilt, Findings: []Finding{}}
	for _, r := range p.Scanner.Result {
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
			if s.Method == vulns.SeverityScanner {
				sev = s.Score
			}
		}
		if sev == "" {
			for _, s := range r.Severity {
				if s.Method != vulns.SeverityCVSS {
					sev = s.Score
					break
				}
			}
		}
		f := Finding{
			ID:               r.ID,
			Aliases:          strs(a[vulns.AnnotationAliases]),
			Severity:         normSeverity(sev),
			Package:          str(a[vulns.AnnotationPackage]),
			Version:          str(a[vulns.AnnotationVersion]),
			Type:             str(a[vulns.AnnotationType]),
			PURL:             str(a[vulns.AnnotationPURL]),
			Origin:           str(a[vulns.AnnotationOrigin]),
			Status:           str(a[vulns.AnnotationStatus]),
			FixState:         str(a[vulns.AnnotationFixState]),
			FixedIn:          strs(a[vulns.AnnotationFixedIn]),
			VEXStatus:        str(a[vulns.AnnotationVEXStatus]),
			VEXJustification: str(a[vulns.AnnotationVEXJustification]),
			ExceptionOwner:   str(a[vulns.AnnotationExceptionOwner]),
			ExceptionExpires: str(a[vulns.AnnotationExceptionExpires]),
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
