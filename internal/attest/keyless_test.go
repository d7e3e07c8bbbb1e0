package attest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-openapi/runtime"
	"github.com/go-openapi/swag/conv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/rekor/pkg/generated/models"
	rekortypes "github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

const (
	ghIssuer   = "https://token.actions.githubusercontent.com"
	ghWorkflow = "https://github.com/acme/fleet/.github/workflows/publish.yml@refs/heads/main"
	ghRepo     = "https://github.com/acme/fleet"
)

// fakeSigstore is an HTTP Fulcio (v2 signingCert) and Rekor (v1 log
// entries) backed by sigstore-go's test CA and virtual log.
type fakeSigstore struct {
	t           *testing.T
	vs          *ca.VirtualSigstore
	root        *x509.Certificate
	inter       *x509.Certificate
	interKey    any
	token       string
	mu          sync.Mutex
	certs       int
	nextIndex   int64
	fulcio      *httptest.Server
	rekor       *httptest.Server
	trustedJSON []byte
}

func newFakeSigstore(t *testing.T) *fakeSigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	must(t, err)
	rootCert, rootKey, err := ca.GenerateRootCa()
	must(t, err)
	inter, interKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	must(t, err)
	claims, _ := json.Marshal(map[string]string{"iss": ghIssuer, "sub": "repo:acme/fleet:ref:refs/heads/main"})
	f := &fakeSigstore{t: t, vs: vs, root: rootCert, inter: inter, interKey: interKey, nextIndex: 1000,
		token: "e30." + base64.RawURLEncoding.EncodeToString(claims) + ".c2ln"}
	f.fulcio = httptest.NewServer(http.HandlerFunc(f.serveFulcio))
	f.rekor = httptest.NewServer(http.HandlerFunc(f.serveRekor))
	t.Cleanup(f.fulcio.Close)
	t.Cleanup(f.rekor.Close)
	return f
}

func utf8Ext(oid asn1.ObjectIdentifier, v string) pkix.Extension {
	b, _ := asn1.MarshalWithParams(v, "utf8")
	return pkix.Extension{Id: oid, Value: b}
}

