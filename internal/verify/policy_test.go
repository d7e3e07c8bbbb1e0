package verify_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/verify"
)

func fakeHash() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
}

func TestPolicyFromFleet(t *testing.T) {
	p, err := verify.PolicyFromFleet(fleet.Identity{
		Issuer: "https://token.actions.githubusercontent.com", Repository: "acme/base-images",
		Workflow: ".github/workflows/publish.yml", WorkflowRepository: "clearcutt/clearcutt", Ref: "refs/tags/v1.2.0",
	}, verify.FleetPolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := verify.Identity{
		Issuer:              "https://token.actions.githubusercontent.com",
		SAN:                 "https://github.com/clearcutt/clearcutt/.github/workflows/publish.yml@refs/tags/v1.2.0",
		SourceRepositoryURI: "https://github.com/acme/base-images",
		SourceRepositoryRef: "refs/tags/v1.2.0",
	}
	if p.Signer != want {
		t.Errorf("signer = %+v\nwant     %+v", p.Signer, want)
	}
	if p.Provenance.SAN != verify.DefaultProvenanceSignerURI || p.Provenance.SourceRepositoryURI != want.SourceRepositoryURI {
		t.Errorf("provenance = %+v", p.Provenance)
	}
	// The sigtest identity with the same values issues exactly that SAN.
	g := sigtest.GitHubIdentity{Repository: "acme/base-images", WorkflowRepository: "clearcutt/clearcutt",
		Workflow: ".github/workflows/publish.yml", Ref: "refs/tags/v1.2.0"}
	if g.BuildSignerURI() != want.SAN {
		t.Errorf("sigtest SAN %s", g.BuildSignerURI())
	}
	if _, err := verify.PolicyFromFleet(fleet.Identity{Repository: "acme/x"}, verify.FleetPolicyOptions{}); !errors.Is(err, verify.ErrInvalidOptions) {
		t.Errorf("incomplete identity: %v", err)
	}
	if err := (verify.Policy{PublicKey: []byte("k"), RequiredChannels: []verify.Channel{"bogus"}}).Validate(); !errors.Is(err, verify.ErrInvalidOptions) {
		t.Errorf("unknown channel: %v", err)
	}
}

func TestTrustedRoots(t *testing.T) {
	tr, err := verify.PublicGoodTrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 || len(tr.RekorLogs()) == 0 || len(tr.CTLogs()) == 0 {
		t.Fatalf("embedded root lacks CAs/logs: %d %d %d", len(tr.FulcioCertificateAuthorities()), len(tr.RekorLogs()), len(tr.CTLogs()))
	}
	ss, err := sigtest.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(path, ss.TrustedRootJSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := verify.LoadTrustedRoot(path); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"mediaType": "nope"}`), 0o644)
	if _, err := verify.LoadTrustedRoot(bad); !errors.Is(err, verify.ErrInvalidOptions) {
		t.Errorf("bad root: %v", err)
	}
	if _, err := verify.LoadTrustedRoot(filepath.Join(dir, "absent.json")); !errors.Is(err, verify.ErrInvalidOptions) {
		t.Errorf("absent root: %v", err)
	}
}

// A fork calling the kit's reusable workflow at a release tag: the Build
// Signer URI carries the workflow's ref, the Source Repository Ref the
// fork's own.
func TestPolicyFromFleetWorkflowRef(t *testing.T) {
	p, err := verify.PolicyFromFleet(fleet.Identity{
		Issuer: "https://token.actions.githubusercontent.com", Repository: "acme/base-images",
		Workflow: ".github/workflows/publish.yml", WorkflowRepository: "clearcutt/clearcutt",
		Ref: "refs/heads/main", WorkflowRef: "refs/tags/v1.2.0",
	}, verify.FleetPolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Signer.SAN != "https://github.com/clearcutt/clearcutt/.github/workflows/publish.yml@refs/tags/v1.2.0" || p.Signer.SourceRepositoryRef != "refs/heads/main" {
		t.Fatalf("signer = %+v", p.Signer)
	}
}
