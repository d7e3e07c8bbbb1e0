// Package sigtest is an in-process Sigstore for tests: a Fulcio-like CA that
// issues GitHub Actions workflow certificates (URI SAN and the Fulcio
// extensions naming the source repository, ref and signer), an RFC 3161
// timestamp authority and a Rekor v1 transparency log, all built on
// sigstore-go's pkg/testing/ca. What it signs verifies with sigstore-go
// against TrustedRoot, exactly as production evidence verifies against the
// public-good trusted root.
package sigtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// Sigstore is one in-process Sigstore instance. Its certificates are valid
// for a few minutes around its creation: create one per test.
type Sigstore struct {
	vs *ca.VirtualSigstore

	now          func() time.Time
	certLifetime time.Duration

	rootCert   *x509.Certificate
	fulcioCert *x509.Certificate
	fulcioKey  *ecdsa.PrivateKey
	tsaInter   *x509.Certificate
	tsaLeaf    *x509.Certificate
	tsaKey     *ecdsa.PrivateKey

	trusted     *root.TrustedRoot
	trustedJSON []byte
}

// Options configure an instance.
type Options struct {
	// Now is the clock of the certificate authority, the log and the
	// timestamp authority: it dates issued certificates, integrated times
	// and timestamps (time.Now when nil). It must stay within a few minutes
	// of the real time, which dates the intermediate certificates of
	// sigstore-go's test CA.
	Now func() time.Time
	// CertificateLifetime is how long after its issuance a leaf
	// certificate expires (10 minutes, as Fulcio's, when zero). Leaf
	// certificates are valid from a minute before their issuance.
	CertificateLifetime time.Duration
}

// New creates a CA (root + Fulcio intermediate), a TSA chain and a Rekor
// log key, on the real clock.
func New() (*Sigstore, error) { return NewWithOptions(Options{}) }

// NewWithOptions is New with a clock and a leaf certificate lifetime.
func NewWithOptions(o Options) (*Sigstore, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CertificateLifetime <= 0 {
		o.CertificateLifetime = 10 * time.Minute
	}
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, fmt.Errorf("sigtest: virtual sigstore: %w", err)
	}
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		return nil, fmt.Errorf("sigtest: root CA: %w", err)
	}
	fulcioCert, fulcioKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		return nil, fmt.Errorf("sigtest: fulcio intermediate: %w", err)
	}
	tsaInter, tsaInterKey, err := ca.GenerateTSAIntermediate(rootCert, rootKey)
	if err != nil {
		return nil, fmt.Errorf("sigtest: TSA intermediate: %w", err)
	}
	tsaKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tsaLeaf, err := ca.GenerateTSALeafCert(o.Now().Add(-5*time.Minute), tsaKey, tsaInter, tsaInterKey)
	if err != nil {
		return nil, fmt.Errorf("sigtest: TSA leaf: %w", err)
	}
	s := &Sigstore{vs: vs, now: o.Now, certLifetime: o.CertificateLifetime, rootCert: rootCert, fulcioCert: fulcioCert, fulcioKey: fulcioKey,
		tsaInter: tsaInter, tsaLeaf: tsaLeaf, tsaKey: tsaKey}
	if err := s.buildTrustedRoot(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sigstore) buildTrustedRoot() error {
	start, end := s.now().Add(-time.Hour), s.now().Add(time.Hour)
	// VirtualSigstore keys its logs by the hex log ID but stores that hex
	// text as the ID; a trusted_root.json needs the raw key ID.
	logs := map[string]*root.TransparencyLog{}
	for k, tl := range s.vs.RekorLogs() {
		c := *tl
		id, err := hex.DecodeString(k)
		if err != nil {
			return fmt.Errorf("sigtest: rekor log id: %w", err)
		}
		c.ID = id
		logs[k] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{
			Root: s.rootCert, Intermediates: []*x509.Certificate{s.fulcioCert},
			ValidityPeriodStart: start, ValidityPeriodEnd: end, URI: "https://fulcio.sigtest.invalid",
		}},
		nil,
		[]root.TimestampingAuthority{&root.SigstoreTimestampingAuthority{
			Root: s.rootCert, Intermediates: []*x509.Certificate{s.tsaInter}, Leaf: s.tsaLeaf,
			ValidityPeriodStart: start, ValidityPeriodEnd: end, URI: "https://tsa.sigtest.invalid",
		}},
		logs)
	if err != nil {
		return fmt.Errorf("sigtest: trusted root: %w", err)
	}
	js, err := tr.MarshalJSON()
	if err != nil {
		return fmt.Errorf("sigtest: trusted root JSON: %w", err)
	}
	// Round-trip through JSON so tests exercise the same parsing as a
	// trusted_root.json file given on the command line.
	s.trusted, err = root.NewTrustedRootFromJSON(js)
	if err != nil {
		return fmt.Errorf("sigtest: reparse trusted root: %w", err)
	}
	s.trustedJSON = js
	return nil
}

// TrustedRoot is the trusted material that verifies what this instance signs.
func (s *Sigstore) TrustedRoot() *root.TrustedRoot { return s.trusted }

// TrustedRootJSON is TrustedRoot as a trusted_root.json document.
func (s *Sigstore) TrustedRootJSON() []byte { return append([]byte(nil), s.trustedJSON...) }
