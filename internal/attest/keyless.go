package attest

import (
	"context"
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
	// IDToken supplies the OIDC token; it is called once, when the first
	// certificate is requested.
	IDToken IDTokenFunc
	// Transport is used for Fulcio and the TSA (http.DefaultTransport when nil).
	Transport http.RoundTripper
	// TrustedRoot, when set, verifies every bundle right after signing.
	TrustedRoot root.TrustedMaterial
	// Transparency replaces the Rekor client (RekorURL is then unused);
	// for an in-process log.
	Transparency sign.Transparency
	// Timeout bounds each request (30 s when zero).
	Timeout time.Duration
}

// Keyless signs with an ephemeral key pair certified by Fulcio for the
// identity in the OIDC token; every signature is entered in Rekor. The key
// pair and its certificate are made once and serve the whole run.
type Keyless struct {
	o    KeylessOptions
	kp   *sign.EphemeralKeypair
	cert *cachedCert
	tlog sign.Transparency
	tsa  *sign.TimestampAuthority
}

// NewKeyless checks the options and creates the run's ephemeral key pair.
func NewKeyless(o KeylessOptions) (*Keyless, error) {
	if o.FulcioURL == "" || (o.RekorURL == "" && o.Transparency == nil) {
		return nil, fmt.Errorf("keyless signing needs a Fulcio and a Rekor URL")
	}
	if o.IDToken == nil {
		return nil, fmt.Errorf("%w: keyless signing needs an identity token source", ErrIDToken)
	}
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, err
	}
	k := &Keyless{o: o, kp: kp}
	k.cert = &cachedCert{inner: sign.NewFulcio(&sign.FulcioOptions{BaseURL: o.FulcioURL, Transport: o.Transport, Timeout: o.Timeout})}
	k.tlog = o.Transparency
	if k.tlog == nil {
		k.tlog = sign.NewRekor(&sign.RekorOptions{BaseURL: o.RekorURL, Timeout: o.Timeout})
	}
	if o.TSAURL != "" {
		k.tsa = sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: o.TSAURL, Transport: o.Transport, Timeout: o.Timeout})
	}
	return k, nil
}

// Keypair implements Signer.
func (k *Keyless) Keypair() sign.Keypair { return k.kp }

// Mode implements Signer.
func (k *Keyless) Mode() string { return ModeKeyless }

// BundleOptions implements Signer. The identity token is fetched on the
// first call only.
func (k *Keyless) BundleOptions(ctx context.Context) (sign.BundleOptions, error) {
	tok, err := k.cert.token(ctx, k.o.IDToken)
	if err != nil {
		return sign.BundleOptions{}, err
	}
	o := sign.BundleOptions{
		CertificateProvider:        k.cert,
		CertificateProviderOptions: &sign.CertificateProviderOptions{IDToken: tok},
		TransparencyLogs:           []sign.Transparency{k.tlog},
		TrustedRoot:                k.o.TrustedRoot,
	}
	if k.tsa != nil {
		o.TimestampAuthorities = []*sign.TimestampAuthority{k.tsa}
	}
	return o, nil
}

// cachedCert asks its provider for a certificate once and returns it for
// every later signature with the same key pair.
type cachedCert struct {
	inner sign.CertificateProvider
	mu    sync.Mutex
	tok   string
	der   []byte
}

func (c *cachedCert) token(ctx context.Context, f IDTokenFunc) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != "" || c.der != nil {
		return c.tok, nil
	}
	tok, err := f(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrIDToken, err)
	}
	if tok == "" {
		return "", fmt.Errorf("%w: the token source returned an empty token", ErrIDToken)
	}
	c.tok = tok
	return tok, nil
}

func (c *cachedCert) GetCertificate(ctx context.Context, kp sign.Keypair, o *sign.CertificateProviderOptions) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.der != nil {
		return c.der, nil
	}
	der, err := c.inner.GetCertificate(ctx, kp, o)
	if err != nil {
		return nil, fmt.Errorf("fulcio: %w", err)
	}
	c.der = der
	return der, nil
}
