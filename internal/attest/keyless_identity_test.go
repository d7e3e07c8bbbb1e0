package attest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// fleetIdentity is the clearcutt.yaml identity renewIdentity signs as.
var fleetIdentity = fleet.Identity{Issuer: sigtest.GitHubIssuer, Repository: "acme/fleet",
	Workflow: ".github/workflows/publish.yml", Ref: "refs/heads/main"}

// tokenSource hands out the tokens of ids, one per call, the last one
// again once they are used up.
type tokenSource struct {
	mu    sync.Mutex
	ids   []string
	calls int
}

func (s *tokenSource) token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.ids[min(s.calls, len(s.ids)-1)]
	s.calls++
	return tok, nil
}

// expectKeyless is a Keyless of the in-process Sigstore ss with the
// expectation e, taking its tokens from toks; its certificate requests are
// recorded by the returned CA.
func expectKeyless(t *testing.T, ss *sigtest.Sigstore, now func() time.Time, e *TokenExpectation, private bool, toks ...string) (*Keyless, *recordingCA) {
	t.Helper()
	ca := &recordingCA{inner: ss.Fulcio(renewIdentity)}
	src := &tokenSource{ids: toks}
	k, err := NewKeyless(KeylessOptions{
		CertificateAuthority: ca, Transparency: ss.Rekor(), TrustedRoot: ss.TrustedRoot(),
		IDToken: src.token, Expect: e, PrivateRepository: private,
	})
	must(t, err)
	k.now = now
	return k, ca
}

func signOnce(k *Keyless, i int) error {
	st, err := SignatureStatement("registry.example/fleet", v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(string(rune('a'+i)), 64)})
	if err != nil {
		return err
	}
	_, err = SignStatement(context.Background(), k, st)
	return err
}

