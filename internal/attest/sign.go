package attest

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/clearcutt/clearcutt/internal/intoto"
)

// Signing modes.
const (
	ModeKey     = "key"
	ModeKeyless = "keyless"
)

// Media and payload types.
const (
	// BundleMediaType is the media type of a Sigstore bundle v0.3, used as
	// the artifactType of the referrer manifest and the media type of its
	// one layer.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// InTotoPayloadType is the DSSE payload type of in-toto statements.
	InTotoPayloadType = "application/vnd.in-toto+json"
)

// Signer provides the key pair and the sigstore-go bundle options of one
// signature. KeySigner and Keyless implement it.
type Signer interface {
	// BundleOptions returns the key pair to sign one bundle with and the
	// options of that bundle. A certificate provider in the options
	// certifies that key pair: the two are only used together.
	BundleOptions(ctx context.Context) (sign.Keypair, sign.BundleOptions, error)
	// Mode is ModeKey or ModeKeyless.
	Mode() string
}

// SignStatement signs an in-toto statement as a DSSE envelope (payload type
// application/vnd.in-toto+json) and returns the Sigstore bundle v0.3 as
// JSON. The statement must be an in-toto Statement v1 with one subject.
func SignStatement(ctx context.Context, s Signer, statement []byte) ([]byte, error) {
	if _, err := ParseStatement(statement); err != nil {
		return nil, err
	}
	kp, opts, err := s.BundleOptions(ctx)
	if err != nil {
		return nil, err
	}
	opts.Context = ctx
	b, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: InTotoPayloadType}, kp, opts)
	if err != nil {
		return nil, fmt.Errorf("sign (%s): %w", s.Mode(), err)
	}
	return protojson.Marshal(b)
}

// SignatureStatement is the statement cosign v3 signs for "cosign sign": one
// subject (the digest, with the name when given, and empty annotations),
// predicate type https://sigstore.dev/cosign/sign/v1 and an empty predicate.
func SignatureStatement(name string, d v1.Hash) ([]byte, error) {
	return intoto.NewStatement(PredicateSignature, []intoto.Subject{{
		Name:        name,
		Digest:      map[string]string{d.Algorithm: d.Hex},
		Annotations: map[string]any{},
	}}, map[string]any{})
}

// TransparencyOf returns the log indexes of a bundle's transparency-log
// entries; none for key-signed bundles.
func TransparencyOf(bundleJSON []byte) ([]int64, error) {
	var b protobundle.Bundle
	if err := protojson.Unmarshal(bundleJSON, &b); err != nil {
		return nil, fmt.Errorf("%w: bundle: %v", ErrBadArtifact, err)
	}
	var out []int64
	for _, e := range b.GetVerificationMaterial().GetTlogEntries() {
		out = append(out, e.GetLogIndex())
	}
	return out, nil
}
