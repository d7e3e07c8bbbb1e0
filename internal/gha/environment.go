package gha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Sentinel errors of CheckEnvironment, wrapped with %w.
var (
	// ErrEnvironmentRule: the environment is missing, or its deployment
	// branch rule admits more than the fleet's signing ref (or not it).
	ErrEnvironmentRule = errors.New("signing environment does not hold the signing ref alone")
	// ErrEnvironmentAccess: the API refused the token (the job lacks
	// actions: read, or the token cannot see the repository).
	ErrEnvironmentAccess = errors.New("cannot read the environment")
	// ErrEnvironmentOptions: the options name no repository, environment
	// or a ref that is not refs/heads/… or refs/tags/….
	ErrEnvironmentOptions = errors.New("invalid environment check")
)

// DefaultAPI is GitHub's REST API; GitHub Enterprise Server jobs have
// their own in GITHUB_API_URL.
const DefaultAPI = "https://api.github.com"

// protectedBranchesPage is the most protected branches CheckEnvironment
// reads; a repository with more is refused rather than judged on a part.
const protectedBranchesPage = 100

// EnvironmentCheck names the environment whose deployment branch rule
// must admit exactly one ref.
type EnvironmentCheck struct {
	// API is the REST API's base URL; "" = DefaultAPI.
	API string
	// Repository is owner/name.
	Repository string
	// Environment is the environment's name (clearcutt-signing).
	Environment string
	// Ref is the one ref allowed to deploy to it: refs/heads/<branch> or
	// refs/tags/<tag>.
	Ref string
	// Token authenticates the requests ("" = anonymous, enough for a
	// public repository).
	Token string
	// Client sends the requests; nil = http.DefaultClient.
	Client *http.Client
}

// EnvironmentReport is what the environment's rule admits, as GitHub
// states it.
type EnvironmentReport struct {
	Repository  string `json:"repository"`
	Environment string `json:"environment"`
	Ref         string `json:"ref"`
	// Exists is false when the repository has no such environment (GitHub
	// creates one without rules when a job names it).
	Exists bool `json:"exists"`
	// Rule is "none" (every branch and tag), "protected-branches" or
	// "custom".
	Rule string `json:"rule,omitempty"`
	// Admits lists what the rule admits: branch and tag patterns, or the
	// protected branches.
	Admits []string `json:"admits,omitempty"`
	// Problems says what is wrong; empty when the rule admits exactly Ref.
	Problems []string `json:"problems,omitempty"`
}

// OK is true when the environment exists and admits exactly the ref.
func (r EnvironmentReport) OK() bool { return r.Exists && len(r.Problems) == 0 }

