package verify

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// parseBundle reads a Sigstore bundle and peeks at its statement's
// predicate type (unverified: it only selects the identity to verify with).
func parseBundle(js []byte) (*bundle.Bundle, string, error) {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(js); err != nil {
		return nil, "", fmt.Errorf("%w: bundle: %v", ErrSignature, err)
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return nil, "", fmt.Errorf("%w: bundle holds no DSSE envelope", ErrSignature)
	}
	if env.GetPayloadType() != InTotoPayloadType {
		return nil, "", fmt.Errorf("%w: DSSE payload type %q", ErrSignature, env.GetPayloadType())
	}
	return &b, peekPredicateType(env.GetPayload()), nil
}

func peekPredicateType(payload []byte) string {
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	_ = json.Unmarshal(payload, &st)
	return st.PredicateType
}

// Cosign's legacy layer annotations.
const (
	annotationCertificate = "dev.sigstore.cosign/certificate"
	annotationBundle      = "dev.sigstore.cosign/bundle"
)

// rekorBundle is cosign's dev.sigstore.cosign/bundle annotation: the Rekor
// entry and its signed entry timestamp (inclusion promise).
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

// legacyEntity is a cosign `.att` layer seen as a sigstore-go signed
// entity: the DSSE envelope, the Fulcio certificate, and the Rekor entry
// with its inclusion promise, so the bundle verifier checks it unchanged.
type legacyEntity struct {
	sgverify.BaseSignedEntity
	cert  *x509.Certificate
	env   *dsse.Envelope
	entry *tlog.Entry
}

func (e *legacyEntity) HasInclusionPromise() bool { return true }
func (e *legacyEntity) HasInclusionProof() bool   { return false }
func (e *legacyEntity) VerificationContent() (sgverify.VerificationContent, error) {
	return bundle.NewCertificate(e.cert), nil
}
func (e *legacyEntity) SignatureContent() (sgverify.SignatureContent, error) {
	return &bundle.Envelope{Envelope: e.env}, nil
}
func (e *legacyEntity) Timestamps() ([][]byte, error)       { return nil, nil }
func (e *legacyEntity) TlogEntries() ([]*tlog.Entry, error) { return []*tlog.Entry{e.entry}, nil }
func (e *legacyEntity) Version() (string, error)            { return "v0.1", nil }

// predicateType peeks at the (not yet verified) statement.
func (e *legacyEntity) predicateType() string {
	p, err := base64.StdEncoding.DecodeString(e.env.Payload)
	if err != nil {
		return ""
	}
	return peekPredicateType(p)
}

// parseLegacyAttestation turns one `.att` layer into a legacyEntity.
func parseLegacyAttestation(l LegacyLayer) (*legacyEntity, error) {
	if l.MediaType != LegacyDSSEMediaType {
		return nil, fmt.Errorf("%w: layer media type %q", ErrLegacyFormat, l.MediaType)
	}
	var env dsse.Envelope
	if err := json.Unmarshal(l.Data, &env); err != nil {
		return nil, fmt.Errorf("%w: DSSE envelope: %v", ErrLegacyFormat, err)
	}
	if env.PayloadType != InTotoPayloadType || len(env.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want one signature over an in-toto payload", ErrLegacyFormat)
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(l.Annotations[annotationCertificate]))
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("%w: %s annotation holds no certificate", ErrLegacyFormat, annotationCertificate)
	}
	var rb rekorBundle
	if err := json.Unmarshal([]byte(l.Annotations[annotationBundle]), &rb); err != nil {
		return nil, fmt.Errorf("%w: %s annotation: %v", ErrLegacyFormat, annotationBundle, err)
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: rekor entry body: %v", ErrLegacyFormat, err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("%w: rekor log id: %v", ErrLegacyFormat, err)
	}
	entry, err := tlog.NewEntry(body, rb.Payload.IntegratedTime, rb.Payload.LogIndex, logID, rb.SignedEntryTimestamp, nil) //nolint:staticcheck // Rekor v1 entries are what cosign's legacy tags carry
	if err != nil {
		return nil, fmt.Errorf("%w: rekor entry: %v", ErrLegacyFormat, err)
	}
	return &legacyEntity{cert: certs[0], env: &env, entry: entry}, nil
}
