package attest

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
)

// Public-good Sigstore endpoints.
const (
	DefaultFulcioURL = "https://fulcio.sigstore.dev"
	DefaultRekorURL  = "https://rekor.sigstore.dev"
)

// IDTokenFunc returns an OIDC identity token for Fulcio (audience
// "sigstore").
type IDTokenFunc func(ctx context.Context) (string, error)

// KeylessOptions configure keyless signing.
type KeylessOptions struct {
	// FulcioURL and RekorURL are the base URLs of the certificate authority
	// and the transparency log (Rekor v1 API).
	FulcioURL, RekorURL string
	// TSAURL, when set, is an RFC 3161 timestamp authority endpoint
	// (e.g. https://timestamp.sigstore.dev/api/v1/timestamp).
	TSAURL string
	// IDToken supplies the OIDC token; it is called whenever a certificate
	// is requested, so that every request carries a fresh token.
	IDToken IDTokenFunc
	// Expect, when set, is the identity every token must name: each token
	// fetched is checked (CheckToken) before a certificate is requested
	// with it. FleetTokenExpectation makes it from clearcutt.yaml.
	Expect *TokenExpectation
	// PrivateRepository accepts tokens of a repository that is not public
	// (repository_visibility private or internal), whose names, ref,
	// commit and run the certificate then enters in the public Rekor log.
	PrivateRepository bool
	// Transport is used for Fulcio and the TSA (http.DefaultTransport when nil).
	Transport http.RoundTripper
	// TrustedRoot, when set, verifies every bundle right after signing.
	TrustedRoot root.TrustedMaterial
	// Transparency replaces the Rekor client (RekorURL is then unused);
	// for an in-process log.
	Transparency sign.Transparency
	// CertificateAuthority replaces the Fulcio client (FulcioURL is then
	// unused); for an in-process certificate authority. It is asked for
	// the leaf certificate (DER) of each key pair.
	CertificateAuthority sign.CertificateProvider
	// Timeout bounds each request (30 s when zero).
	Timeout time.Duration
}

// Renewal and acceptance of Fulcio certificates.
const (
	// maxRenewMargin bounds the renewal margin: what is left of a
	// certificate's validity when Keyless stops using it.
	maxRenewMargin = 2 * time.Minute
	// renewFraction: the renewal margin is at most this fraction of a
	// certificate's lifetime.
	renewFraction = 5
	// clockSkew is how far before its NotBefore a certificate is accepted:
	// the local clock may lag the certificate authority's.
	clockSkew = 30 * time.Second
)

// Keyless signs with an ephemeral key pair certified by Fulcio for the
// identity in the OIDC token; every signature is entered in Rekor.
//
// A key pair and its certificate serve every signature until the
// certificate comes within its renewal margin of its NotAfter: the
// smaller of 2 minutes and a fifth of its lifetime (NotAfter − NotBefore).
// The next signature then makes a new ephemeral key pair and requests a
// certificate for it with a freshly fetched identity token. Fulcio's
// certificates live 10 minutes, so each key pair signs for about 8. The
// margin covers what happens between that check and the moment the log
// and the timestamp authority record the signature, which verifiers
// compare with the certificate's validity: a timestamp and a log request,
// each bounded by the request timeout (30 s by default), and a local clock
// up to 30 s behind the certificate authority's. The fraction keeps short
// certificates (private or test authorities) in use for most of their
// lifetime rather than renewing them for every signature.
//
// Every identity token fetched, the first and each one a renewal fetches,
// is checked before a certificate is requested with it (CheckToken with
// KeylessOptions.Expect and PrivateRepository): a token of another ref,
// repository or workflow than the expected one, or of a repository that
// is not public, is refused (ErrTokenIdentity, ErrPrivateRepository) and
// nothing is asked of the certificate authority.
//
// A certificate the authority returns is refused (ErrCertificateValidity)
// when it is not valid yet by more than 30 s of clock skew, or when it is
// already within its renewal margin of expiring, which includes having
// expired; either means that the local clock and the authority's
// disagree.
type Keyless struct {
	o    KeylessOptions
	ca   sign.CertificateProvider
	tlog sign.Transparency
	tsa  *sign.TimestampAuthority
	// now is the clock renewal is decided on (time.Now when nil).
	now func() time.Time

	mu  sync.Mutex
	cur *certifiedKey
}

// certifiedKey is an ephemeral key pair and the certificate Fulcio issued
// for it.
type certifiedKey struct {
	kp   *sign.EphemeralKeypair
	cert *x509.Certificate
}

// NewKeyless checks the options. The first key pair and certificate are
// made for the first signature.
func NewKeyless(o KeylessOptions) (*Keyless, error) {
	if (o.FulcioURL == "" && o.CertificateAuthority == nil) || (o.RekorURL == "" && o.Transparency == nil) {
		return nil, fmt.Errorf("keyless signing needs a Fulcio and a Rekor URL")
	}
	if o.IDToken == nil {
		return nil, fmt.Errorf("%w: keyless signing needs an identity token source", ErrIDToken)
	}
	k := &Keyless{o: o, ca: o.CertificateAuthority, tlog: o.Transparency}
	if k.ca == nil {
		k.ca = sign.NewFulcio(&sign.FulcioOptions{BaseURL: o.FulcioURL, Transport: o.Transport, Timeout: o.Timeout})
	}
	if k.tlog == nil {
		k.tlog = sign.NewRekor(&sign.RekorOptions{BaseURL: o.RekorURL, Timeout: o.Timeout})
	}
	if o.TSAURL != "" {
		k.tsa = sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: o.TSAURL, Transport: o.Transport, Timeout: o.Timeout})
	}
	return k, nil
}

