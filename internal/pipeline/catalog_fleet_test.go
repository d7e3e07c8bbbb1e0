package pipeline

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// TestCatalogFleetRecordsThePublicKey: in key mode the catalog carries the
// key itself, not only the path it was read from on the signing machine.
func TestCatalogFleetRecordsThePublicKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	f := &fleet.File{Fleet: fleet.Fleet{Metadata: fleet.Metadata{Name: "f"}, Identity: fleet.Identity{Repository: "acme/fleet"}}}
	got := CatalogFleet(f, stage.Verifier{Policy: verify.Policy{PublicKey: key}}, "/home/signer/.config/clearcutt/signing.key.pub", "oci:out/oci")
	if got.PublicKey != "/home/signer/.config/clearcutt/signing.key.pub" || got.PublicKeyPEM != string(key) || got.Identity != nil {
		t.Errorf("fleet %+v: want the key's path and its PEM", got)
	}
}
