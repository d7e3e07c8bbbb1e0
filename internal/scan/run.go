package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/anchore/grype/grype"
	v6 "github.com/anchore/grype/grype/db/v6"
	"github.com/anchore/grype/grype/match"
	"github.com/anchore/grype/grype/matcher"
	"github.com/anchore/grype/grype/matcher/stock"
	"github.com/anchore/grype/grype/pkg"
	grypevex "github.com/anchore/grype/grype/vex"
	openvex "github.com/openvex/go-vex/pkg/vex"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/vulndb"
)

// GrypeModule is the Go module of the matcher.
const GrypeModule = "github.com/anchore/grype"

// Run scans opts.SBOM against the database in opts.DBDir. It refuses a
// database older than the maximum age with ErrStaleDB unless
// AllowStaleDBUnsafe is set. Findings covered by a VEX statement with
// status not_affected or fixed are reported as suppressed, and findings
// covered by an active exception as excepted; neither is dropped.
func Run(ctx context.Context, opts Options) (Result, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if err := opts.validate(); err != nil {
		return Result{}, err
	}
	res := Result{Subject: opts.Subject, StartedOn: clock().UTC()}

	info, err := vulndb.Describe(opts.DBDir)
	if err != nil {
		return res, err
	}
	res.Scanner = Scanner{URI: "pkg:golang/" + GrypeModule + "@" + grypeVersion(), Version: grypeVersion(), DB: info}
	maxAge := opts.MaxDBAge
	if maxAge == 0 {
		maxAge = DefaultMaxDBAge
	}
	if age := now.Sub(info.Built); age > maxAge {
		if !opts.AllowStaleDBUnsafe {
			return res, fmt.Errorf("%w: %s was built %s, %s ago; the maximum age is %s (update the database, or accept it with the unsafe option)",
				ErrStaleDB, info.Path, info.Built.Format(time.RFC3339), age.Round(time.Minute), maxAge)
		}
		res.StaleDBAccepted = true
	}

	docs, err := loadVEX(opts.VEX)
	if err != nil {
		return res, err
	}
	if err := checkVEXDates(docs, now); err != nil {
		return res, err
	}

	progress("reading SBOM")
	pkgs, pctx, _, err := pkg.ProvideFromReader(bytes.NewReader(opts.SBOM), pkg.ProviderConfig{})
	if err != nil {
		return res, fmt.Errorf("%w: %s: %v", ErrInvalidSBOM, opts.SBOMPath, err)
	}
	res.Packages = len(pkgs)

	rdr, err := v6.NewReader(v6.Config{DBDirPath: opts.DBDir})
	if err != nil {
		return res, fmt.Errorf("%w: %s: %v", vulndb.ErrNoDB, info.Path, err)
	}
	provider := v6.NewVulnerabilityProvider(rdr)
	defer provider.Close()
	vm := grype.VulnerabilityMatcher{
		VulnerabilityProvider: provider,
		Matchers:              matcher.NewDefaultMatchers(matcher.Config{Stock: stock.MatcherConfig{UseCPEs: true}}),
	}
	if len(opts.VEX) > 0 {
		vp, err := grypevex.NewProcessor(grypevex.ProcessorOptions{Documents: opts.VEX})
		if err != nil {
			return res, fmt.Errorf("%w: %v", ErrInvalidVEX, err)
		}
		vm.VexProcessor = vp
	}
	progress(fmt.Sprintf("matching %d packages", len(pkgs)))
	remaining, ignored, err := vm.FindMatchesContext(ctx, pkgs, pctx)
	if err != nil {
		return res, fmt.Errorf("matching %s: %w", opts.SBOMPath, err)
	}

	idx := indexSPDX(opts.SBOM)
	for _, m := range remaining.Sorted() {
		f, err := normalise(m, provider, idx, opts.Overlay)
		if err != nil {
			return res, err
		}
		f.Status = gate.Active
		if st := imageStatement(docs, opts.Subject, f); st != nil && (st.Status == openvex.StatusNotAffected || st.Status == openvex.StatusFixed) {
			f.Status = gate.Suppressed
			f.VEX = &VEXApplied{Status: string(st.Status), Justification: string(st.Justification), ImpactStatement: st.ImpactStatement}
		}
		res.Findings = append(res.Findings, f)
	}
	for _, im := range ignored {
		rule, ok := vexRule(im)
		if !ok {
			continue // grype's own matcher-level suppressions, never user policy
		}
		f, err := normalise(im.Match, provider, idx, opts.Overlay)
		if err != nil {
			return res, err
		}
		f.Status = gate.Suppressed
		f.VEX = &VEXApplied{Status: rule.VexStatus, Justification: rule.VexJustification}
		if st := findStatement(docs, f); st != nil {
			f.VEX.ImpactStatement = st.ImpactStatement
			if f.VEX.Justification == "" {
				f.VEX.Justification = string(st.Justification)
			}
		}
		res.Findings = append(res.Findings, f)
	}
	res.Findings = mergeFindings(res.Findings)
	sortFindings(res.Findings)
	res.applyExceptions(opts.Exceptions, now)
	res.VEX = appliedVEX(docs, res, now)
	res.FinishedOn = clock().UTC()
	return res, nil
}

