package attest

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/intoto"
)

// StatementType is the in-toto Statement v1 type.
const StatementType = intoto.StatementType

// Predicate types of the evidence channels.
const (
	PredicateSignature  = "https://sigstore.dev/cosign/sign/v1"
	PredicateSPDX       = "https://spdx.dev/Document"
	PredicateTestResult = "https://in-toto.io/attestation/test-result/v0.1"
	PredicateVulns      = "https://in-toto.io/attestation/vulns/v0.2"
	PredicateOpenVEX    = "https://openvex.dev/ns/v0.2.0"
)

// Statement is the part of an in-toto Statement v1 attest checks.
type Statement struct {
	Type          string             `json:"_type"`
	Subject       []StatementSubject `json:"subject"`
	PredicateType string             `json:"predicateType"`
	Predicate     json.RawMessage    `json:"predicate"`
}

// StatementSubject is one subject of a statement.
type StatementSubject struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest"`
}

// ParseStatement decodes an in-toto Statement v1 and checks that it has
// exactly one subject with a digest, a predicate type and a predicate.
func ParseStatement(data []byte) (*Statement, error) {
	var st Statement
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadStatement, err)
	}
	switch {
	case st.Type != StatementType:
		return nil, fmt.Errorf("%w: _type is %q, want %q", ErrBadStatement, st.Type, StatementType)
	case len(st.Subject) != 1:
		return nil, fmt.Errorf("%w: %d subjects, want exactly one", ErrBadStatement, len(st.Subject))
	case len(st.Subject[0].Digest) == 0:
		return nil, fmt.Errorf("%w: the subject has no digest", ErrBadStatement)
	case st.PredicateType == "":
		return nil, fmt.Errorf("%w: no predicateType", ErrBadStatement)
	case len(st.Predicate) == 0 || bytes.Equal(bytes.TrimSpace(st.Predicate), []byte("null")):
		return nil, fmt.Errorf("%w: no predicate", ErrBadStatement)
	}
	return &st, nil
}

// IsAbout reports whether the statement's one subject is digest d.
func (st *Statement) IsAbout(d v1.Hash) bool {
	return len(st.Subject) == 1 && len(st.Subject[0].Digest) == 1 && st.Subject[0].Digest[d.Algorithm] == d.Hex
}

// WrapPredicate builds an in-toto Statement v1 about digest d (named name
// when not empty) whose predicate is the JSON document predicate, its
// numbers kept as written (intoto.NewStatement).
func WrapPredicate(name string, d v1.Hash, predicateType string, predicate []byte) ([]byte, error) {
	st, err := intoto.NewStatement(predicateType, []intoto.Subject{{Name: name, Digest: map[string]string{d.Algorithm: d.Hex}}}, json.RawMessage(predicate))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadStatement, err)
	}
	return st, nil
}
