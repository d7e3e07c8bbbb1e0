package sbom

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/anchore/syft/syft"
	"github.com/anchore/syft/syft/format/common/spdxhelpers"
	"github.com/anchore/syft/syft/source"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/spdx/tools-golang/spdx"

	// The SQLite driver Syft's Nix database cataloger opens (grype
	// registers the same one: never link modernc.org/sqlite beside it).
	_ "github.com/glebarez/sqlite"
)

// catalog runs Syft on img (through a temporary OCI layout under tmpDir)
// and returns its SPDX 2.3 model: the model Syft's spdxjson encoder
// writes.
func catalog(ctx context.Context, img v1.Image, name, tmpDir string) (*spdx.Document, error) {
	dir, err := os.MkdirTemp(tmpDir, "clearcutt-sbom-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, err
	}
	if err := p.AppendImage(img); err != nil {
		return nil, fmt.Errorf("writing the image for syft: %w", err)
	}
	src, err := syft.GetSource(ctx, dir, syft.DefaultGetSourceConfig().
		WithSources("oci-dir").
		WithAlias(source.Alias{Name: name}))
	if err != nil {
		return nil, fmt.Errorf("syft: %w", err)
	}
	defer src.Close()
	s, err := syft.CreateSBOM(ctx, src, syft.DefaultCreateSBOMConfig().WithTool("clearcutt", ""))
	if err != nil {
		return nil, fmt.Errorf("syft: %w", err)
	}
	doc := spdxhelpers.ToFormatModel(*s)
	if doc == nil {
		return nil, fmt.Errorf("syft: no SPDX model")
	}
	return doc, nil
}

// syftVersion is the version of the Syft module linked in.
func syftVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/anchore/syft" {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
}
