package stage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/scan"
)

// Evidence file names of a platform's scan.
const (
	VulnsFile = "vulns.json"
	VEXFile   = "vex.json"
)

// GateOptions override the vulnerability gate of the fleet file.
type GateOptions struct {
	// FailOn replaces vulnerabilities.failOn ("": the fleet's).
	FailOn string
	// OnlyFixable narrows the gate to findings with a known fix (or'ed
	// with vulnerabilities.onlyFixable).
	OnlyFixable bool
	// MaxDBAge replaces vulnerabilities.maxDBAge (0: the fleet's).
	MaxDBAge time.Duration
}

// ScanOptions say where a scan's inputs and evidence are.
type ScanOptions struct {
	Gate GateOptions
	// DB is the Grype v6 vulnerability database directory.
	DB string
	// Evidence is where SBOMs are read from and statements written to.
	Evidence string
	// VEXDir is the directory of OpenVEX documents ("": vex/ next to the
	// fleet file, if present).
	VEXDir string
	// Exceptions is the exceptions file ("": exceptions.yaml next to the
	// fleet file, if present).
	Exceptions string
	// AllowStaleDBUnsafe accepts a database older than the maximum age
	// (the result records it).
	AllowStaleDBUnsafe bool
	Progress           Progress
}

// ScanPlatform is one platform's scan and gate decision.
type ScanPlatform struct {
	Platform   string            `json:"platform"`
	Digest     string            `json:"digest"`
	Overlay    bool              `json:"overlay"`
	Result     scan.Result       `json:"result"`
	Decision   gate.Decision     `json:"decision"`
	Statements map[string]string `json:"statements"`
}

// ScanReport is the scans of every platform of an image index.
type ScanReport struct {
	Image      string         `json:"image"`
	Reference  string         `json:"reference"`
	Pass       bool           `json:"pass"`
	VEX        []string       `json:"vex"`
	Exceptions string         `json:"exceptions,omitempty"`
	Platforms  []ScanPlatform `json:"platforms"`
}

// Reasons lists why the gate failed, "platform: reason" each, separated by
// "; ".
func (r ScanReport) Reasons() string {
	var out []string
	for _, p := range r.Platforms {
		for _, reason := range p.Decision.Reasons {
			out = append(out, p.Platform+": "+reason)
		}
	}
	return strings.Join(out, "; ")
}

// Scan matches each platform's SBOM (written by SBOM) against the
// vulnerability database, applies the VEX documents and the exceptions,
// decides the gate and writes vulns.json (in-toto vulns/v0.2) and vex.json
// next to the SBOM. A failed gate is Pass false, not an error.
func Scan(ctx context.Context, f *fleet.File, refStr string, o ScanOptions) (ScanReport, error) {
	failOn, onlyFixable, err := GatePolicy(f, o.Gate.FailOn, o.Gate.OnlyFixable)
	if err != nil {
		return ScanReport{}, err
	}
	maxDBAge, _ := MaxAges(f, o.Gate.MaxDBAge, 0)
	vexPaths, err := VEXDocuments(f, o.VEXDir)
	if err != nil {
		return ScanReport{}, err
	}
	exc, excPath, err := LoadExceptions(f, o.Exceptions)
	if err != nil {
		return ScanReport{}, err
	}
	ref, idx, err := OpenIndex(ctx, refStr, "")
	if err != nil {
		return ScanReport{}, err
	}
	plats, err := PlatformImages(ref, idx)
	if err != nil {
		return ScanReport{}, err
	}
	prog := ProgressOf(o.Progress)
	rep := ScanReport{Reference: ref.String(), Pass: true, VEX: vexPaths, Exceptions: excPath}
	now := time.Now().UTC()
	for _, p := range plats {
		d := p.Desc
		labels := p.Config.Config.Labels
		rep.Image = labels[oci.LabelRuntime] + ":" + labels[oci.LabelTier]
		sbomPath := filepath.Join(EvidenceDir(o.Evidence, d.Digest), SBOMFile)
		sbom, err := os.ReadFile(sbomPath)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return rep, outcome.UsageError{Err: fmt.Errorf("%s (%s): no SBOM at %s: run 'clearcutt sbom' first", d.Digest, d.Platform, sbomPath)}
			}
			return rep, err
		}
		overlay := labels[oci.LabelBaseDigest] != ""
		update, done := prog.Status(fmt.Sprintf("scan %s %s", rep.Image, d.Platform.Architecture))
		res, err := scan.Run(ctx, scan.Options{
			SBOM:               sbom,
			SBOMPath:           sbomPath,
			Subject:            scan.Subject{Name: rep.Image, Digest: d.Digest},
			Overlay:            overlay,
			DBDir:              o.DB,
			MaxDBAge:           maxDBAge,
			AllowStaleDBUnsafe: o.AllowStaleDBUnsafe,
			Now:                now,
			VEX:                vexPaths,
			Exceptions:         exc,
			Progress:           update,
		})
		done()
		if err != nil {
			if errors.Is(err, scan.ErrInvalidSBOM) {
				return rep, outcome.UsageError{Err: err}
			}
			return rep, fmt.Errorf("%s (%s): %w", d.Digest, d.Platform, err)
		}
		dec := res.Decide(gate.Policy{FailOn: failOn, OnlyFixable: onlyFixable, Now: now})
		sp := ScanPlatform{Platform: d.Platform.String(), Digest: d.Digest.String(), Overlay: overlay, Result: res, Decision: dec, Statements: map[string]string{}}
		vulns, err := res.StatementJSON()
		if err != nil {
			return rep, err
		}
		vex, err := res.VEXStatementJSON()
		if err != nil {
			return rep, err
		}
		for name, data := range map[string][]byte{VulnsFile: vulns, VEXFile: vex} {
			path, err := WriteEvidence(o.Evidence, d.Digest, name, data)
			if err != nil {
				return rep, err
			}
			sp.Statements[name] = path
		}
		if !dec.Pass {
			rep.Pass = false
		}
		rep.Platforms = append(rep.Platforms, sp)
	}
	return rep, nil
}

