// Package scan matches an image's SPDX SBOM against a Grype v6 vulnerability
// database with Grype as a library, applies OpenVEX documents and
// vulnerability exceptions, and normalises the matches into findings that
// say where each vulnerable package comes from (the Nix closure or the base
// image). The findings feed internal/gate and an in-toto vulns/v0.2
// statement.
package scan

import (
	"errors"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/vulndb"
)

// Sentinel errors.
var (
	// ErrStaleDB: the database is older than the maximum age.
	ErrStaleDB = errors.New("vulnerability database is stale")
	// ErrInvalidOptions: the options are incomplete or inconsistent.
	ErrInvalidOptions = errors.New("invalid scan options")
	// ErrInvalidSBOM: the SBOM is not an SPDX 2.x JSON document grype can read.
	ErrInvalidSBOM = errors.New("invalid SBOM")
	// ErrInvalidVEX: a VEX document cannot be read as OpenVEX.
	ErrInvalidVEX = errors.New("invalid OpenVEX document")
)

// DefaultMaxDBAge is the maximum database age when Options.MaxDBAge is zero.
const DefaultMaxDBAge = 120 * time.Hour

// Subject is the scanned platform image.
type Subject struct {
	Name   string  `json:"name"`
	Digest v1.Hash `json:"digest"`
}

// Options configure one scan.
type Options struct {
	// SBOM is the SPDX 2.3 JSON document of the image; SBOMPath names it in errors.
	SBOM     []byte
	SBOMPath string
	Subject  Subject
	// Overlay is true for images built on a base image: packages outside
	// the Nix closure are then attributed to the base.
	Overlay bool
	// DBDir holds the Grype v6 database (vulnerability.db).
	DBDir string
	// MaxDBAge is the oldest database accepted (DefaultMaxDBAge when zero).
	MaxDBAge time.Duration
	// AllowStaleDBUnsafe accepts a database older than MaxDBAge.
	AllowStaleDBUnsafe bool
	// Now is the time the database age and exception expiry are judged at
	// (time.Now when zero).
	Now time.Time
	// Clock times the scan for the statement metadata (time.Now when nil).
	Clock func() time.Time
	// VEX are paths of OpenVEX documents.
	VEX []string
	// Exceptions are the vulnerability exceptions, if any.
	Exceptions *Exceptions
	// Progress receives short status messages.
	Progress func(string)
}

// Origin says where a vulnerable package comes from.
type Origin string

const (
	// OriginClosure: the package is part of the image's Nix closure.
	OriginClosure Origin = "closure"
	// OriginBase: the package comes from the base of an overlay image.
	OriginBase Origin = "base"
	// OriginImage: the image has no base and the package is outside /nix/store.
	OriginImage Origin = "image"
)

// Package is the matched package.
type Package struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Type      string   `json:"type"`
	PURL      string   `json:"purl,omitempty"`
	Locations []string `json:"locations,omitempty"`
}

// VEXApplied is the VEX statement that suppressed a finding.
type VEXApplied struct {
	Status          string `json:"status"`
	Justification   string `json:"justification,omitempty"`
	ImpactStatement string `json:"impactStatement,omitempty"`
}

// ExceptionApplied is the exception that matched a finding.
type ExceptionApplied struct {
	ID      string `json:"id"`
	Package string `json:"package"`
	Owner   string `json:"owner"`
	Reason  string `json:"reason"`
	Expires string `json:"expires"`
	Expired bool   `json:"expired"`
	Where   string `json:"where"`
}

// Finding is one vulnerability in one package.
type Finding struct {
	ID          string   `json:"id"`
	Aliases     []string `json:"aliases,omitempty"`
	Severity    string   `json:"severity"`
	CVSS        []string `json:"cvss,omitempty"`
	Description string   `json:"description,omitempty"`
	DataSource  string   `json:"dataSource,omitempty"`
	Package     Package  `json:"package"`
	FixedIn     []string `json:"fixedIn,omitempty"`
	// FixState is grype's fix state: fixed, not-fixed, wont-fix or unknown.
	FixState string      `json:"fixState"`
	Origin   Origin      `json:"origin"`
	Status   gate.Status `json:"status"`
	// MatchTypes says how grype matched (exact-direct-match, cpe-match, ...).
	MatchTypes []string          `json:"matchTypes,omitempty"`
	VEX        *VEXApplied       `json:"vex,omitempty"`
	Exception  *ExceptionApplied `json:"exception,omitempty"`
}

// Scanner identifies the matcher and its database.
type Scanner struct {
	URI     string      `json:"uri"`
	Version string      `json:"version"`
	DB      vulndb.Info `json:"db"`
}

// Result is the outcome of one scan.
type Result struct {
	Subject  Subject   `json:"subject"`
	Scanner  Scanner   `json:"scanner"`
	Packages int       `json:"packages"`
	Findings []Finding `json:"findings"`
	// ExpiredExceptions are the exceptions past their expiry day; they apply to nothing.
	ExpiredExceptions []ExceptionApplied `json:"expiredExceptions,omitempty"`
	// UnusedExceptions are active exceptions that matched no finding.
	UnusedExceptions []ExceptionApplied `json:"unusedExceptions,omitempty"`
	// StaleDBAccepted is true when the database was older than the maximum
	// age and AllowStaleDBUnsafe accepted it.
	StaleDBAccepted bool      `json:"staleDBAccepted,omitempty"`
	StartedOn       time.Time `json:"startedOn"`
	FinishedOn      time.Time `json:"finishedOn"`
	// VEX is the OpenVEX document of the statements that applied to this image.
	VEX *AppliedVEX `json:"-"`
	// Gate is the decision Decide recorded; the statement carries it.
	Gate *gate.Decision `json:"-"`
}

// Decide applies the gate policy p to the findings and records the
// decision in r: the vulnerability statement carries it, so admission can
// refuse an image whose signed scan failed the gate.
func (r *Result) Decide(p gate.Policy) gate.Decision {
	d := gate.Decide(r.GateFindings(), p)
	r.Gate = &d
	return d
}

// GateFindings is the gate's view of the findings.
func (r Result) GateFindings() []gate.Finding {
	out := make([]gate.Finding, 0, len(r.Findings))
	for _, f := range r.Findings {
		sev, _ := gate.ParseSeverity(f.Severity)
		g := gate.Finding{ID: f.ID, Package: f.Package.Name, Version: f.Package.Version, Severity: sev,
			Fixable: len(f.FixedIn) > 0, Status: f.Status}
		if f.Exception != nil {
			t, _ := time.Parse(time.DateOnly, f.Exception.Expires)
			g.Exception = &gate.Exception{Owner: f.Exception.Owner, Expires: t}
		}
		out = append(out, g)
	}
	return out
}
