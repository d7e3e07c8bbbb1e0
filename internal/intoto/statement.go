package intoto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	ita1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// StatementType is the in-toto Statement v1 type (the statement's _type).
const StatementType = ita1.StatementTypeUri

// ErrInvalidStatement is wrapped by every error NewStatement returns.
var ErrInvalidStatement = errors.New("invalid in-toto statement")

// Subject is one subject of a statement: the artifact's digest by
// algorithm ("sha256" → hex), its name (left out when empty) and, when not
// nil, its annotations (written even when empty).
type Subject struct {
	Name        string
	Digest      map[string]string
	Annotations map[string]any
}

// NewStatement is the in-toto Statement v1 of type predicateType about
// subjects, encoded as Canonical encodes it: one JSON object with the keys
// _type, predicate, predicateType and subject, sorted at every level, no
// insignificant whitespace, no HTML escaping. The same arguments always
// give the same bytes.
//
// predicate is a protobuf message (encoded as protobuf JSON), a
// json.RawMessage, or a value encoding/json encodes; it must be a JSON
// object. Its numbers are kept as written.
//
// NewStatement refuses a statement without a subject, a subject without a
// digest or with a digest that is not hex of the right length for a known
// algorithm, an empty predicate type and a predicate that is not an
// object. Every error wraps ErrInvalidStatement.
func NewStatement(predicateType string, subjects []Subject, predicate any) ([]byte, error) {
	if predicateType == "" {
		return nil, fmt.Errorf("%w: no predicate type", ErrInvalidStatement)
	}
	if len(subjects) == 0 {
		return nil, fmt.Errorf("%w: %s: no subject", ErrInvalidStatement, predicateType)
	}
	subj := make([]any, 0, len(subjects))
	for i, s := range subjects {
		if len(s.Digest) == 0 {
			return nil, fmt.Errorf("%w: %s: subject[%d] has no digest", ErrInvalidStatement, predicateType, i)
		}
		if err := (&ita1.ResourceDescriptor{Name: s.Name, Digest: s.Digest}).Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: subject[%d]: %v", ErrInvalidStatement, predicateType, i, err)
		}
		m := map[string]any{"digest": s.Digest}
		if s.Name != "" {
			m["name"] = s.Name
		}
		if s.Annotations != nil {
			m["annotations"] = s.Annotations
		}
		subj = append(subj, m)
	}
	pj, err := predicateJSON(predicate)
	if err != nil {
		return nil, fmt.Errorf("%w: %s predicate: %v", ErrInvalidStatement, predicateType, err)
	}
	dec := json.NewDecoder(bytes.NewReader(pj))
	dec.UseNumber()
	var p map[string]any
	if err := dec.Decode(&p); err != nil || p == nil {
		return nil, fmt.Errorf("%w: %s predicate is not a JSON object", ErrInvalidStatement, predicateType)
	}
	return Canonical(map[string]any{
		"_type":         StatementType,
		"subject":       subj,
		"predicateType": predicateType,
		"predicate":     p,
	})
}

// predicateJSON encodes a predicate as JSON.
func predicateJSON(predicate any) ([]byte, error) {
	switch p := predicate.(type) {
	case proto.Message:
		return protojson.Marshal(p)
	case json.RawMessage:
		return p, nil
	default:
		return json.Marshal(p)
	}
}
