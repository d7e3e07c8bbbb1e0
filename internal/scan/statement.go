package scan

import (
	"fmt"

	"github.com/clearcutt/clearcutt/internal/intoto"
	"github.com/clearcutt/clearcutt/internal/vulns"
)

// PredicateType is the in-toto vulnerabilities predicate type.
const PredicateType = vulns.PredicateType

// Predicate is the vulns/v0.2 predicate: the scanner, its database (URI,
// schema version, build time as lastUpdate) and one result per finding.
// Each result carries one annotation object with the package, its origin,
// the status (active, suppressed, excepted), the fix and, where they
// applied, the VEX status and justification or the exception. It records
// no gate verdict (StatementJSON adds it).
func (r Result) Predicate() *vulns.Predicate {
	p := &vulns.Predicate{
		Scanner: &vulns.Scanner{
			URI:     r.Scanner.URI,
			Version: r.Scanner.Version,
			DB: vulns.DB{
				URI:        r.Scanner.DB.URI(),
				Version:    r.Scanner.DB.SchemaVersion,
				LastUpdate: vulns.At(r.Scanner.DB.Built),
			},
		},
		Metadata: vulns.Metadata{
			ScanStartedOn:  vulns.At(r.StartedOn),
			ScanFinishedOn: vulns.At(r.FinishedOn),
		},
	}
	for _, f := range r.Findings {
		res := vulns.Result{ID: f.ID, Severity: []vulns.Severity{{Method: vulns.SeverityScanner, Score: f.Severity}}}
		for _, v := range f.CVSS {
			res.Severity = append(res.Severity, vulns.Severity{Method: vulns.SeverityCVSS, Score: v})
		}
		res.Annotations = []map[string]any{annotations(f)}
		p.Scanner.Result = append(p.Scanner.Result, res)
	}
	return p
}

func annotations(f Finding) map[string]any {
	a := map[string]any{
		vulns.AnnotationPackage:  f.Package.Name,
		vulns.AnnotationVersion:  f.Package.Version,
		vulns.AnnotationType:     f.Package.Type,
		vulns.AnnotationOrigin:   string(f.Origin),
		vulns.AnnotationStatus:   string(f.Status),
		vulns.AnnotationFixState: f.FixState,
	}
	if f.Package.PURL != "" {
		a[vulns.AnnotationPURL] = f.Package.PURL
	}
	if len(f.FixedIn) > 0 {
		a[vulns.AnnotationFixedIn] = f.FixedIn
	}
	if len(f.Aliases) > 0 {
		a[vulns.AnnotationAliases] = f.Aliases
	}
	if f.VEX != nil {
		a[vulns.AnnotationVEXStatus] = f.VEX.Status
		if f.VEX.Justification != "" {
			a[vulns.AnnotationVEXJustification] = f.VEX.Justification
		}
	}
	if f.Exception != nil {
		a[vulns.AnnotationExceptionOwner] = f.Exception.Owner
		a[vulns.AnnotationExceptionExpires] = f.Exception.Expires
		a[vulns.AnnotationExceptionReason] = f.Exception.Reason
		a[vulns.AnnotationExceptionExpired] = f.Exception.Expired
	}
	return a
}

// StatementJSON is the in-toto Statement v1 about the scanned platform
// image whose predicate is Predicate with the gate decision
// (vulns.GateField), encoded by intoto.NewStatement. It needs the gate
// decision (Decide): a scan statement without a verdict is never
// published.
func (r Result) StatementJSON() ([]byte, error) {
	if r.Gate == nil {
		return nil, fmt.Errorf("%w: the result has no gate decision", ErrInvalidOptions)
	}
	pred := r.Predicate()
	pred.Gate = vulns.NewGate(*r.Gate, r.StaleDBAccepted)
	return r.statement(PredicateType, pred)
}

// VEXStatementJSON is the in-toto Statement v1 (predicate type
// https://openvex.dev/ns/v0.2.0) about the scanned platform image whose
// predicate is the OpenVEX document of the statements that applied to the
// image, encoded by intoto.NewStatement.
func (r Result) VEXStatementJSON() ([]byte, error) {
	if r.VEX == nil {
		return nil, fmt.Errorf("%w: the result holds no VEX document", ErrInvalidOptions)
	}
	return r.statement(VEXPredicateType, &r.VEX.Doc)
}

// statement is the statement of predicateType about the scanned image.
func (r Result) statement(predicateType string, predicate any) ([]byte, error) {
	if r.Subject.Digest.Hex == "" {
		return nil, fmt.Errorf("%w: statement subject has no digest", ErrInvalidOptions)
	}
	return intoto.NewStatement(predicateType, []intoto.Subject{{
		Name:   r.Subject.Name,
		Digest: map[string]string{r.Subject.Digest.Algorithm: r.Subject.Digest.Hex},
	}}, predicate)
}
