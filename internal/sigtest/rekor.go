package sigtest

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Rekor is the virtual Rekor v1 log as a sign.Transparency, for signers
// that take a transparency log.
func (s *Sigstore) Rekor() sign.Transparency { return rekor{s} }

// rekor is a sign.Transparency backed by the virtual Rekor v1 log: a dsse
// entry with a signed entry timestamp and an inclusion proof.
type rekor struct{ s *Sigstore }

func (r rekor) GetTransparencyLogEntry(_ context.Context, certPEM []byte, b *protobundle.Bundle) error {
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM(certPEM)
	if err != nil || len(certs) == 0 {
		return fmt.Errorf("sigtest: rekor: signer certificate: %v", err)
	}
	pe := b.GetDsseEnvelope()
	if pe == nil || len(pe.Signatures) != 1 {
		return fmt.Errorf("sigtest: rekor: only single-signature DSSE envelopes are logged")
	}
	env := &dsse.Envelope{
		PayloadType: pe.PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(pe.Payload),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(pe.Signatures[0].Sig)}},
	}
	now := r.s.now().Unix()
	e, err := r.s.vs.GenerateTlogEntry(certs[0], env, pe.Signatures[0].Sig, now, true)
	if err != nil {
		return fmt.Errorf("sigtest: rekor entry: %w", err)
	}
	tle := e.TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	set, err := r.s.signEntryTimestamp(tle.CanonicalizedBody, now, tle.LogIndex)
	if err != nil {
		return err
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, tle)
	return nil
}

var _ sign.Transparency = rekor{}

// signEntryTimestamp is the log's SET over (body, integrated time, index, log ID).
func (s *Sigstore) signEntryTimestamp(body []byte, integrated, index int64) ([]byte, error) {
	logID, err := s.vs.RekorLogID()
	if err != nil {
		return nil, err
	}
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(body),
		IntegratedTime: integrated,
		LogIndex:       index,
		LogID:          logID,
	})
	if err != nil {
		return nil, fmt.Errorf("sigtest: signed entry timestamp: %w", err)
	}
	return set, nil
}
