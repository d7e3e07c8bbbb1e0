package sigtest

import (
	"context"
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
)

// KeySigner signs with a long-lived ECDSA P-256 key, as ClearCutt does off
// GitHub: the bundle carries a public key hint and no log or timestamp.
type KeySigner struct{ kp *sign.EphemeralKeypair }

// NewKeySigner generates a key.
func NewKeySigner() (*KeySigner, error) {
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, err
	}
	return &KeySigner{kp: kp}, nil
}

// PublicKeyPEM is the PKIX public key in PEM.
func (k *KeySigner) PublicKeyPEM() []byte {
	p, err := k.kp.GetPublicKeyPem()
	if err != nil {
		panic(fmt.Sprintf("sigtest: public key PEM: %v", err))
	}
	return []byte(p)
}

// SignStatement returns a bundle v0.3 (protojson) with a DSSE envelope over statement.
func (k *KeySigner) SignStatement(ctx context.Context, statement []byte) ([]byte, error) {
	pb, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: InTotoPayloadType}, k.kp, sign.BundleOptions{Context: ctx})
	if err != nil {
		return nil, fmt.Errorf("sigtest: key sign: %w", err)
	}
	return protojson.Marshal(pb)
}
