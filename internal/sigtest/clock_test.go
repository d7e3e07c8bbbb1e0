package sigtest_test

import (
	"context"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/clearcutt/clearcutt/internal/sigtest"
)

// TestClockAndCertificateLifetime: the instance's clock dates the leaf
// certificate, the log entry and the timestamp, and the certificate
// expires CertificateLifetime after its issuance.
func TestClockAndCertificateLifetime(t *testing.T) {
	at := time.Now().Add(90 * time.Second).Truncate(time.Second)
	ss, err := sigtest.NewWithOptions(sigtest.Options{Now: func() time.Time { return at }, CertificateLifetime: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sigtest.Statement("x", v1.Hash{Algorithm: "sha256", Hex: "00"}, "https://example.com/p", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	js, err := ss.SignStatement(context.Background(), sigtest.GitHubIdentity{Repository: "acme/fleet", Workflow: "w.yml", Ref: "refs/heads/main"}, st)
	if err != nil {
		t.Fatal(err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(js); err != nil {
		t.Fatal(err)
	}
	vc, err := b.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	if c := vc.Certificate(); !c.NotBefore.Equal(at.Add(-time.Minute)) || !c.NotAfter.Equal(at.Add(30*time.Second)) {
		t.Errorf("certificate valid %s – %s, want %s – %s", c.NotBefore, c.NotAfter, at.Add(-time.Minute), at.Add(30*time.Second))
	}
	entries, err := b.TlogEntries()
	if err != nil || len(entries) != 1 || !entries[0].IntegratedTime().Equal(at) {
		t.Errorf("log entries %v (%v), want one integrated at %s", entries, err, at)
	}
	ts, err := b.Timestamps()
	if err != nil || len(ts) != 1 {
		t.Fatalf("timestamps %d (%v)", len(ts), err)
	}
}