func (f *fakeSigstore) serveFulcio(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v2/signingCert" || r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var req struct {
		PublicKeyRequest struct {
			PublicKey struct{ Content string } `json:"publicKey"`
		} `json:"publicKeyRequest"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(req.PublicKeyRequest.PublicKey.Content))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	san, _ := url.Parse(ghWorkflow)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    time.Now().Add(-time.Minute), NotAfter: time.Now().Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs: []*url.URL{san},
		ExtraExtensions: []pkix.Extension{
			{Id: certificate.OIDIssuer, Value: []byte(ghIssuer)},
			utf8Ext(certificate.OIDIssuerV2, ghIssuer),
			utf8Ext(certificate.OIDBuildSignerURI, ghWorkflow),
			utf8Ext(certificate.OIDSourceRepositoryURI, ghRepo),
			utf8Ext(certificate.OIDSourceRepositoryRef, "refs/heads/main"),
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.inter, pub, f.interKey)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	f.mu.Lock()
	f.certs++
	f.mu.Unlock()
	chain := []string{}
	for _, c := range [][]byte{der, f.inter.Raw, f.root.Raw} {
		chain = append(chain, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})))
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"signedCertificateEmbeddedSct": map[string]any{"chain": map[string]any{"certificates": chain}}})
}

func (f *fakeSigstore) serveRekor(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/log/entries" {
		http.NotFound(w, r)
		return
	}
	pe, err := models.UnmarshalProposedEntry(r.Body, runtime.JSONConsumer())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	impl, err := rekortypes.UnmarshalEntry(pe)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, err := impl.Canonicalize(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	logID, _ := f.vs.RekorLogID()
	f.mu.Lock()
	index := f.nextIndex
	f.nextIndex++
	f.mu.Unlock()
	now := time.Now().Unix()
	b64 := base64.StdEncoding.EncodeToString(body)
	set, err := f.vs.RekorSignPayload(tlog.RekorPayload{Body: b64, IntegratedTime: now, LogIndex: index, LogID: logID})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	proof, err := f.vs.GetInclusionProof(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	leaf := sha256.Sum256(append([]byte{0}, body...))
	uuid := hex.EncodeToString(leaf[:])
	entry := models.LogEntryAnon{Body: b64, IntegratedTime: conv.Pointer(now), LogID: conv.Pointer(logID), LogIndex: conv.Pointer(index),
		Verification: &models.LogEntryAnonVerification{SignedEntryTimestamp: set, InclusionProof: proof}}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", uuid)
	w.Header().Set("Location", "/api/v1/log/entries/"+uuid)
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(models.LogEntry{uuid: entry})
}

// trusted is the trusted root of the fake, round-tripped through JSON as a
// verifier would read trusted_root.json.
func (f *fakeSigstore) trusted(t *testing.T) root.TrustedMaterial {
	t.Helper()
	logs := map[string]*root.TransparencyLog{}
	for k, tl := range f.vs.RekorLogs() {
		c := *tl
		c.ID, _ = hex.DecodeString(k)
		logs[k] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: f.root, Intermediates: []*x509.Certificate{f.inter},
			ValidityPeriodStart: time.Now().Add(-time.Hour), ValidityPeriodEnd: time.Now().Add(time.Hour)}},
		nil, nil, logs)
	must(t, err)
	js, err := json.Marshal(tr)
	must(t, err)
	back, err := root.NewTrustedRootFromJSON(js)
	must(t, err)
	return back
}

func TestKeylessSignsWithFulcioAndRekor(t *testing.T) {
	f := newFakeSigstore(t)
	trusted := f.trusted(t)
	calls := 0
	k, err := NewKeyless(KeylessOptions{FulcioURL: f.fulcio.URL, RekorURL: f.rekor.URL, TrustedRoot: trusted,
		IDToken: func(context.Context) (string, error) { calls++; return f.token, nil }})
	must(t, err)
	idx := testIndex(t)
	store, _ := layoutKind.open(t, idx)
	ev := t.TempDir()
	writeAllEvidence(t, ev, idx)
	res, err := Run(context.Background(), runOpts(t, idx, store, k, ev))
	must(t, err)
	// index (signature, derived SBOM, tests and vulns) + 2 × (signature,
	// SBOM, tests, vulns, VEX)
	if res.Mode != ModeKeyless || len(res.Attached) != 14 {
		t.Fatalf("mode %s, %d attached", res.Mode, len(res.Attached))
	}
	if calls != 1 || f.certs != 1 {
		t.Errorf("%d token requests and %d certificates for one run, want 1 and 1", calls, f.certs)
	}
	seen := map[int64]bool{}
	for _, a := range res.Attached {
		if len(a.LogIndexes) != 1 || seen[a.LogIndexes[0]] {
			t.Fatalf("log indexes %v", a.LogIndexes)
		}
		seen[a.LogIndexes[0]] = true
	}

	san, err := verify.NewSANMatcher(ghWorkflow, "")
	must(t, err)
	iss, err := verify.NewIssuerMatcher(ghIssuer, "")
	must(t, err)
	id, err := verify.NewCertificateIdentity(san, iss, certificate.Extensions{SourceRepositoryURI: ghRepo, SourceRepositoryRef: "refs/heads/main"})
	must(t, err)
	v, err := verify.NewVerifier(trusted, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	must(t, err)
	for _, p := range platforms(t, idx) {
		got, err := store.List(context.Background(), p.Digest)
		must(t, err)
		if len(got) != 5 {
			t.Fatalf("%s: %d bundles", p.Digest, len(got))
		}
		raw, _ := hex.DecodeString(p.Digest.Hex)
		for _, s := range got {
			var b bundle.Bundle
			must(t, b.UnmarshalJSON(s.Bundle))
			r, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", raw), verify.WithCertificateIdentity(id)))
			if err != nil {
				t.Fatalf("%s %s: %v", p.Digest, s.PredicateType, err)
			}
			if r.Statement.GetPredicateType() != s.PredicateType || s.Created.IsZero() || time.Since(s.Created) > time.Minute {
				t.Errorf("predicate %s vs %s, created %v", r.Statement.GetPredicateType(), s.PredicateType, s.Created)
			}
		}
		// The wrong repository is refused.
		bad, _ := verify.NewCertificateIdentity(san, iss, certificate.Extensions{SourceRepositoryURI: "https://github.com/evil/fleet"})
		var b bundle.Bundle
		must(t, b.UnmarshalJSON(got[0].Bundle))
		if _, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", raw), verify.WithCertificateIdentity(bad))); err == nil {
			t.Error("bundle verified for another repository")
		}
	}
}

func TestKeylessWithoutTokenFails(t *testing.T) {
	f := newFakeSigstore(t)
	k, err := NewKeyless(KeylessOptions{FulcioURL: f.fulcio.URL, RekorURL: f.rekor.URL,
		IDToken: func(context.Context) (string, error) { return "", errors.New("no id-token permission") }})
	must(t, err)
	st, _ := SignatureStatement("", v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)})
	if _, err := SignStatement(context.Background(), k, st); !errors.Is(err, ErrIDToken) {
		t.Fatalf("got %v", err)
	}
	if _, err := NewKeyless(KeylessOptions{FulcioURL: f.fulcio.URL, RekorURL: f.rekor.URL}); !errors.Is(err, ErrIDToken) {
		t.Fatalf("no token source: %v", err)
	}
}

func TestGitHubActionsToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer req-token" || r.URL.Query().Get("audience") != "sigstore" || r.URL.Query().Get("api-version") != "2.0" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(`{"value":"the.jwt.token"}`))
	}))
	defer srv.Close()
	tok, err := GitHubActionsToken(srv.URL+"/token?api-version=2.0", "req-token", nil)(context.Background())
	if err != nil || tok != "the.jwt.token" {
		t.Fatalf("%q %v", tok, err)
	}
	if _, err := GitHubActionsToken(srv.URL+"/token", "wrong", nil)(context.Background()); err == nil {
		t.Fatal("a refused request gave a token")
	}
}
