package scan

import (
	"encoding/json"
	"fmt"

	vulnsv02 "github.com/in-toto/attestation/go/predicates/vulns/v02"
	ita1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/intoto"
)

// PredicateType is the in-toto vulnerabilities predicate type.
const PredicateType = "https://in-toto.io/attestation/vulns/v0.2"

// Predicate is the vulns/v0.2 predicate: the scanner, its database (URI,
// schema version, build time as lastUpdate) and one result per finding.
// Each result carries one annotation object with the package, its origin,
// the status (active, suppressed, excepted), the fix and, where they
// applied, the VEX status and justification or the exception.
func (r Result) Predicate() (*vulnsv02.Vulns, error) {
	dbURI := r.Scanner.DB.URI()
	dbVersion := r.Scanner.DB.SchemaVersion
	version := r.Scanner.Version
	p := &vulnsv02.Vulns{
		Scanner: &vulnsv02.Scanner{
			Uri:     r.Scanner.URI,
			Version: &version,
			Db: &vulnsv02.VulnDatabase{
				Uri:        &dbURI,
				Version:    &dbVersion,
				LastUpdate: timestamppb.New(r.Scanner.DB.Built),
			},
			Result: []*vulnsv02.Result{},
		},
		Metadata: &vulnsv02.ScanMetadata{
			ScanStartedOn:  timestamppb.New(r.StartedOn),
			ScanFinishedOn: timestamppb.New(r.FinishedOn),
		},
	}
	for _, f := range r.Findings {
		res := &vulnsv02.Result{Id: f.ID, Severity: []*vulnsv02.Result_Severity{{Method: "grype", Score: f.Severity}}}
		for _, v := range f.CVSS {
			res.Severity = append(res.Severity, &vulnsv02.Result_Severity{Method: "cvss_vector", Score: v})
		}
		ann, err := structpb.NewStruct(annotations(f))
		if err != nil {
			return nil, fmt.Errorf("annotations of %s: %w", f.ID, err)
		}
		res.Annotations = []*structpb.Struct{ann}
		p.Scanner.Result = append(p.Scanner.Result, res)
	}
	return p, nil
}

func annotations(f Finding) map[string]any {
	a := map[string]any{
		"package":  f.Package.Name,
		"version":  f.Package.Version,
		"type":     f.Package.Type,
		"origin":   string(f.Origin),
		"status":   string(f.Status),
		"fixState": f.FixState,
	}
	if f.Package.PURL != "" {
		a["purl"] = f.Package.PURL
	}
	if len(f.FixedIn) > 0 {
		a["fixedIn"] = toAny(f.FixedIn)
	}
	if len(f.Aliases) > 0 {
		a["aliases"] = toAny(f.Aliases)
	}
	if f.VEX != nil {
		a["vexStatus"] = f.VEX.Status
		if f.VEX.Justification != "" {
			a["vexJustification"] = f.VEX.Justification
		}
	}
	if f.Exception != nil {
		a["exceptionOwner"] = f.Exception.Owner
		a["exceptionExpires"] = f.Exception.Expires
		a["exceptionReason"] = f.Exception.Reason
		a["exceptionExpired"] = f.Exception.Expired
	}
	return a
}

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// GateField is the top-level predicate field that carries the gate
// decision the scan reached (a ClearCutt extension of vulns/v0.2).
const GateField = "gate"

// GateRecord is the gate object of the predicate: the decision, and
// whether a database older than the maximum age was accepted with the
// unsafe option (verify and admission refuse such a scan).
type GateRecord struct {
	gate.Decision
	StaleDBAccepted bool `json:"staleDBAccepted,omitempty"`
}

// Statement is the in-toto Statement v1 about the scanned platform image.
// It needs the gate decision (Decide): a scan statement without a verdict
// is never published.
func (r Result) Statement() (*ita1.Statement, error) {
	if r.Gate == nil {
		return nil, fmt.Errorf("%w: the result has no gate decision", ErrInvalidOptions)
	}
	pred, err := r.Predicate()
	if err != nil {
		return nil, err
	}
	pj, err := protojson.Marshal(pred)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(pj, &m); err != nil {
		return nil, err
	}
	g, err := json.Marshal(GateRecord{Decision: *r.Gate, StaleDBAccepted: r.StaleDBAccepted})
	if err != nil {
		return nil, err
	}
	m[GateField] = json.RawMessage(g)
	pj, err = json.Marshal(m)
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
