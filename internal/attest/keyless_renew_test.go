package attest

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/clearcutt/clearcutt/internal/sigtest"
)

// manualClock is a clock a test moves forward by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recordingCA passes certificate requests on and records the identity
// token each one carried.
type recordingCA struct {
	inner  sign.CertificateProvider
	mu     sync.Mutex
	tokens []string
}

func (r *recordingCA) GetCertificate(ctx context.Context, kp sign.Keypair, o *sign.CertificateProviderOptions) ([]byte, error) {
	r.mu.Lock()
	r.tokens = append(r.tokens, o.IDToken)
	r.mu.Unlock()
	return r.inner.GetCertificate(ctx, kp, o)
}

var renewIdentity = sigtest.GitHubIdentity{Repository: "acme/fleet", Workflow: ".github/workflows/publish.yml", Ref: "refs/heads/main"}

// sigtestKeyless is a Keyless signing with the in-process Sigstore ss (its
// CA, log and TSA) on the clock now, with identity tokens "token-1",
// "token-2", … and the certificate requests recorded by the returned CA.
func sigtestKeyless(t *testing.T, ss *sigtest.Sigstore, now func() time.Time) (*Keyless, *recordingCA, *int) {
	t.Helper()
	ca := &recordingCA{inner: ss.Fulcio(renewIdentity)}
	calls := 0
	k, err := NewKeyless(KeylessOptions{
		CertificateAuthority: ca, Transparency: ss.Rekor(),
		TSAURL: sigtest.TSAURL, Transport: ss.TSATransport(),
		TrustedRoot: ss.TrustedRoot(),
		IDToken: func(context.Context) (string, error) {
			calls++
			return fmt.Sprintf("token-%d", calls), nil
		},
	})
	must(t, err)
	k.now = now
	return k, ca, &calls
}

// TestKeylessRenewsCertificateBeforeExpiry signs across several
// certificate lifetimes on a clock moved by hand: a new key pair and
// certificate, requested with a fresh token, replace each certificate
// before it expires, and every bundle verifies with a certificate valid at
// the times the log and the timestamp authority recorded.
func TestKeylessRenewsCertificateBeforeExpiry(t *testing.T) {
	clock := &manualClock{t: time.Now().Truncate(time.Second)}
	// Certificates valid from a minute before issuance to a minute after:
	// a two-minute lifetime, renewed when less than a fifth of it is left.
	ss, err := sigtest.NewWithOptions(sigtest.Options{Now: clock.Now, CertificateLifetime: time.Minute})
	must(t, err)
	k, ca, tokenCalls := sigtestKeyless(t, ss, clock.Now)

	const signatures = 10
	type signed struct {
		bundle []byte
		digest v1.Hash
	}
	var out []signed
	for i := range signatures {
		d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(fmt.Sprintf("%02x", i), 32)}
		st, err := SignatureStatement("registry.example/fleet", d)
		must(t, err)
		b, err := SignStatement(context.Background(), k, st)
		if err != nil {
			t.Fatalf("signature %d at %s: %v", i, clock.Now().Format(time.TimeOnly), err)
		}
		out = append(out, signed{b, d})
		clock.Advance(15 * time.Second)
	}

	san, err := verify.NewSANMatcher(renewIdentity.BuildSignerURI(), "")
	must(t, err)
	iss, err := verify.NewIssuerMatcher(sigtest.GitHubIssuer, "")
	must(t, err)
	id, err := verify.NewCertificateIdentity(san, iss, certificate.Extensions{SourceRepositoryURI: renewIdentity.SourceRepositoryURI()})
	must(t, err)
	v, err := verify.NewVerifier(ss.TrustedRoot(), verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1), verify.WithSignedTimestamps(1))
	must(t, err)
	keys := map[string]string{} // certificate serial → public key
	for i, s := range out {
		var b bundle.Bundle
		must(t, b.UnmarshalJSON(s.bundle))
		raw, _ := hex.DecodeString(s.digest.Hex)
		res, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", raw), verify.WithCertificateIdentity(id)))
		if err != nil {
			t.Fatalf("bundle %d: %v", i, err)
		}
		vc, err := b.VerificationContent()
		must(t, err)
		cert := vc.Certificate()
		if len(res.VerifiedTimestamps) != 2 {
			t.Fatalf("bundle %d: verified timestamps %v, want the log's and the TSA's", i, res.VerifiedTimestamps)
		}
		for _, ts := range res.VerifiedTimestamps {
			if ts.Timestamp.Before(cert.NotBefore) || ts.Timestamp.After(cert.NotAfter) {
				t.Errorf("bundle %d: %s time %s outside the certificate's validity %s – %s", i, ts.Type,
					ts.Timestamp.Format(time.TimeOnly), cert.NotBefore.Format(time.TimeOnly), cert.NotAfter.Format(time.TimeOnly))
			}
		}
		pub, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
		must(t, err)
		serial := cert.SerialNumber.String()
		if prev, ok := keys[serial]; ok && prev != string(pub) {
			t.Errorf("bundle %d: certificate %s with another key", i, serial)
		}
		keys[serial] = string(pub)
	}

	certs := len(ca.tokens)
	if certs < 2 || certs >= signatures {
		t.Fatalf("%d certificates for %d signatures over %s, want more than one, each serving several signatures",
			certs, signatures, time.Duration(signatures-1)*15*time.Second)
	}
	if len(keys) != certs {
		t.Errorf("%d certificates in the bundles, %d requested", len(keys), certs)
	}
	distinct := map[string]bool{}
	for _, pub := range keys {
		distinct[pub] = true
	}
	if len(distinct) != certs {
		t.Errorf("%d key pairs for %d certificates, want a new key pair per certificate", len(distinct), certs)
	}
	if *tokenCalls != certs {
		t.Errorf("%d identity tokens fetched for %d certificates, want one per certificate", *tokenCalls, certs)
	}
	for i, tok := range ca.tokens {
		if want := fmt.Sprintf("token-%d", i+1); tok != want {
			t.Errorf("certificate request %d carried %q, want the fresh %q", i+1, tok, want)
		}
	}
}

// TestKeylessRefusesCertificateOutsideItsValidity: a certificate that has
// expired, or is not valid yet beyond the tolerated clock skew, by the
// signer's clock is refused before anything is signed with it.
func TestKeylessRefusesCertificateOutsideItsValidity(t *testing.T) {
	// The CA issues certificates valid from a minute before to ten minutes
	// after the real time.
	ss, err := sigtest.New()
	must(t, err)
	st, err := SignatureStatement("", v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)})
	must(t, err)
	for _, c := range []struct {
		name   string
		offset time.Duration
		want   string
	}{
		{"expired", 11 * time.Minute, "valid until"},
		{"expiring within the margin", 9 * time.Minute, "valid until"},
		{"not yet valid", -5 * time.Minute, "valid from"},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, ca, _ := sigtestKeyless(t, ss, func() time.Time { return time.Now().Add(c.offset) })
			_, err := SignStatement(context.Background(), k, st)
			if !errors.Is(err, ErrCertificateValidity) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %v (%s)", err, ErrCertificateValidity, c.want)
			}
			if len(ca.tokens) != 1 {
				t.Errorf("%d certificate requests", len(ca.tokens))
			}
		})
	}
	// Within the skew the certificate is accepted.
	k, _, _ := sigtestKeyless(t, ss, func() time.Time { return time.Now().Add(-80 * time.Second) })
	if _, err := SignStatement(context.Background(), k, st); err != nil {
		t.Fatalf("a clock 20 s behind the certificate's NotBefore: %v", err)
	}
}
