package scan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/anchore/grype/grype/match"
	"github.com/anchore/grype/grype/vulnerability"

	"github.com/clearcutt/clearcutt/internal/gate"
)

// normalise turns a grype match into a finding (without status).
func normalise(m match.Match, md vulnerability.MetadataProvider, idx spdxLocations, overlay bool) (Finding, error) {
	v := m.Vulnerability
	meta := v.Metadata
	if meta == nil {
		var err error
		meta, err = md.VulnerabilityMetadata(v.Reference)
		if err != nil {
			return Finding{}, fmt.Errorf("metadata of %s: %w", v.ID, err)
		}
	}
	f := Finding{
		ID:       v.ID,
		Severity: gate.Unknown.String(),
		FixedIn:  append([]string(nil), v.Fix.Versions...),
		FixState: string(v.Fix.State),
		Package: Package{
			Name:    m.Package.Name,
			Version: m.Package.Version,
			Type:    string(m.Package.Type),
			PURL:    m.Package.PURL,
		},
	}
	if f.FixState == "" {
		f.FixState = "unknown"
	}
	if meta != nil {
		if s, ok := gate.ParseSeverity(meta.Severity); ok {
			f.Severity = s.String()
		}
		f.Description = meta.Description
		f.DataSource = meta.DataSource
		for _, c := range meta.Cvss {
			if c.Vector != "" {
				f.CVSS = append(f.CVSS, c.Vector)
			}
		}
	}
	seen := map[string]bool{v.ID: true}
	for _, r := range v.RelatedVulnerabilities {
		if !seen[r.ID] {
			seen[r.ID] = true
			f.Aliases = append(f.Aliases, r.ID)
		}
	}
	sort.Strings(f.Aliases)
	for _, l := range m.Package.Locations.ToSlice() {
		f.Package.Locations = append(f.Package.Locations, l.RealPath)
	}
	if len(f.Package.Locations) == 0 {
		f.Package.Locations = append(f.Package.Locations, idx.lookup(f.Package)...)
	}
	sort.Strings(f.Package.Locations)
	for _, t := range m.Details.Types() {
		f.MatchTypes = appendUnique(f.MatchTypes, string(t))
	}
	sort.Strings(f.MatchTypes)
	f.Origin = OriginOf(f.Package, overlay)
	return f, nil
}

// OriginOf attributes a package: a pkg:nix package, or one found under
// /nix/store, belongs to the closure; anything else belongs to the base of
// an overlay image, or to the image itself when it has no base.
func OriginOf(p Package, overlay bool) Origin {
	if strings.HasPrefix(p.PURL, "pkg:nix/") || p.Type == "nix" {
		return OriginClosure
	}
	if len(p.Locations) > 0 {
		all := true
		for _, l := range p.Locations {
			if !strings.HasPrefix(l, "/nix/store/") {
				all = false
			}
		}
		if all {
			return OriginClosure
		}
	}
	if overlay {
		return OriginBase
	}
	return OriginImage
}

func appendUnique(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}
