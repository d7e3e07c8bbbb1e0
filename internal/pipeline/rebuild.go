package pipeline

import (
	"context"
	"errors"
	"io"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/remediate"
	"github.com/clearcutt/clearcutt/internal/scan"
)

// Rebuilder rebuilds the images of a changed fleet for a remediation
// draft with the release's own stages and gates (GateImage). It
// implements remediate.Rebuilder.
type Rebuilder struct {
	// Stages are the stages used; Fleet and Nixpkgs are replaced by the
	// changed fleet's.
	Stages Stages
	// Log receives the numbered steps (nil: none).
	Log io.Writer
}

// Rebuild implements remediate.Rebuilder.
func (r Rebuilder) Rebuild(ctx context.Context, f *fleet.File, nixpkgs string, images []remediate.Rebuild) ([]remediate.Rebuilt, error) {
	st := r.Stages
	st.Fleet, st.Nixpkgs = f, nixpkgs
	total := 0
	for _, im := range images {
		total += GateSteps(len(im.Archs))
	}
	steps := NewSteps(r.Log, total, nil)
	var out []remediate.Rebuilt
	for _, im := range images {
		res, err := GateImage(ctx, st, st, im.Image, im.Archs, steps)
		if err != nil && (!errors.Is(err, outcome.ErrGateFailed) || res.Test == nil) {
			return out, err
		}
		rb := remediate.Rebuilt{Reference: res.Reference, TestsPassed: res.Test.Passed, TestFailures: res.Test.FailedChecks()}
		if res.Scan != nil {
			rb.ScanPassed, rb.ScanReasons = res.Scan.Pass, res.Scan.Reasons()
			for i, sp := range res.Scan.Platforms {
				p := remediate.RebuiltPlatform{Platform: sp.Platform, Digest: sp.Digest, Findings: CatalogFindings(sp.Result), Policy: sp.Decision.Policy}
				if res.SBOM != nil && i < len(res.SBOM.Platforms) && res.SBOM.Platforms[i].Digest == sp.Digest {
					p.SBOM = res.SBOM.Platforms[i].File
				}
				rb.Platforms = append(rb.Platforms, p)
			}
		}
		out = append(out, rb)
	}
	return out, nil
}

// CatalogFindings are a scan's findings as the catalog records them.
func CatalogFindings(res scan.Result) []catalog.Finding {
	out := make([]catalog.Finding, 0, len(res.Findings))
	for _, f := range res.Findings {
		c := catalog.Finding{ID: f.ID, Aliases: f.Aliases, Severity: f.Severity, Package: f.Package.Name, Version: f.Package.Version,
			Type: f.Package.Type, PURL: f.Package.PURL, Origin: string(f.Origin), Status: string(f.Status), FixState: f.FixState, FixedIn: f.FixedIn}
		if f.VEX != nil {
			c.VEXStatus, c.VEXJustification = f.VEX.Status, f.VEX.Justification
		}
		if f.Exception != nil {
			c.ExceptionOwner, c.ExceptionExpires = f.Exception.Owner, f.Exception.Expires
		}
		out = append(out, c)
	}
	return out
}
