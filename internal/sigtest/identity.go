package sigtest

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/sign"
)

// GitHubIssuer is the OIDC issuer of GitHub Actions.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// SLSAGeneratorWorkflow is the container workflow of slsa-github-generator
// at the version ClearCutt documents.
const (
	SLSAGeneratorRepository = "slsa-framework/slsa-github-generator"
	SLSAGeneratorWorkflow   = ".github/workflows/generator_container_slsa3.yml"
	SLSAGeneratorRef        = "refs/tags/v2.1.0"
)

// GitHubIdentity describes the GitHub Actions job a certificate is issued
// to, in the terms of the OIDC token Fulcio turns into extensions.
type GitHubIdentity struct {
	// Issuer defaults to GitHubIssuer.
	Issuer string
	// Repository is the repository whose workflow run signs (owner/name):
	// Source Repository URI.
	Repository string
	// WorkflowRepository holds the (reusable) workflow that signs; it
	// defaults to Repository. Build Signer URI names it.
	WorkflowRepository string
	// Workflow is the path of the signing workflow in WorkflowRepository.
	Workflow string
	// WorkflowRef is the ref of the signing workflow (defaults to Ref): a
	// full git ref, or the 40-hex commit a caller pins it at, which GitHub
	// writes as the ref of job_workflow_ref and so of the Build Signer URI.
	WorkflowRef string
	// Ref is the git ref of the run: Source Repository Ref.
	Ref string
	// SourceDigest is the commit of the run (default: forty 'a').
	SourceDigest string
	// SignerDigest is the commit of the signing workflow (default: WorkflowRef
	// when that is a commit, else SourceDigest).
	SignerDigest string
	// Trigger defaults to "push"; RunnerEnvironment to "github-hosted".
	Trigger           string
	RunnerEnvironment string
	// RunID defaults to "1".
	RunID string
	// Visibility is the repository's visibility, public (the default),
	// private or internal: the repository_visibility claim of IDToken.
	Visibility string
}

// SLSAGenerator is the identity of slsa-github-generator's container
// workflow called from repository at ref.
func SLSAGenerator(repository, ref string) GitHubIdentity {
	return GitHubIdentity{
		Repository: repository, Ref: ref,
		WorkflowRepository: SLSAGeneratorRepository, Workflow: SLSAGeneratorWorkflow, WorkflowRef: SLSAGeneratorRef,
	}
}

func (g GitHubIdentity) withDefaults() GitHubIdentity {
	if g.Issuer == "" {
		g.Issuer = GitHubIssuer
	}
	if g.WorkflowRepository == "" {
		g.WorkflowRepository = g.Repository
	}
	if g.WorkflowRef == "" {
		g.WorkflowRef = g.Ref
	}
	if g.SourceDigest == "" {
		g.SourceDigest = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	}
	if g.SignerDigest == "" && isCommit(g.WorkflowRef) {
		g.SignerDigest = g.WorkflowRef
	}
	if g.SignerDigest == "" {
		g.SignerDigest = g.SourceDigest
	}
	if g.Trigger == "" {
		g.Trigger = "push"
	}
	if g.RunnerEnvironment == "" {
		g.RunnerEnvironment = "github-hosted"
	}
	if g.RunID == "" {
		g.RunID = "1"
	}
	if g.Visibility == "" {
		g.Visibility = "public"
	}
	return g
}

// IDToken is the OIDC token GitHub Actions gives g's job for audience
// "sigstore", as a JWT whose payload holds the claims Fulcio reads (iss,
// repository, ref, sha, job_workflow_ref, job_workflow_sha,
// repository_visibility, …). It is not signed (the signature is a
// placeholder): for code that reads the claims only.
func (g GitHubIdentity) IDToken() string {
	g = g.withDefaults()
	owner, _, _ := strings.Cut(g.Repository, "/")
	claims := map[string]any{
		"iss":                   g.Issuer,
		"aud":                   "sigstore",
		"sub":                   "repo:" + g.Repository + ":ref:" + g.Ref,
		"repository":            g.Repository,
		"repository_owner":      owner,
		"repository_visibility": g.Visibility,
		"ref":                   g.Ref,
		"sha":                   g.SourceDigest,
		"workflow_ref":          g.Repository + "/" + g.Workflow + "@" + g.Ref,
		"job_workflow_ref":      strings.TrimPrefix(g.BuildSignerURI(), "https://github.com/"),
		"job_workflow_sha":      g.SignerDigest,
		"event_name":            g.Trigger,
		"runner_environment":    g.RunnerEnvironment,
		"run_id":                g.RunID,
		"run_attempt":           "1",
	}
	return UnsignedJWT(claims)
}

