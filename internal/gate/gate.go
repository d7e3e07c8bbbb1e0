// Package gate decides whether an image's vulnerability findings block its
// release. It is pure: the same findings, policy and time give the same
// decision, and it depends on nothing but the standard library.
package gate

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Severity ranks a vulnerability. Unknown ranks below every known severity.
type Severity int

// Severities, lowest first.
const (
	Unknown Severity = iota
	Negligible
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"unknown", "negligible", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Unknown || s > Critical {
		return "unknown"
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name (case-insensitive). An unrecognised
// name is Unknown with ok false.
func ParseSeverity(s string) (Severity, bool) {
	for i, n := range severityNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Severity(i), true
		}
	}
	return Unknown, false
}

// ParseFailOn reads the threshold of a vulnerability gate: a severity
// name, or "any" (Unknown: every active finding fails). "unknown" is not a
// threshold.
func ParseFailOn(name string) (Severity, error) {
	if strings.EqualFold(strings.TrimSpace(name), "any") {
		return Unknown, nil
	}
	s, ok := ParseSeverity(name)
	if !ok || s == Unknown {
		return Unknown, fmt.Errorf("%q: want critical, high, medium, low, negligible or any", name)
	}
	return s, nil
}

// Status says how a finding is treated.
type Status string

const (
	// Active findings count against the image.
	Active Status = "active"
	// Suppressed findings are covered by a VEX statement (not_affected or fixed).
	Suppressed Status = "suppressed"
	// Excepted findings are covered by an active exception.
	Excepted Status = "excepted"
)

// Exception is the exception that matched a finding.
type Exception struct {
	Owner string
	// Expires is the last day (UTC) the exception applies.
	Expires time.Time
}

// Expired reports whether the exception no longer applies at now: it is
// valid through the whole of its expiry day.
func (e Exception) Expired(now time.Time) bool {
	end := time.Date(e.Expires.Year(), e.Expires.Month(), e.Expires.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	return !now.Before(end)
}

// Finding is the gate's view of one vulnerability match.
type Finding struct {
	ID       string
	Package  string
	Version  string
	Severity Severity
	// Fixable is true when a fixed version is known.
	Fixable bool
	Status  Status
	// Exception is the exception whose id and package match the finding,
	// active or expired; nil when none does.
	Exception *Exception
}

// Policy is what the gate enforces.
type Policy struct {
	// FailOn is the lowest severity that fails the gate. Unknown means every
	// active finding fails it.
	FailOn Severity
	// OnlyFixable restricts failures to findings with a known fix.
	OnlyFixable bool
	// Now decides whether exceptions have expired.
	Now time.Time
}

// Counts tallies findings by status.
type Counts struct {
	Active     int `json:"active"`
	Suppressed int `json:"suppressed"`
	Excepted   int `json:"excepted"`
	// Blocking is the number of findings that fail the gate.
	Blocking int `json:"blocking"`
	// ExpiredExceptions is the number of findings matched by an expired exception.
	ExpiredExceptions int `json:"expiredExceptions"`
	// BySeverity counts active findings by severity name.
	BySeverity map[string]int `json:"bySeverity"`
}

// Decision is the outcome of the gate.
type Decision struct {
	Pass    bool     `json:"pass"`
	Policy  string   `json:"policy"`
	Reasons []string `json:"reasons,omitempty"`
	Counts  Counts   `json:"counts"`
}

// Decide applies p to findings. It fails on any active finding at or above
// p.FailOn (only those with a fix when p.OnlyFixable), and on any finding
// matched by an expired exception, whatever its status or severity: an
// expired exception must be renewed or removed.
func Decide(findings []Finding, p Policy) Decision {
	d := Decision{Pass: true, Policy: p.String(), Counts: Counts{BySeverity: map[string]int{}}}
	var reasons []string
	for _, f := range findings {
		switch f.Status {
		case Suppressed:
			d.Counts.Suppressed++
		case Excepted:
			d.Counts.Excepted++
		default:
			d.Counts.Active++
			d.Counts.BySeverity[f.Severity.String()]++
		}
		if f.Exception != nil && f.Exception.Expired(p.Now) {
			d.Counts.ExpiredExceptions++
			reasons = append(reasons, fmt.Sprintf("%s in %s %s: exception owned by %s expired on %s",
				f.ID, f.Package, f.Version, f.Exception.Owner, f.Exception.Expires.Format(time.DateOnly)))
		}
		if f.Status != Suppressed && f.Status != Excepted && f.Severity >= p.FailOn && (f.Fixable || !p.OnlyFixable) {
			d.Counts.Blocking++
			fix := "no fix available"
			if f.Fixable {
				fix = "fix available"
			}
			reasons = append(reasons, fmt.Sprintf("%s in %s %s: severity %s >= %s (%s)", f.ID, f.Package, f.Version, f.Severity, p.FailOn, fix))
		}
	}
	sort.Strings(reasons)
	d.Reasons = dedupe(reasons)
	d.Pass = len(d.Reasons) == 0
	return d
}

// String describes the policy, e.g. "fail on high or above, fixable only".
func (p Policy) String() string {
	s := "fail on " + p.FailOn.String() + " or above"
	if p.FailOn == Unknown {
		s = "fail on any severity"
	}
	if p.OnlyFixable {
		s += ", fixable only"
	}
	return s
}

func dedupe(xs []string) []string {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}
