// Package vulns is the in-toto vulnerability-scan predicate
// (https://in-toto.io/attestation/vulns/v0.2) as ClearCutt writes and
// reads it: the scanner and its database, one result per finding carrying
// ClearCutt's annotations (package, status, fix, VEX, exception), the scan
// times, and ClearCutt's extension, the gate verdict the scan reached.
//
// internal/scan writes it; verify judges it, the catalog summarises it and
// the rescan compares a new scan with it.
package vulns

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/gate"
)

// PredicateType is the in-toto vulnerabilities predicate type.
const PredicateType = "https://in-toto.io/attestation/vulns/v0.2"

// ErrInvalid is wrapped by every error Decode returns.
var ErrInvalid = errors.New("invalid vulnerability predicate")

// Predicate is the vulns/v0.2 predicate. Its JSON is the protobuf JSON of
// the in-toto predicate (empty strings and an empty result list left out,
// times as Time writes them) with the top-level GateField added.
type Predicate struct {
	// Scanner is required: Decode refuses a predicate without one.
	Scanner  *Scanner `json:"scanner,omitempty"`
	Metadata Metadata `json:"metadata"`
	// Gate is the verdict the scan reached (nil: none recorded).
	Gate *Gate `json:"gate,omitempty"`
}

// Scanner is the scanner, its database and its results.
type Scanner struct {
	URI     string `json:"uri,omitempty"`
	Version string `json:"version"`
	DB      DB     `json:"db"`
	// Result is one entry per finding. A nil list is left out of the
	// JSON, an empty one is written as [].
	Result []Result `json:"result,omitzero"`
}

// DB is the vulnerability database the scanner matched against.
type DB struct {
	URI     string `json:"uri"`
	Version string `json:"version"`
	// LastUpdate is the database's build time.
	LastUpdate *Time `json:"lastUpdate,omitempty"`
}

// Result is one finding: a vulnerability in one package.
type Result struct {
	ID       string     `json:"id,omitempty"`
	Severity []Severity `json:"severity,omitempty"`
	// Annotations hold one object with the Annotation* keys.
	Annotations []map[string]any `json:"annotations,omitempty"`
}

// Severity is one rating of a finding: the scanner's own severity name
// (method SeverityScanner) or a CVSS vector (SeverityCVSS).
type Severity struct {
	Method string `json:"method,omitempty"`
	Score  string `json:"score,omitempty"`
}

// Severity methods.
const (
	SeverityScanner = "grype"
	SeverityCVSS    = "cvss_vector"
)

// Annotation keys of a result. Status is active, suppressed (a VEX
// statement applied: vexStatus, vexJustification) or excepted (an
// exception applied: exceptionOwner, exceptionExpires as YYYY-MM-DD,
// exceptionReason, exceptionExpired at scan time). An index statement
// adds the platform the finding was found on.
const (
	AnnotationPackage          = "package"
	AnnotationVersion          = "version"
	AnnotationType             = "type"
	AnnotationPURL             = "purl"
	AnnotationOrigin           = "origin"
	AnnotationStatus           = "status"
	AnnotationFixState         = "fixState"
	AnnotationFixedIn          = "fixedIn"
	AnnotationAliases          = "aliases"
	AnnotationVEXStatus        = "vexStatus"
	AnnotationVEXJustification = "vexJustification"
	AnnotationExceptionOwner   = "exceptionOwner"
	AnnotationExceptionExpires = "exceptionExpires"
	AnnotationExceptionReason  = "exceptionReason"
	AnnotationExceptionExpired = "exceptionExpired"
	AnnotationPlatform         = "platform"
)

// Metadata are the scan's times.
type Metadata struct {
	ScanStartedOn  *Time `json:"scanStartedOn,omitempty"`
	ScanFinishedOn *Time `json:"scanFinishedOn,omitempty"`
}

// GateField is the top-level predicate field that carries the gate
// decision the scan reached (a ClearCutt extension of vulns/v0.2).
const GateField = "gate"

// Gate is the gate object of the predicate: the decision, and whether a
// database older than the maximum age was accepted with the unsafe option
// (verify and admission refuse such a scan).
type Gate struct {
	// Pass is the verdict (nil: the object records none).
	Pass            *bool       `json:"pass,omitempty"`
	Policy          string      `json:"policy"`
	Reasons         []string    `json:"reasons,omitempty"`
	Counts          gate.Counts `json:"counts"`
	StaleDBAccepted bool        `json:"staleDBAccepted,omitempty"`
}

// NewGate is the gate object recording decision d.
func NewGate(d gate.Decision, staleDBAccepted bool) *Gate {
	pass := d.Pass
	return &Gate{Pass: &pass, Policy: d.Policy, Reasons: d.Reasons, Counts: d.Counts, StaleDBAccepted: staleDBAccepted}
}

// Verdict is the gate's verdict; ok is false when g is nil or records
// none.
func (g *Gate) Verdict() (pass, ok bool) {
	if g == nil || g.Pass == nil {
		return false, false
	}
	return *g.Pass, true
}

// Time is a time as the predicate carries it. It is written as protobuf
// JSON writes a google.protobuf.Timestamp: RFC 3339 in UTC with 0, 3, 6 or
// 9 fractional digits; any RFC 3339 time is read.
type Time struct{ time.Time }

// At is t as a predicate time.
func At(t time.Time) *Time { return &Time{t} }

// MarshalJSON writes t in UTC with 0, 3, 6 or 9 fractional digits, and
// refuses a time outside the years 1 to 9999.
func (t Time) MarshalJSON() ([]byte, error) {
	u := t.UTC()
	if y := u.Year(); y < 1 || y > 9999 {
		return nil, fmt.Errorf("time %s: the year is outside 1 to 9999", u.Format(time.RFC3339))
	}
	s := u.Format("2006-01-02T15:04:05.000000000")
	s = strings.TrimSuffix(s, "000")
	s = strings.TrimSuffix(s, "000")
	s = strings.TrimSuffix(s, ".000")
	return []byte(`"` + s + `Z"`), nil
}

// ScanTime is when the scan finished, else when it started; ok is false
// when the predicate records neither.
func (p *Predicate) ScanTime() (t time.Time, ok bool) {
	switch {
	case p.Metadata.ScanFinishedOn != nil:
		return p.Metadata.ScanFinishedOn.Time, true
	case p.Metadata.ScanStartedOn != nil:
		return p.Metadata.ScanStartedOn.Time, true
	}
	return time.Time{}, false
}

// DBBuilt is the build time of the scanner's database (nil: not
// recorded).
func (p *Predicate) DBBuilt() *time.Time {
	if p.Scanner == nil || p.Scanner.DB.LastUpdate == nil {
		return nil
	}
	t := p.Scanner.DB.LastUpdate.Time
	return &t
}

// Decode reads the predicate of a statement whose predicateType is
// predicateType. It refuses another predicate type, a predicate that is
// not a JSON object of this shape, one without a scanner, and a result
// without an id. Every error wraps ErrInvalid.
func Decode(predicateType string, predicate []byte) (*Predicate, error) {
	if predicateType != PredicateType {
		return nil, fmt.Errorf("%w: predicateType is %q, want %q", ErrInvalid, predicateType, PredicateType)
	}
	var p Predicate
	if err := json.Unmarshal(predicate, &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if p.Scanner == nil {
		return nil, fmt.Errorf("%w: no scanner", ErrInvalid)
	}
	for i, r := range p.Scanner.Result {
		if r.ID == "" {
			return nil, fmt.Errorf("%w: scanner.result[%d] has no id", ErrInvalid, i)
		}
	}
	return &p, nil
}
