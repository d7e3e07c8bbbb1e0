package cli

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/stage"
)

// openIndex resolves a by-digest reference to its image index (see
// stage.OpenIndex).
func openIndex(ctx context.Context, s, base string) (oci.Ref, v1.ImageIndex, error) {
	return stage.OpenIndex(ctx, s, base)
}
