package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/clearcutt/clearcutt/internal/fsutil"
)

// PublicKeySuffix is appended to the private key path to name the public key.
const PublicKeySuffix = ".pub"

// KeySigner signs with a long-lived ECDSA P-256 key pair. Its bundles carry
// the public key hint and no transparency-log entry or timestamp: a key
// signature proves who signed, not when.
type KeySigner struct {
	key  *ecdsa.PrivateKey
	kp   *keyPair
	trm  root.TrustedMaterial
	path string
	// Created is true when LoadOrCreateKey generated the key pair.
	Created bool
}

// LoadOrCreateKey loads the PEM PKCS#8 ECDSA P-256 private key at path. A
// key file readable or writable by group or other is refused. When the file
// does not exist and create is true, a new key pair is generated: the
// private key is written with mode 0600 (its directory created with 0700)
// and the public key beside it as path+".pub".
func LoadOrCreateKey(path string, create bool) (*KeySigner, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		return createKey(path)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s", ErrNoKey, path)
	case err != nil:
		return nil, err
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o (chmod 600 %s)", ErrKeyPermissions, path, m, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: %s: no PEM \"PRIVATE KEY\" block", ErrBadKey, path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadKey, path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: %s: not an ECDSA P-256 key", ErrBadKey, path)
	}
	return newKeySigner(ek, path)
}

func createKey(path string) (*KeySigner, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(k.Public())
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// The public key first: a private key without its public half is never
	// left behind, and the private key appears atomically with mode 0600.
	if err := fsutil.WriteFileAtomic(path+PublicKeySuffix, pubPEM, 0o644); err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	s, err := newKeySigner(k, path)
	if err != nil {
		return nil, err
	}
	s.Created = true
	return s, nil
}

func newKeySigner(k *ecdsa.PrivateKey, path string) (*KeySigner, error) {
	kp, err := newKeyPair(k)
	if err != nil {
		return nil, err
	}
	trm, err := TrustedKeyMaterial(k.Public())
	if err != nil {
		return nil, err
	}
	return &KeySigner{key: k, kp: kp, trm: trm, path: path}, nil
}

// Path is the private key file.
func (s *KeySigner) Path() string { return s.path }

// PublicKeyPath is the public key file written beside the private key.
func (s *KeySigner) PublicKeyPath() string { return s.path + PublicKeySuffix }

// PublicKey returns the public key.
func (s *KeySigner) PublicKey() crypto.PublicKey { return s.key.Public() }

// Hint is the key hint recorded in bundles: base64(SHA-256(PKIX DER)).
func (s *KeySigner) Hint() string { return string(s.kp.hint) }

// Keypair is the signing key as a sigstore-go key pair.
func (s *KeySigner) Keypair() sign.Keypair { return s.kp }

// BundleOptions implements Signer: the key pair, and no certificate, log
// or timestamp; the bundle is verified against the public key before it is
// returned.
func (s *KeySigner) BundleOptions(context.Context) (sign.Keypair, sign.BundleOptions, error) {
	return s.kp, sign.BundleOptions{TrustedRoot: s.trm}, nil
}

// Mode implements Signer.
func (s *KeySigner) Mode() string { return ModeKey }

// KeyHint returns the hint sigstore-go records for pub: the standard
// base64 encoding of the SHA-256 of its PKIX DER encoding.
func KeyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// TrustedKeyMaterial is the sigstore-go trusted material that accepts
// bundles signed by pub (with no validity bounds), for verify.NewVerifier
// with verify.WithNoObserverTimestamps and verify.WithKey.
func TrustedKeyMaterial(pub crypto.PublicKey) (root.TrustedMaterial, error) {
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	hint, err := KeyHint(pub)
	if err != nil {
		return nil, err
	}
	return root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
		hint: root.NewExpiringKey(v, time.Time{}, time.Time{}),
	}), nil
}

// ParsePublicKeyPEM reads a PEM public key such as the .pub file written
// by LoadOrCreateKey.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	return cryptoutils.UnmarshalPEMToPublicKey(data)
}

// keyPair is a sign.Keypair over an existing ECDSA P-256 key.
type keyPair struct {
	key  *ecdsa.PrivateKey
	hint []byte
}

func newKeyPair(k *ecdsa.PrivateKey) (*keyPair, error) {
	hint, err := KeyHint(k.Public())
	if err != nil {
		return nil, err
	}
	return &keyPair{key: k, hint: []byte(hint)}, nil
}

func (p *keyPair) GetHashAlgorithm() protocommon.HashAlgorithm {
	return protocommon.HashAlgorithm_SHA2_256
}

func (p *keyPair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
}

func (p *keyPair) GetHint() []byte                { return p.hint }
func (p *keyPair) GetKeyAlgorithm() string        { return "ECDSA" }
func (p *keyPair) GetPublicKey() crypto.PublicKey { return p.key.Public() }

func (p *keyPair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(p.key.Public())
	return string(b), err
}

// SignData signs the SHA-256 digest of data and returns the signature and
// the digest.
func (p *keyPair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	sum := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, p.key, sum[:])
	if err != nil {
		return nil, nil, err
	}
	return sig, sum[:], nil
}
