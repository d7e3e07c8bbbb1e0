package attest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/clearcutt/clearcutt/internal/fleet"
)

// GitHubActionsIssuer is the OIDC issuer of GitHub Actions job tokens.
const GitHubActionsIssuer = "https://token.actions.githubusercontent.com"

// SigningWorkflow says which of the fleet's workflows signs.
type SigningWorkflow = fleet.SigningWorkflow

const (
	// PublishWorkflow is identity.workflow, which signs the images and
	// all of their evidence (clearcutt attest).
	PublishWorkflow = fleet.PublishWorkflow
	// RescanWorkflow is identity.rescanWorkflow, which signs fresh
	// vulnerability scans and VEX (clearcutt rescan).
	RescanWorkflow = fleet.RescanWorkflow
)

// ExpectedClaim is a claim an OIDC token must carry with exactly Value.
type ExpectedClaim struct {
	// Name is the claim: iss, repository, ref, job_workflow_ref.
	Name string
	// Value is the only value accepted.
	Value string
	// Field says where Value comes from, for the error: e.g.
	// "clearcutt.yaml identity.ref".
	Field string
	// Hint, when set, ends the error about this claim.
	Hint string
}

// TokenExpectation is the identity an OIDC token must name before Keyless
// requests a certificate with it: the identity verification pins, so that
// nothing is signed that verification would refuse.
type TokenExpectation struct {
	// Claims must each be in the token with exactly their value.
	Claims []ExpectedClaim
	// Repositories, when set, scope the expectation to the tokens of a job
	// of one of these repositories (owner/name; its repository claim) or
	// running a workflow of one of them (the repository of its
	// job_workflow_ref). A GitHub Actions token of any other repository
	// running its own workflow signs under that repository's own identity
	// — an application repository signing its images with 'clearcutt
	// attest' (docs/app-teams.md) — and is not checked against this
	// expectation. A token without a repository claim is always checked.
	Repositories []string
}

// FleetTokenExpectation is what the OIDC token of a job signing for the
// fleet with workflow w must claim: iss identity.issuer, repository
// identity.repository, ref identity.ref, and job_workflow_ref
// <workflowRepository>/<workflow>@<workflowRef> (PublishWorkflow) or
// <workflowRepository>/<rescanWorkflow>@<workflowRef> (RescanWorkflow).
// The values are those of fleet.Identity.Signer, from which verification
// (verify.FleetEvidence) derives the identity it pins: the Build Signer
// URI is the job_workflow_ref after https://github.com/. Defaults are those
// of clearcutt.yaml: workflowRepository is repository, workflowRef is ref,
// rescanWorkflow is .github/workflows/rescan.yml.
//
// These are GitHub Actions claims: FleetTokenExpectation is nil, expecting
// nothing, unless identity.issuer is GitHubActionsIssuer.
func FleetTokenExpectation(id fleet.Identity, w SigningWorkflow) *TokenExpectation {
	if id.Issuer != GitHubActionsIssuer {
		return nil
	}
	s := id.Signer(w)
	wfField := "identity.workflow"
	if w == RescanWorkflow {
		wfField = "identity.rescanWorkflow"
	}
	return &TokenExpectation{
		Claims: []ExpectedClaim{
			{Name: "iss", Value: s.Issuer, Field: "clearcutt.yaml identity.issuer"},
			{Name: "repository", Value: s.Repository, Field: "clearcutt.yaml identity.repository"},
			{Name: "ref", Value: s.Ref, Field: "clearcutt.yaml identity.ref",
				Hint: "runs from another branch or tag cannot sign; see docs/forking.md, the clearcutt-signing environment"},
			{Name: "job_workflow_ref", Value: s.JobWorkflowRef,
				Field: "clearcutt.yaml identity.workflowRepository/" + wfField + "@identity.workflowRef"},
		},
		Repositories: slices.Compact([]string{s.Repository, s.WorkflowRepository}),
	}
}

// appliesTo reports whether the expectation judges a token with claims c.
func (e *TokenExpectation) appliesTo(c map[string]any) bool {
	if len(e.Repositories) == 0 {
		return true
	}
	repo, ok := c["repository"].(string)
	if !ok {
		return true
	}
	if slices.Contains(e.Repositories, repo) {
		return true
	}
	jwr, _ := c["job_workflow_ref"].(string)
	if owner, rest, ok := strings.Cut(jwr, "/"); ok {
		if name, _, ok := strings.Cut(rest, "/"); ok && slices.Contains(e.Repositories, owner+"/"+name) {
			return true
		}
	}
	return false
}

// tokenClaims decodes the payload of a JWT. Its signature is not
// verified: the claims are only used to decline to request a certificate,
// and Fulcio verifies the token it is given.
func tokenClaims(tok string) (map[string]any, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("the OIDC token is not a JWT (header.payload.signature)")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("the OIDC token's payload: %w", err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("the OIDC token's payload: %w", err)
	}
	if c == nil {
		return nil, errors.New("the OIDC token's payload is not a JSON object")
	}
	return c, nil
}

// claimText is a claim's value as an error shows it.
func claimText(v any, present bool) string {
	if !present {
		return "absent"
	}
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// CheckToken decides whether Keyless may request a certificate with the
// OIDC token tok; Keyless calls it on every token it fetches. The token's
// payload is decoded without verifying its signature: it is only used to
// decline, and Fulcio verifies the token it certifies.
//
// With an expectation (KeylessOptions.Expect) that applies to the token,
// every expected claim must be there with exactly its value, else the
// error (ErrTokenIdentity) names the claim, the token's value and the
// clearcutt.yaml field with its value; a token that is not a JWT is
// refused too. Whatever the expectation, a token whose
// repository_visibility claim is not "public" (private or internal) is
// refused (ErrPrivateRepository) unless privateRepository is true:
// keyless signing enters the certificate in the public Rekor log.
// Without an expectation, a token that does not decode is left to Fulcio.
func CheckToken(tok string, expect *TokenExpectation, privateRepository bool) error {
	c, err := tokenClaims(tok)
	if err != nil {
		if expect != nil {
			return fmt.Errorf("%w: %w", ErrTokenIdentity, err)
		}
		return nil
	}
	if expect != nil && expect.appliesTo(c) {
		for _, want := range expect.Claims {
			got, present := c[want.Name]
			if s, ok := got.(string); ok && s == want.Value {
				continue
			}
			hint := ""
			if want.Hint != "" {
				hint = " (" + want.Hint + ")"
			}
			return fmt.Errorf("%w: its %s is %s, but %s is %q: verification would refuse what this would sign%s",
				ErrTokenIdentity, want.Name, claimText(got, present), want.Field, want.Value, hint)
		}
	}
	if v, ok := c["repository_visibility"]; ok && v != "public" && !privateRepository {
		repo := "the repository"
		if r, ok := c["repository"].(string); ok && r != "" {
			repo = r
		}
		return fmt.Errorf("%w: %s is %s (repository_visibility); keyless signing enters the certificate — repository and workflow names, ref, commit, run — in the public Rekor log: "+
			"--private-repository (action input private-repository: true, workflow input private-repository of publish.yml and rescan.yml) accepts that",
			ErrPrivateRepository, repo, claimText(v, true))
	}
	return nil
}