// Mode implements Signer.
func (k *Keyless) Mode() string { return ModeKeyless }

// BundleOptions implements Signer: the current key pair, and options whose
// certificate provider returns that key pair's certificate. When there is
// none yet, or the certificate is within its renewal margin of expiring, a
// new key pair is made and certified first.
func (k *Keyless) BundleOptions(ctx context.Context) (sign.Keypair, sign.BundleOptions, error) {
	ck, err := k.current(ctx)
	if err != nil {
		return nil, sign.BundleOptions{}, err
	}
	o := sign.BundleOptions{
		CertificateProvider: fixedCert{ck},
		TransparencyLogs:    []sign.Transparency{k.tlog},
		TrustedRoot:         k.o.TrustedRoot,
	}
	if k.tsa != nil {
		o.TimestampAuthorities = []*sign.TimestampAuthority{k.tsa}
	}
	return ck.kp, o, nil
}

func (k *Keyless) clock() time.Time {
	if k.now != nil {
		return k.now()
	}
	return time.Now()
}

// current returns the certified key pair to sign with, renewing it when it
// is missing or its certificate is within the renewal margin of expiring.
func (k *Keyless) current(ctx context.Context) (*certifiedKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur != nil && !dueForRenewal(k.cur.cert, k.clock()) {
		return k.cur, nil
	}
	ck, err := k.certify(ctx)
	if err != nil {
		return nil, err
	}
	k.cur = ck
	return ck, nil
}

// CheckIdentity fetches an identity token and checks it as every
// certificate request does, without requesting a certificate: a job that
// may not sign stops before it does any work. The token is not kept.
func (k *Keyless) CheckIdentity(ctx context.Context) error {
	_, err := k.token(ctx)
	return err
}

// token fetches an identity token and checks it (CheckToken).
func (k *Keyless) token(ctx context.Context) (string, error) {
	tok, err := k.o.IDToken(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrIDToken, err)
	}
	if tok == "" {
		return "", fmt.Errorf("%w: the token source returned an empty token", ErrIDToken)
	}
	if err := CheckToken(tok, k.o.Expect, k.o.PrivateRepository); err != nil {
		return "", err
	}
	return tok, nil
}

// certify makes an ephemeral key pair and asks the certificate authority
// to certify it, with a fresh identity token that passed CheckToken.
func (k *Keyless) certify(ctx context.Context) (*certifiedKey, error) {
	tok, err := k.token(ctx)
	if err != nil {
		return nil, err
	}
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, err
	}
	der, err := k.ca.GetCertificate(ctx, kp, &sign.CertificateProviderOptions{IDToken: tok})
	if err != nil {
		return nil, fmt.Errorf("fulcio: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("fulcio: certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(kp.GetPublicKey()) {
		return nil, fmt.Errorf("fulcio: the certificate is not for the key pair it was requested for")
	}
	now := k.clock()
	switch {
	case now.Add(clockSkew).Before(cert.NotBefore):
		return nil, fmt.Errorf("%w: it is valid from %s, %s from now (is the clock right?)",
			ErrCertificateValidity, cert.NotBefore.UTC().Format(time.RFC3339), cert.NotBefore.Sub(now).Round(time.Second))
	case dueForRenewal(cert, now):
		return nil, fmt.Errorf("%w: it is valid until %s, less than %s from now (is the clock right?)",
			ErrCertificateValidity, cert.NotAfter.UTC().Format(time.RFC3339), renewMargin(cert))
	}
	return &certifiedKey{kp: kp, cert: cert}, nil
}

// renewMargin is the smaller of maxRenewMargin and 1/renewFraction of the
// certificate's lifetime.
func renewMargin(c *x509.Certificate) time.Duration {
	return min(maxRenewMargin, c.NotAfter.Sub(c.NotBefore)/renewFraction)
}

// dueForRenewal reports whether less than the renewal margin of c's
// validity is left at now.
func dueForRenewal(c *x509.Certificate, now time.Time) bool {
	return c.NotAfter.Sub(now) < renewMargin(c)
}

// fixedCert is the certificate provider of one certified key pair: it
// returns the certificate for that key pair and refuses any other.
type fixedCert struct{ ck *certifiedKey }

func (f fixedCert) GetCertificate(_ context.Context, kp sign.Keypair, _ *sign.CertificateProviderOptions) ([]byte, error) {
	if kp != sign.Keypair(f.ck.kp) {
		return nil, fmt.Errorf("keyless: the certificate is for another key pair")
	}
	return f.ck.cert.Raw, nil
}
