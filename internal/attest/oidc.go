package attest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// GitHubActionsToken returns an IDTokenFunc that asks the GitHub Actions
// OIDC provider for a token with audience "sigstore": requestURL and
// bearer are the job's ACTIONS_ID_TOKEN_REQUEST_URL and
// ACTIONS_ID_TOKEN_REQUEST_TOKEN (the job needs "id-token: write").
func GitHubActionsToken(requestURL, bearer string, transport http.RoundTripper) IDTokenFunc {
	return func(ctx context.Context) (string, error) {
		if requestURL == "" || bearer == "" {
			return "", fmt.Errorf("the job has no OIDC token request URL or token (permissions: id-token: write)")
		}
		u, err := url.Parse(requestURL)
		if err != nil {
			return "", fmt.Errorf("token request URL: %w", err)
		}
		q := u.Query()
		q.Set("audience", "sigstore")
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "bearer "+bearer)
		req.Header.Set("Accept", "application/json")
		resp, err := (&http.Client{Transport: transport}).Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("token request: HTTP %d", resp.StatusCode)
		}
		var r struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.Value == "" {
			return "", fmt.Errorf("token response has no value")
		}
		return r.Value, nil
	}
}