// UnsignedJWT is a JWT of claims with a placeholder signature.
func UnsignedJWT(claims map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Sprintf("sigtest: JWT claims: %v", err))
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(payload) + "." + enc([]byte("unsigned"))
}

// isCommit reports whether ref is a full lower-case commit SHA-1, the form
// a workflow called by commit has in job_workflow_ref.
func isCommit(ref string) bool {
	if len(ref) != 40 {
		return false
	}
	for _, c := range ref {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// BuildSignerURI is https://github.com/<workflowRepository>/<workflow>@<workflowRef>,
// also the certificate's URI SAN.
func (g GitHubIdentity) BuildSignerURI() string {
	g = g.withDefaults()
	return "https://github.com/" + g.WorkflowRepository + "/" + g.Workflow + "@" + g.WorkflowRef
}

// SourceRepositoryURI is https://github.com/<repository>.
func (g GitHubIdentity) SourceRepositoryURI() string { return "https://github.com/" + g.Repository }

// template is the leaf certificate template Fulcio would issue for g at
// now, expiring lifetime later.
func (g GitHubIdentity) template(now time.Time, lifetime time.Duration) (*x509.Certificate, error) {
	g = g.withDefaults()
	san, err := url.Parse(g.BuildSignerURI())
	if err != nil {
		return nil, fmt.Errorf("sigtest: build signer URI: %w", err)
	}
	repoURI := g.SourceRepositoryURI()
	exts := []pkix.Extension{
		{Id: certificate.OIDIssuer, Value: []byte(g.Issuer)}, // legacy: raw bytes
		{Id: certificate.OIDGitHubWorkflowTrigger, Value: []byte(g.Trigger)},
		{Id: certificate.OIDGitHubWorkflowSHA, Value: []byte(g.SourceDigest)},
		{Id: certificate.OIDGitHubWorkflowRepository, Value: []byte(g.Repository)},
		{Id: certificate.OIDGitHubWorkflowRef, Value: []byte(g.Ref)},
	}
	for _, e := range []struct {
		oid asn1.ObjectIdentifier
		v   string
	}{
		{certificate.OIDIssuerV2, g.Issuer},
		{certificate.OIDBuildSignerURI, g.BuildSignerURI()},
		{certificate.OIDBuildSignerDigest, g.SignerDigest},
		{certificate.OIDRunnerEnvironment, g.RunnerEnvironment},
		{certificate.OIDSourceRepositoryURI, repoURI},
		{certificate.OIDSourceRepositoryDigest, g.SourceDigest},
		{certificate.OIDSourceRepositoryRef, g.Ref},
		{certificate.OIDBuildConfigURI, repoURI + "/" + g.Workflow + "@" + g.Ref},
		{certificate.OIDBuildTrigger, g.Trigger},
		{certificate.OIDRunInvocationURI, repoURI + "/actions/runs/" + g.RunID + "/attempts/1"},
	} {
		// Fulcio encodes the v2 extensions as DER UTF8String.
		der, err := asn1.MarshalWithParams(e.v, "utf8")
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: e.oid, Value: der})
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:    serial,
		NotBefore:       now.Add(-time.Minute),
		NotAfter:        now.Add(lifetime),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs:            []*url.URL{san},
		ExtraExtensions: exts,
	}, nil
}

// issue signs a leaf certificate for pub with the Fulcio intermediate.
func (s *Sigstore) issue(id GitHubIdentity, pub any) (*x509.Certificate, error) {
	tmpl, err := id.template(s.now(), s.certLifetime)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.fulcioCert, pub, s.fulcioKey)
	if err != nil {
		return nil, fmt.Errorf("sigtest: issue certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// Fulcio is a sign.CertificateProvider issuing certificates for id, as
// Fulcio does for an OIDC token of id's workflow run; the token in the
// provider options is not checked.
func (s *Sigstore) Fulcio(id GitHubIdentity) sign.CertificateProvider { return fulcio{s: s, id: id} }

// fulcio is a sign.CertificateProvider issuing certificates for one identity.
type fulcio struct {
	s  *Sigstore
	id GitHubIdentity
}

func (f fulcio) GetCertificate(_ context.Context, kp sign.Keypair, _ *sign.CertificateProviderOptions) ([]byte, error) {
	c, err := f.s.issue(f.id, kp.GetPublicKey())
	if err != nil {
		return nil, err
	}
	return c.Raw, nil
}

var _ sign.CertificateProvider = fulcio{}
