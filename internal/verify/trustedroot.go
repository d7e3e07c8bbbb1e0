package verify

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"

	"github.com/clearcutt/clearcutt/internal/fsutil"
)

// publicGoodTrustedRoot is the pinned public-good Sigstore trusted root
// (see README.md beside it for origin and date).
//
//go:embed trusted_root.json
var publicGoodTrustedRoot []byte

// PublicGoodTrustedRoot returns the pinned public-good trusted root shipped
// with the tool.
func PublicGoodTrustedRoot() (*root.TrustedRoot, error) {
	tr, err := root.NewTrustedRootFromJSON(publicGoodTrustedRoot)
	if err != nil {
		return nil, fmt.Errorf("embedded trusted_root.json: %w", err)
	}
	return tr, nil
}

// LoadTrustedRoot reads a trusted_root.json file (--trusted-root FILE).
func LoadTrustedRoot(path string) (*root.TrustedRoot, error) {
	js, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: trusted root: %v", ErrInvalidOptions, err)
	}
	tr, err := root.NewTrustedRootFromJSON(js)
	if err != nil {
		return nil, fmt.Errorf("%w: trusted root %s: %v", ErrInvalidOptions, path, err)
	}
	return tr, nil
}

// RefreshTrustedRoot fetches the current public-good trusted root through
// Sigstore's TUF repository (network required), caching TUF metadata in
// cacheDir, and writes it to cacheDir/trusted_root.json (temp + rename).
// It returns that path. Offline it fails; the embedded root stays usable.
func RefreshTrustedRoot(ctx context.Context, cacheDir string) (string, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	opts := tuf.DefaultOptions().WithCachePath(filepath.Join(cacheDir, "tuf")).WithContext(ctx)
	c, err := tuf.New(opts)
	if err != nil {
		return "", fmt.Errorf("TUF client: %w", err)
	}
	js, err := c.GetTarget("trusted_root.json")
	if err != nil {
		return "", fmt.Errorf("TUF target trusted_root.json: %w", err)
	}
	if _, err := root.NewTrustedRootFromJSON(js); err != nil {
		return "", fmt.Errorf("TUF trusted_root.json: %w", err)
	}
	dst := filepath.Join(cacheDir, "trusted_root.json")
	if err := fsutil.WriteFileAtomic(dst, js, 0o600); err != nil {
		return "", err
	}
	return dst, nil
}