// FleetVulnerabilities is the fleet's vulnerability gate, or the defaults
// without a fleet file.
func FleetVulnerabilities(f *fleet.File) fleet.Vulnerabilities {
	if f != nil {
		return f.Vulnerabilities
	}
	return fleet.Vulnerabilities{FailOn: fleet.DefaultFailOn, MaxDBAge: fleet.DefaultMaxDBAge, MaxScanAge: fleet.DefaultMaxScanAge}
}

// GatePolicy is the vulnerability gate of the fleet file (f may be nil:
// the defaults), with failOn replacing its threshold and onlyFixable
// narrowing it.
func GatePolicy(f *fleet.File, failOn string, onlyFixable bool) (gate.Severity, bool, error) {
	v := FleetVulnerabilities(f)
	what, name := "--fail-on", failOn
	if name == "" {
		name = v.FailOn
		if f != nil {
			what = f.Path + ": vulnerabilities.failOn"
		}
	}
	sev, err := gate.ParseFailOn(name)
	if err != nil {
		return 0, false, outcome.UsageError{Err: fmt.Errorf("%s %w", what, err)}
	}
	return sev, v.OnlyFixable || onlyFixable, nil
}

// MaxAges are the fleet file's maximum database and scan ages, each
// replaced by its override when positive.
func MaxAges(f *fleet.File, maxDB, maxScan time.Duration) (time.Duration, time.Duration) {
	db, sc := FleetVulnerabilities(f).Ages()
	if maxDB > 0 {
		db = maxDB
	}
	if maxScan > 0 {
		sc = maxScan
	}
	return db, sc
}

// VEXDocuments lists the OpenVEX documents (*.json) of dir, or of vex/
// next to the fleet file when dir is empty and that directory exists.
func VEXDocuments(f *fleet.File, dir string) ([]string, error) {
	explicit := dir != ""
	if !explicit {
		dir = filepath.Join(f.Dir, "vex")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, outcome.UsageError{Err: fmt.Errorf("--vex-dir: %w", err)}
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// LoadExceptions reads path, or exceptions.yaml next to the fleet file
// when path is empty and that file exists (nil, "": none).
func LoadExceptions(f *fleet.File, path string) (*scan.Exceptions, string, error) {
	if path == "" {
		path = filepath.Join(f.Dir, "exceptions.yaml")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil
		}
	}
	x, err := scan.LoadExceptions(path)
	if err != nil {
		return nil, "", outcome.UsageError{Err: err}
	}
	return x, path, nil
}
