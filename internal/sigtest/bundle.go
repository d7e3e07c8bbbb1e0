package sigtest

import (
	"context"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
)

// InTotoPayloadType is the DSSE payload type of in-toto statements.
const InTotoPayloadType = "application/vnd.in-toto+json"

// Statement returns an in-toto Statement v1 with one subject (name,
// digest) and the given predicate, marshalled with sorted keys.
func Statement(name string, digest v1.Hash, predicateType string, predicate any) ([]byte, error) {
	pred, err := json.Marshal(predicate)
	if err != nil {
		return nil, fmt.Errorf("sigtest: predicate: %w", err)
	}
	var generic any
	if err := json.Unmarshal(pred, &generic); err != nil {
		return nil, err
	}
	// encoding/json sorts map keys, so the statement bytes are canonical.
	return json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": name, "digest": map[string]string{digest.Algorithm: digest.Hex}}},
		"predicateType": predicateType,
		"predicate":     generic,
	})
}

// SignStatement signs an in-toto statement keylessly as id: a DSSE
// envelope in a Sigstore bundle v0.3 with the leaf certificate, a Rekor
// entry (inclusion promise and proof) and an RFC 3161 timestamp. It
// returns the bundle's protojson.
func (s *Sigstore) SignStatement(ctx context.Context, id GitHubIdentity, statement []byte) ([]byte, error) {
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, err
	}
	pb, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: InTotoPayloadType}, kp, sign.BundleOptions{
		Context:              ctx,
		CertificateProvider:  fulcio{s: s, id: id},
		TimestampAuthorities: []*sign.TimestampAuthority{s.timestampAuthority()},
		TransparencyLogs:     []sign.Transparency{rekor{s}},
		TrustedRoot:          s.trusted,
	})
	if err != nil {
		return nil, fmt.Errorf("sigtest: sign statement: %w", err)
	}
	return protojson.Marshal(pb)
}