// TestKeylessRefusesTokenVerificationWouldRefuse: a token whose iss,
// repository, ref or job_workflow_ref is not the fleet's, or of a
// repository that is not public, is refused with the claim, its value and
// the clearcutt.yaml field named, and no certificate is requested with it.
func TestKeylessRefusesTokenVerificationWouldRefuse(t *testing.T) {
	ss, err := sigtest.New()
	must(t, err)
	publish := FleetTokenExpectation(fleetIdentity, PublishWorkflow)
	rescan := FleetTokenExpectation(fleetIdentity, RescanWorkflow)
	with := func(f func(*sigtest.GitHubIdentity)) string {
		id := renewIdentity
		f(&id)
		return id.IDToken()
	}
	for _, c := range []struct {
		name    string
		token   string
		expect  *TokenExpectation
		private bool
		err     error
		want    []string
	}{
		{"another issuer", with(func(id *sigtest.GitHubIdentity) { id.Issuer = "https://oidc.ci.example" }), publish, false, ErrTokenIdentity,
			[]string{`its iss is "https://oidc.ci.example"`, `clearcutt.yaml identity.issuer is "` + sigtest.GitHubIssuer + `"`, "verification would refuse"}},
		{"another repository calling the fleet's workflow", with(func(id *sigtest.GitHubIdentity) { id.Repository, id.WorkflowRepository = "mallory/fork", "acme/fleet" }), publish, false, ErrTokenIdentity,
			[]string{`its repository is "mallory/fork"`, `clearcutt.yaml identity.repository is "acme/fleet"`}},
		{"another branch calling the workflow at the pinned ref", with(func(id *sigtest.GitHubIdentity) { id.Ref, id.WorkflowRef = "refs/heads/feature", "refs/heads/main" }), publish, false, ErrTokenIdentity,
			[]string{`its ref is "refs/heads/feature"`, `clearcutt.yaml identity.ref is "refs/heads/main"`,
				"runs from another branch or tag cannot sign; see docs/forking.md, the clearcutt-signing environment"}},
		{"another tag", with(func(id *sigtest.GitHubIdentity) { id.Ref, id.WorkflowRef = "refs/tags/v9", "refs/heads/main" }), publish, false, ErrTokenIdentity,
			[]string{`its ref is "refs/tags/v9"`}},
		{"another workflow", with(func(id *sigtest.GitHubIdentity) { id.Workflow = ".github/workflows/other.yml" }), publish, false, ErrTokenIdentity,
			[]string{`its job_workflow_ref is "acme/fleet/.github/workflows/other.yml@refs/heads/main"`,
				`clearcutt.yaml identity.workflowRepository/identity.workflow@identity.workflowRef is "acme/fleet/.github/workflows/publish.yml@refs/heads/main"`}},
		{"the workflow at another ref", with(func(id *sigtest.GitHubIdentity) { id.WorkflowRef = "refs/heads/feature" }), publish, false, ErrTokenIdentity,
			[]string{`its job_workflow_ref is "acme/fleet/.github/workflows/publish.yml@refs/heads/feature"`}},
		{"the publish workflow rescanning", renewIdentity.IDToken(), rescan, false, ErrTokenIdentity,
			[]string{`its job_workflow_ref is "acme/fleet/.github/workflows/publish.yml@refs/heads/main"`,
				`identity.workflowRepository/identity.rescanWorkflow@identity.workflowRef is "acme/fleet/.github/workflows/rescan.yml@refs/heads/main"`}},
		{"no job_workflow_ref", sigtest.UnsignedJWT(map[string]any{"iss": sigtest.GitHubIssuer, "repository": "acme/fleet", "ref": "refs/heads/main"}), publish, false, ErrTokenIdentity,
			[]string{"its job_workflow_ref is absent"}},
		{"not a GitHub Actions token", sigtest.UnsignedJWT(map[string]any{"iss": "https://oidc.ci.example", "sub": "project:x"}), publish, false, ErrTokenIdentity,
			[]string{`its iss is "https://oidc.ci.example"`}},
		{"not a JWT", "token-1", publish, false, ErrTokenIdentity, []string{"not a JWT"}},
		{"private", with(func(id *sigtest.GitHubIdentity) { id.Visibility = "private" }), publish, false, ErrPrivateRepository,
			[]string{`acme/fleet is "private"`, "public Rekor log", "repository and workflow names, ref, commit, run",
				"--private-repository", "private-repository: true", "publish.yml and rescan.yml"}},
		{"internal", with(func(id *sigtest.GitHubIdentity) { id.Visibility = "internal" }), publish, false, ErrPrivateRepository,
			[]string{`acme/fleet is "internal"`}},
		{"private, without an expectation", with(func(id *sigtest.GitHubIdentity) { id.Visibility = "private" }), nil, false, ErrPrivateRepository,
			[]string{"--private-repository"}},
		{"private with the option, from another branch", with(func(id *sigtest.GitHubIdentity) {
			id.Visibility, id.Ref, id.WorkflowRef = "private", "refs/heads/x", "refs/heads/main"
		}), publish, true, ErrTokenIdentity,
			[]string{`its ref is "refs/heads/x"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, ca := expectKeyless(t, ss, nil, c.expect, c.private, c.token)
			err := signOnce(k, 0)
			if !errors.Is(err, c.err) {
				t.Fatalf("got %v, want %v", err, c.err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if len(ca.tokens) != 0 {
				t.Errorf("%d certificates requested with a refused token", len(ca.tokens))
			}
			if err := k.CheckIdentity(context.Background()); !errors.Is(err, c.err) {
				t.Errorf("CheckIdentity: %v, want %v", err, c.err)
			}
			if len(ca.tokens) != 0 {
				t.Errorf("CheckIdentity requested a certificate")
			}
		})
	}
}

// TestKeylessAcceptsTheFleetsToken: the fleet's own token signs, for the
// publish and the rescan workflow (also pinned by commit in another
// repository); a private repository signs with PrivateRepository; an
// application repository signing under its own identity is not judged by
// the fleet's.
func TestKeylessAcceptsTheFleetsToken(t *testing.T) {
	ss, err := sigtest.New()
	must(t, err)
	const sha = "0123456789abcdef0123456789abcdef01234567"
	pinned := fleet.Identity{Issuer: sigtest.GitHubIssuer, Repository: "acme/fleet", WorkflowRepository: "clearcutt/clearcutt",
		Workflow: ".github/workflows/publish.yml", RescanWorkflow: ".github/workflows/nightly-rescan.yml", Ref: "refs/heads/main", WorkflowRef: sha}
	for _, c := range []struct {
		name    string
		token   string
		expect  *TokenExpectation
		private bool
	}{
		{"publish", renewIdentity.IDToken(), FleetTokenExpectation(fleetIdentity, PublishWorkflow), false},
		{"rescan", sigtest.GitHubIdentity{Repository: "acme/fleet", Workflow: ".github/workflows/rescan.yml", Ref: "refs/heads/main"}.IDToken(),
			FleetTokenExpectation(fleetIdentity, RescanWorkflow), false},
		{"publish, workflow pinned by commit", sigtest.GitHubIdentity{Repository: "acme/fleet", WorkflowRepository: "clearcutt/clearcutt",
			Workflow: ".github/workflows/publish.yml", WorkflowRef: sha, Ref: "refs/heads/main"}.IDToken(), FleetTokenExpectation(pinned, PublishWorkflow), false},
		{"rescan, workflow pinned by commit", sigtest.GitHubIdentity{Repository: "acme/fleet", WorkflowRepository: "clearcutt/clearcutt",
			Workflow: ".github/workflows/nightly-rescan.yml", WorkflowRef: sha, Ref: "refs/heads/main"}.IDToken(), FleetTokenExpectation(pinned, RescanWorkflow), false},
		{"private with the option", sigtest.GitHubIdentity{Repository: "acme/fleet", Workflow: ".github/workflows/publish.yml", Ref: "refs/heads/main", Visibility: "private"}.IDToken(),
			FleetTokenExpectation(fleetIdentity, PublishWorkflow), true},
		{"an application repository's own workflow", sigtest.GitHubIdentity{Repository: "acme/app", Workflow: ".github/workflows/app.yml", Ref: "refs/heads/feature"}.IDToken(),
			FleetTokenExpectation(fleetIdentity, PublishWorkflow), false},
		{"no expectation", sigtest.GitHubIdentity{Repository: "acme/other", Workflow: ".github/workflows/x.yml", Ref: "refs/heads/x"}.IDToken(), nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, ca := expectKeyless(t, ss, nil, c.expect, c.private, c.token)
			if err := k.CheckIdentity(context.Background()); err != nil {
				t.Fatalf("CheckIdentity: %v", err)
			}
			if err := signOnce(k, 0); err != nil {
				t.Fatal(err)
			}
			if len(ca.tokens) != 1 || ca.tokens[0] != c.token {
				t.Errorf("certificate requests %d, want one with the token", len(ca.tokens))
			}
		})
	}
}

// TestKeylessRechecksRenewedToken: the token fetched to renew the
// certificate is checked like the first: one of another ref makes the
// renewal fail before a second certificate is requested.
func TestKeylessRechecksRenewedToken(t *testing.T) {
	clock := &manualClock{t: time.Now().Truncate(time.Second)}
	ss, err := sigtest.NewWithOptions(sigtest.Options{Now: clock.Now, CertificateLifetime: time.Minute})
	must(t, err)
	other := renewIdentity
	other.Ref = "refs/heads/feature"
	other.WorkflowRef = "refs/heads/main"
	k, ca := expectKeyless(t, ss, clock.Now, FleetTokenExpectation(fleetIdentity, PublishWorkflow), false, renewIdentity.IDToken(), other.IDToken())
	if err := signOnce(k, 0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(15 * time.Second)
	if err := signOnce(k, 1); err != nil {
		t.Fatalf("within the certificate's lifetime: %v", err)
	}
	clock.Advance(45 * time.Second) // less than a fifth of the two-minute lifetime is left
	err = signOnce(k, 2)
	if !errors.Is(err, ErrTokenIdentity) || !strings.Contains(err.Error(), `its ref is "refs/heads/feature"`) {
		t.Fatalf("renewal with a token of another ref: %v, want %v", err, ErrTokenIdentity)
	}
	if len(ca.tokens) != 1 {
		t.Errorf("%d certificates requested, want the first only", len(ca.tokens))
	}
}

// TestFleetTokenExpectationIsWhatVerifyPins: the job_workflow_ref, ref and
// repository expected of a signing token are the Build Signer URI, Source
// Repository Ref and URI verify.FleetEvidence pins, for the publish and
// the rescan workflow; only GitHub's issuer has these claims.
func TestFleetTokenExpectationIsWhatVerifyPins(t *testing.T) {
	defaulted := fleetIdentity
	defaulted.RescanWorkflow = fleet.DefaultRescanWorkflow // as fleet.Load fills it in
	for _, id := range []fleet.Identity{
		defaulted,
		{Issuer: sigtest.GitHubIssuer, Repository: "acme/fleet", WorkflowRepository: "clearcutt/clearcutt", Workflow: ".github/workflows/publish.yml",
			RescanWorkflow: ".github/workflows/nightly.yml", Ref: "refs/tags/v2", WorkflowRef: "0123456789abcdef0123456789abcdef01234567"},
	} {
		p, err := verify.NewPolicy(verify.FleetEvidence(id))
		must(t, err)
		for w, pinned := range map[SigningWorkflow]verify.Identity{PublishWorkflow: p.Signer, RescanWorkflow: *p.Rescan} {
			got := map[string]string{}
			for _, c := range FleetTokenExpectation(id, w).Claims {
				got[c.Name] = c.Value
			}
			want := map[string]string{
				"iss":              pinned.Issuer,
				"repository":       strings.TrimPrefix(pinned.SourceRepositoryURI, "https://github.com/"),
				"ref":              pinned.SourceRepositoryRef,
				"job_workflow_ref": strings.TrimPrefix(pinned.SAN, "https://github.com/"),
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("workflow %d: %s = %q, verify pins %q", w, k, got[k], v)
				}
			}
		}
	}
	other := fleetIdentity
	other.Issuer = "https://oidc.ci.example"
	if e := FleetTokenExpectation(other, PublishWorkflow); e != nil {
		t.Errorf("expectation for issuer %s: %+v", other.Issuer, e)
	}
}
