package sigtest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/clearcutt/clearcutt/internal/sigtest"
)

// TestGitHubCertificate checks that the issued leaf reads back, through
// sigstore-go's parser, as the Fulcio GitHub-workflow identity.
func TestGitHubCertificate(t *testing.T) {
	ss, err := sigtest.New()
	if err != nil {
		t.Fatal(err)
	}
	id := sigtest.GitHubIdentity{Repository: "acme/base-images", WorkflowRepository: "clearcutt/clearcutt",
		Workflow: ".github/workflows/publish.yml", WorkflowRef: "refs/tags/v1.0.0", Ref: "refs/heads/main",
		SignerDigest: "cccccccccccccccccccccccccccccccccccccccc"}
	st, err := sigtest.Statement("x", v1.Hash{Algorithm: "sha256", Hex: "00"}, "https://example.com/p", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	js, err := ss.SignStatement(context.Background(), id, st)
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
	sum, err := certificate.SummarizeCertificate(vc.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"SAN":                 {sum.SubjectAlternativeName, "https://github.com/clearcutt/clearcutt/.github/workflows/publish.yml@refs/tags/v1.0.0"},
		"issuer":              {sum.Issuer, sigtest.GitHubIssuer},
		"BuildSignerURI":      {sum.BuildSignerURI, id.BuildSignerURI()},
		"BuildSignerDigest":   {sum.BuildSignerDigest, "cccccccccccccccccccccccccccccccccccccccc"},
		"SourceRepositoryURI": {sum.SourceRepositoryURI, "https://github.com/acme/base-images"},
		"SourceRepositoryRef": {sum.SourceRepositoryRef, "refs/heads/main"},
		"RunnerEnvironment":   {sum.RunnerEnvironment, "github-hosted"},
		"BuildTrigger":        {sum.BuildTrigger, "push"},
	}
	for k, v := range want {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", k, v[0], v[1])
		}
	}
	if len(b.VerificationMaterial.GetTlogEntries()) != 1 || len(b.VerificationMaterial.GetTimestampVerificationData().GetRfc3161Timestamps()) != 1 {
		t.Error("bundle lacks its tlog entry or RFC 3161 timestamp")
	}
}

// TestGitHubCertificatePinnedByCommit: a reusable workflow called by commit
// signs with that commit as the ref of its Build Signer URI, and as its
// Build Signer Digest.
func TestGitHubCertificatePinnedByCommit(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	ss, err := sigtest.New()
	if err != nil {
		t.Fatal(err)
	}
	id := sigtest.GitHubIdentity{Repository: "acme/base-images", WorkflowRepository: "clearcutt/clearcutt",
		Workflow: ".github/workflows/publish.yml", WorkflowRef: sha, Ref: "refs/heads/main"}
	const san = "https://github.com/clearcutt/clearcutt/.github/workflows/publish.yml@" + sha
	if id.BuildSignerURI() != san {
		t.Fatalf("BuildSignerURI = %s, want %s", id.BuildSignerURI(), san)
	}
	st, err := sigtest.Statement("x", v1.Hash{Algorithm: "sha256", Hex: "00"}, "https://example.com/p", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	js, err := ss.SignStatement(context.Background(), id, st)
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
	sum, err := certificate.SummarizeCertificate(vc.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string][2]string{
		"SAN":                 {sum.SubjectAlternativeName, san},
		"BuildSignerURI":      {sum.BuildSignerURI, san},
		"BuildSignerDigest":   {sum.BuildSignerDigest, sha},
		"SourceRepositoryRef": {sum.SourceRepositoryRef, "refs/heads/main"},
	} {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", k, v[0], v[1])
		}
	}
}

// TestGitHubIDToken: the token's claims are those Fulcio turns into the
// certificate of the same identity: job_workflow_ref is the SAN without
// https://github.com/, repository and ref the source repository and ref.
func TestGitHubIDToken(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	id := sigtest.GitHubIdentity{Repository: "acme/base-images", WorkflowRepository: "clearcutt/clearcutt",
		Workflow: ".github/workflows/publish.yml", WorkflowRef: sha, Ref: "refs/heads/main", Visibility: "private"}
	parts := strings.Split(id.IDToken(), ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want header.payload.signature", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"iss":                   sigtest.GitHubIssuer,
		"aud":                   "sigstore",
		"repository":            "acme/base-images",
		"ref":                   "refs/heads/main",
		"job_workflow_ref":      strings.TrimPrefix(id.BuildSignerURI(), "https://github.com/"),
		"job_workflow_sha":      sha,
		"repository_visibility": "private",
	} {
		if c[k] != want {
			t.Errorf("%s = %v, want %q", k, c[k], want)
		}
	}
	if c["job_workflow_ref"] != "clearcutt/clearcutt/.github/workflows/publish.yml@"+sha {
		t.Errorf("job_workflow_ref = %v", c["job_workflow_ref"])
	}
	if def := (sigtest.GitHubIdentity{Repository: "a/b", Workflow: ".github/workflows/p.yml", Ref: "refs/heads/main"}).IDToken(); !strings.Contains(def, ".") {
		t.Fatal(def)
	} else if raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(def, ".")[1]); !strings.Contains(string(raw), `"repository_visibility":"public"`) {
		t.Errorf("default visibility: %s", raw)
	}
}