func (o Options) validate() error {
	switch {
	case len(o.SBOM) == 0:
		return fmt.Errorf("%w: no SBOM", ErrInvalidOptions)
	case o.Subject.Digest.Hex == "" || o.Subject.Digest.Algorithm == "":
		return fmt.Errorf("%w: subject has no digest", ErrInvalidOptions)
	case o.DBDir == "":
		return fmt.Errorf("%w: no database directory", ErrInvalidOptions)
	case o.MaxDBAge < 0:
		return fmt.Errorf("%w: negative maximum database age", ErrInvalidOptions)
	}
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
	}
	if err := json.Unmarshal(o.SBOM, &doc); err != nil {
		return fmt.Errorf("%w: %s: not JSON: %v", ErrInvalidSBOM, o.SBOMPath, err)
	}
	if !strings.HasPrefix(doc.SPDXVersion, "SPDX-2.") {
		return fmt.Errorf("%w: %s: spdxVersion is %q, want an SPDX 2.x JSON document", ErrInvalidSBOM, o.SBOMPath, doc.SPDXVersion)
	}
	return nil
}

func vexRule(im match.IgnoredMatch) (match.IgnoreRule, bool) {
	for _, r := range im.AppliedIgnoreRules {
		if r.Namespace == "vex" || r.VexStatus != "" {
			return r, true
		}
	}
	return match.IgnoreRule{}, false
}

// applyExceptions marks findings covered by an active exception as
// excepted and records expired and unused exceptions.
func (r *Result) applyExceptions(x *Exceptions, now time.Time) {
	if x == nil {
		return
	}
	used := make([]bool, len(x.Exceptions))
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Status == gate.Suppressed {
			continue
		}
		ids := append([]string{f.ID}, f.Aliases...)
		for j, e := range x.Exceptions {
			if !e.matches(ids, f.Package.Name, f.Package.PURL) {
				continue
			}
			used[j] = true
			a := applied(e, now)
			f.Exception = &a
			if !a.Expired {
				f.Status = gate.Excepted
				break
			}
		}
	}
	for j, e := range x.Exceptions {
		a := applied(e, now)
		switch {
		case a.Expired:
			r.ExpiredExceptions = append(r.ExpiredExceptions, a)
		case !used[j]:
			r.UnusedExceptions = append(r.UnusedExceptions, a)
		}
	}
}

func applied(e Exception, now time.Time) ExceptionApplied {
	return ExceptionApplied{ID: e.ID, Package: e.Package, Owner: e.Owner, Reason: e.Reason, Expires: e.Expires,
		Expired: gate.Exception{Expires: e.expires}.Expired(now), Where: e.Where}
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		sa, _ := gate.ParseSeverity(a.Severity)
		sb, _ := gate.ParseSeverity(b.Severity)
		if sa != sb {
			return sa > sb
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Package.Name != b.Package.Name {
			return a.Package.Name < b.Package.Name
		}
		if a.Package.Version != b.Package.Version {
			return a.Package.Version < b.Package.Version
		}
		return a.Package.PURL < b.Package.PURL
	})
}

// grypeRequired is the grype version go.mod requires. Test binaries carry
// no module information, so it stands in for it there; a test keeps it in
// step with go.mod.
const grypeRequired = "v0.121.2"

// grypeVersion is the version of the grype module linked into this binary.
func grypeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == GrypeModule {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return grypeRequired
}

// loadVEX reads every OpenVEX document, so that a malformed one is an error
// naming its file rather than a silently empty suppression list.
func loadVEX(paths []string) ([]vexDoc, error) {
	var out []vexDoc
	for _, p := range paths {
		d, err := openvex.Load(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidVEX, p, err)
		}
		for i := range d.Statements {
			if err := d.Statements[i].Validate(); err != nil {
				return nil, fmt.Errorf("%w: %s: statements[%d]: %v", ErrInvalidVEX, p, i, err)
			}
		}
		out = append(out, vexDoc{path: p, doc: d})
	}
	return out, nil
}

// mergeFindings folds the matches grype reports once per matching record
// (say a CPE row and a nix row of the same advisory) into one finding per
// vulnerability and package.
func mergeFindings(fs []Finding) []Finding {
	var out []Finding
	at := map[string]int{}
	for _, f := range fs {
		k := f.ID + "\x00" + f.Package.Type + "\x00" + f.Package.Name + "\x00" + f.Package.Version + "\x00" + f.Package.PURL
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, f)
			continue
		}
		m := &out[i]
		for _, v := range f.FixedIn {
			m.FixedIn = appendUnique(m.FixedIn, v)
		}
		for _, v := range f.MatchTypes {
			m.MatchTypes = appendUnique(m.MatchTypes, v)
		}
		for _, v := range f.Aliases {
			m.Aliases = appendUnique(m.Aliases, v)
		}
		sort.Strings(m.FixedIn)
		sort.Strings(m.MatchTypes)
		sort.Strings(m.Aliases)
		if m.Status == gate.Active && f.Status == gate.Suppressed {
			// A VEX statement covers the vulnerability in this package,
			// whichever record grype matched it through.
			m.Status, m.VEX = f.Status, f.VEX
		}
		if m.FixState != "fixed" && f.FixState == "fixed" {
			m.FixState = f.FixState
		}
	}
	return out
}
