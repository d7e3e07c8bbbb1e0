package closure

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/clearcutt/clearcutt/internal/nixcmd"
)

// AddSource adds the flake directory dir to the Nix store as Nix itself
// adds a path: input when it fetches it (named "source", the directory's
// NAR, nothing filtered out), and returns the store path. A build whose
// input names that store path reads it from the store as it is: Nix hashes
// a path: input that is a directory on every evaluation, and a store path
// not at all, so a package set used by many builds is hashed once. The
// store path is the one Nix would have made of dir, so the derivations,
// and everything built, are the same.
func AddSource(ctx context.Context, nix nixcmd.Nix, dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	out, err := nix.Run(ctx, "", nil, "store", "add-path", "--name", "source", abs)
	if err != nil {
		return "", fmt.Errorf("adding %s to the Nix store: %w", abs, err)
	}
	p := strings.TrimSpace(string(out))
	if !strings.HasPrefix(p, "/nix/store/") || !strings.HasSuffix(p, "-source") || strings.ContainsAny(p, "\n ") {
		return "", fmt.Errorf("adding %s to the Nix store: unexpected answer %q", abs, out)
	}
	return p, nil
}
