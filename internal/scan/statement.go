package scan

import (
	"encoding/json"
	"fmt"

	ita1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

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
// no gate verdict (Statement adds it).
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

// Statement is the in-toto Statement v1 about the scanned platform image,
// its predicate carrying the gate decision (vulns.GateField). It needs the
// gate decision (Decide): a scan statement without a verdict is never
// published.
func (r Result) Statement() (*ita1.Statement, error) {
	if r.Gate == nil {
		return nil, fmt.Errorf("%w: the result has no gate decision", ErrInvalidOptions)
	}
	pred := r.Predicate()
	pred.Gate = vulns.NewGate(*r.Gate, r.StaleDBAccepted)
	pj, err := json.Marshal(pred)
	if err != nil {
		return nil, err
	}
	return r.statement(PredicateType, pj)
}

// StatementJSON is Statement as JSON with sorted keys (deterministic bytes).
func (r Result) StatementJSON() ([]byte, error) {
	st, err := r.Statement()
	if err != nil {
		return nil, err
	}
	return intoto.Marshal(st)
}

// VEXStatementJSON is the in-toto Statement v1 (predicate type
// https://openvex.dev/ns/v0.2.0) whose predicate is the OpenVEX document of
// the statements that applied to the image, with sorted keys.
func (r Result) VEXStatementJSON() ([]byte, error) {
	if r.VEX == nil {
		return nil, fmt.Errorf("%w: the result holds no VEX document", ErrInvalidOptions)
	}
	doc, err := json.Marshal(&r.VEX.Doc)
	if err != nil {
		return nil, err
	}
	st, err := r.statement(VEXPredicateType, doc)
	if err != nil {
		return nil, err
	}
	return intoto.Marshal(st)
}

func (r Result) statement(predicateType string, predicateJSON []byte) (*ita1.Statement, error) {
	if r.Subject.Digest.Hex == "" {
		return nil, fmt.Errorf("%w: statement subject has no digest", ErrInvalidOptions)
	}
	pred := &structpb.Struct{}
	if err := protojson.Unmarshal(predicateJSON, pred); err != nil {
		return nil, err
	}
	st := &ita1.Statement{
		Type: ita1.StatementTypeUri,
		Subject: []*ita1.ResourceDescriptor{{
			Name:   r.Subject.Name,
			Digest: map[string]string{r.Subject.Digest.Algorithm: r.Subject.Digest.Hex},
		}},
		PredicateType: predicateType,
		Predicate:     pred,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%s statement: %w", predicateType, err)
	}
	return st, nil
}