// CheckEnvironment reads an environment's deployment branch rule with the
// REST API and judges whether it admits exactly o.Ref: a missing
// environment, a rule that admits every branch, any branch or tag pattern
// other than the ref's exact name, or a protected branch other than the
// ref's, is a problem. The returned error wraps ErrEnvironmentRule when
// there are problems (the report says which), ErrEnvironmentAccess when
// the API refuses the token, and ErrEnvironmentOptions for bad options.
func CheckEnvironment(ctx context.Context, o EnvironmentCheck) (EnvironmentReport, error) {
	rep := EnvironmentReport{Repository: o.Repository, Environment: o.Environment, Ref: o.Ref}
	kind, name, ok := splitRef(o.Ref)
	if !ok {
		return rep, fmt.Errorf("%w: ref %q is not refs/heads/<branch> or refs/tags/<tag>", ErrEnvironmentOptions, o.Ref)
	}
	if owner, repo, ok := strings.Cut(o.Repository, "/"); !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return rep, fmt.Errorf("%w: repository %q is not owner/name", ErrEnvironmentOptions, o.Repository)
	}
	if o.Environment == "" {
		return rep, fmt.Errorf("%w: no environment named", ErrEnvironmentOptions)
	}
	c := apiClient{o: o}
	envPath := "/repos/" + o.Repository + "/environments/" + url.PathEscape(o.Environment)
	var env struct {
		Policy *struct {
			ProtectedBranches    bool `json:"protected_branches"`
			CustomBranchPolicies bool `json:"custom_branch_policies"`
		} `json:"deployment_branch_policy"`
	}
	found, err := c.get(ctx, envPath, &env)
	if err != nil {
		return rep, err
	}
	if !found {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%s has no environment %s (or the token cannot see it): GitHub creates it without rules when a job names it, and then every branch may sign; create it with a deployment branch rule for %s %s",
			o.Repository, o.Environment, kind, name))
		return rep, fmt.Errorf("%w: %s", ErrEnvironmentRule, rep.Problems[0])
	}
	rep.Exists = true
	switch {
	case env.Policy == nil:
		rep.Rule = "none"
		rep.Problems = append(rep.Problems, fmt.Sprintf("environment %s has no deployment branch rule: every branch and tag may sign; allow %s %s only", o.Environment, kind, name))
	case env.Policy.ProtectedBranches:
		rep.Rule = "protected-branches"
		var branches []struct {
			Name string `json:"name"`
		}
		if err := c.list(ctx, fmt.Sprintf("/repos/%s/branches?protected=true&per_page=%d", o.Repository, protectedBranchesPage), &branches); err != nil {
			return rep, err
		}
		if len(branches) >= protectedBranchesPage {
			rep.Problems = append(rep.Problems, fmt.Sprintf("environment %s admits every protected branch, and %s has %d or more: use a custom rule for %s %s only", o.Environment, o.Repository, protectedBranchesPage, kind, name))
			break
		}
		for _, b := range branches {
			rep.Admits = append(rep.Admits, "branch "+b.Name)
			if kind != "branch" || b.Name != name {
				rep.Problems = append(rep.Problems, fmt.Sprintf("environment %s admits every protected branch, and so branch %s", o.Environment, b.Name))
			}
		}
		if kind == "tag" {
			rep.Problems = append(rep.Problems, fmt.Sprintf("environment %s admits protected branches only, not tag %s: use a custom rule for tag %s", o.Environment, name, name))
		} else if !slices.Contains(rep.Admits, "branch "+name) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("environment %s admits protected branches only, and branch %s is not protected", o.Environment, name))
		}
	case env.Policy.CustomBranchPolicies:
		rep.Rule = "custom"
		var list struct {
			Policies []struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"branch_policies"`
		}
		if err := c.list(ctx, envPath+fmt.Sprintf("/deployment-branch-policies?per_page=%d", protectedBranchesPage), &list); err != nil {
			return rep, err
		}
		if len(list.Policies) >= protectedBranchesPage {
			return rep, fmt.Errorf("%w: environment %s has %d or more deployment branch policies; it should have one", ErrEnvironmentRule, o.Environment, protectedBranchesPage)
		}
		admitsRef := false
		for _, p := range list.Policies {
			t := p.Type
			if t == "" {
				t = "branch"
			}
			rep.Admits = append(rep.Admits, t+" "+p.Name)
			if t == kind && p.Name == name {
				admitsRef = true
				continue
			}
			rep.Problems = append(rep.Problems, fmt.Sprintf("environment %s also admits %s %s", o.Environment, t, p.Name))
		}
		if !admitsRef {
			rep.Problems = append(rep.Problems, fmt.Sprintf("environment %s does not admit %s %s, so no release can sign", o.Environment, kind, name))
		}
	default:
		rep.Rule = "none"
		rep.Problems = append(rep.Problems, fmt.Sprintf("environment %s has no deployment branch rule: every branch and tag may sign; allow %s %s only", o.Environment, kind, name))
	}
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrEnvironmentRule, strings.Join(rep.Problems, "; "))
	}
	return rep, nil
}

func splitRef(ref string) (kind, name string, ok bool) {
	if n, ok := strings.CutPrefix(ref, "refs/heads/"); ok && n != "" {
		return "branch", n, true
	}
	if n, ok := strings.CutPrefix(ref, "refs/tags/"); ok && n != "" {
		return "tag", n, true
	}
	return "", "", false
}

type apiClient struct{ o EnvironmentCheck }

// list is get for a resource that must exist.
func (c apiClient) list(ctx context.Context, path string, v any) error {
	found, err := c.get(ctx, path, v)
	if err == nil && !found {
		err = fmt.Errorf("%w: GET %s: 404 Not Found", ErrEnvironmentAccess, path)
	}
	return err
}

// get decodes the JSON answer to GET path into v; found is false on 404.
func (c apiClient) get(ctx context.Context, path string, v any) (found bool, err error) {
	base := strings.TrimRight(c.o.API, "/")
	if base == "" {
		base = DefaultAPI
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrEnvironmentOptions, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	if c.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.Token)
	}
	client := c.o.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return false, fmt.Errorf("GET %s: %w", path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return false, fmt.Errorf("%w: GET %s: %s: the job needs actions: read (and contents: read) on %s: %s",
			ErrEnvironmentAccess, path, resp.Status, c.o.Repository, apiMessage(body))
	case resp.StatusCode != http.StatusOK:
		return false, fmt.Errorf("GET %s: %s: %s", path, resp.Status, apiMessage(body))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return false, fmt.Errorf("GET %s: the answer is not the JSON GitHub documents: %v", path, err)
	}
	return true, nil
}

// apiMessage is the "message" of a GitHub error answer, or its start.
func apiMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
