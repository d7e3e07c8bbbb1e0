package vulndb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	v6 "github.com/anchore/grype/grype/db/v6"
	"gorm.io/gorm"
)

// DefaultProvider is the provider recorded for advisories without one.
const DefaultProvider = "clearcutt"

// Build writes a Grype v6 database holding advs to dir/vulnerability.db with
// Grype's own v6 writer, and records builtAt as the database build time (what
// grype reports and what scans compare against their maximum DB age). The
// file appears whole or not at all.
func Build(ctx context.Context, dir string, advs []Advisory, builtAt time.Time) error {
	return (&File{APIVersion: APIVersion, Kind: Kind, Provider: DefaultProvider, Advisories: advs}).Build(ctx, dir, builtAt)
}

// Build writes the advisories of f; see Build.
func (f *File) Build(ctx context.Context, dir string, builtAt time.Time) error {
	if builtAt.IsZero() {
		return errors.New("vulndb: build time is required")
	}
	for i, a := range f.Advisories {
		if err := a.validate(); err != nil {
			return fmt.Errorf("%w: advisories[%d]: %v", ErrInvalidAdvisories, i, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := write(ctx, tmp, f, builtAt.UTC().Round(time.Second)); err != nil {
		return err
	}
	// Recreate the indexes the writer drops, as grype's installer does after an import.
	if err := v6.Hydrater()(tmp); err != nil {
		return fmt.Errorf("vulndb: hydrating: %w", err)
	}
	return os.Rename(filepath.Join(tmp, v6.VulnerabilityDBFileName), filepath.Join(dir, v6.VulnerabilityDBFileName))
}

func write(ctx context.Context, dir string, f *File, builtAt time.Time) (err error) {
	w, err := v6.NewWriter(v6.Config{DBDirPath: dir})
	if err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	defer func() {
		if cerr := w.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("vulndb: closing: %w", cerr)
		}
	}()
	provider := f.Provider
	if provider == "" {
		provider = DefaultProvider
	}
	prov := &v6.Provider{ID: provider, Version: "1", Processor: "clearcutt vulndb", DateCaptured: &builtAt, InputDigest: "none"}
	for _, a := range f.Advisories {
		if err := ctx.Err(); err != nil {
			return err
		}
		vh := vulnerability(a, prov, builtAt)
		if err := w.AddVulnerabilities(vh); err != nil {
			return fmt.Errorf("vulndb: %s: %w", a.ID, err)
		}
		for _, af := range a.Affected {
			blob := &v6.PackageBlob{Ranges: []v6.Range{affectedRange(af)}}
			if af.CPE != "" {
				c, _ := parseCPE(af.CPE)
				if err := w.AddAffectedCPEs(&v6.AffectedCPEHandle{Vulnerability: vh,
					CPE: &v6.Cpe{Part: c.part, Vendor: c.vendor, Product: c.product}, BlobValue: blob}); err != nil {
					return fmt.Errorf("vulndb: %s: %w", a.ID, err)
				}
				continue
			}
			ph := &v6.AffectedPackageHandle{Vulnerability: vh,
				Package: &v6.Package{Ecosystem: af.Ecosystem, Name: af.Name}, BlobValue: blob}
			if af.Distro != "" {
				name, major, _ := splitDistro(af.Distro)
				ph.OperatingSystem = &v6.OperatingSystem{Name: name, ReleaseID: name, MajorVersion: major}
			}
			if err := w.AddAffectedPackages(ph); err != nil {
				return fmt.Errorf("vulndb: %s: %w", a.ID, err)
			}
		}
	}
	return setBuildTime(w, builtAt)
}

func vulnerability(a Advisory, prov *v6.Provider, builtAt time.Time) *v6.VulnerabilityHandle {
	sev := []v6.Severity{{Scheme: v6.SeveritySchemeCHMLN, Value: strings.ToLower(a.Severity), Source: prov.ID, Rank: 1}}
	if a.CVSS != "" {
		version := ""
		if v, _, ok := strings.Cut(strings.TrimPrefix(a.CVSS, "CVSS:"), "/"); ok && strings.HasPrefix(a.CVSS, "CVSS:") {
			version = v
		}
		sev = append(sev, v6.Severity{Scheme: v6.SeveritySchemeCVSS, Value: v6.CVSSSeverity{Vector: a.CVSS, Version: version}, Source: prov.ID, Rank: 2})
	}
	var refs []v6.Reference
	for _, u := range a.URLs {
		refs = append(refs, v6.Reference{URL: u})
	}
	published := builtAt
	if a.Published != "" {
		published, _ = time.Parse(time.DateOnly, a.Published)
	}
	return &v6.VulnerabilityHandle{
		Name: a.ID, ProviderID: prov.ID, Provider: prov, Status: v6.VulnerabilityActive,
		PublishedDate: &published, ModifiedDate: &builtAt,
		BlobValue: &v6.VulnerabilityBlob{ID: a.ID, Description: a.Description, Aliases: a.Aliases, References: refs, Severities: sev},
	}
}

// versionTypes maps an ecosystem to grype's version format; others compare fuzzily.
var versionTypes = map[string]string{
	"python": "python", "pypi": "python", "deb": "deb", "rpm": "rpm", "apk": "apk",
	"go": "go", "golang": "go", "npm": "semver", "java": "maven", "maven": "maven", "gem": "gem",
}

func affectedRange(af Affected) v6.Range {
	r := v6.Range{Version: v6.Version{Type: versionTypes[af.Ecosystem], Constraint: af.Constraint}}
	state := v6.FixStatus(af.FixState)
	switch {
	case af.Fixed != "":
		r.Fix = &v6.Fix{Version: af.Fixed, State: v6.FixedStatus}
	case state == v6.WontFixStatus:
		r.Fix = &v6.Fix{State: v6.WontFixStatus}
	default:
		r.Fix = &v6.Fix{State: v6.NotFixedStatus}
	}
	return r
}

// setBuildTime replaces the build time the writer stamped with builtAt.
func setBuildTime(w v6.ReadWriter, builtAt time.Time) error {
	g, ok := w.(interface{ GetDB() *gorm.DB })
	if !ok {
		return errors.New("vulndb: the grype v6 writer does not expose its database")
	}
	res := g.GetDB().Model(&v6.DBMetadata{}).Where("true").Update("build_timestamp", builtAt)
	if res.Error != nil {
		return fmt.Errorf("vulndb: setting the build time: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("vulndb: setting the build time: %d metadata rows", res.RowsAffected)
	}
	return nil
}
