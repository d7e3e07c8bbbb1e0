package scan

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/anchore/grype/grype"
	v6 "github.com/anchore/grype/grype/db/v6"
	"github.com/anchore/grype/grype/match"
	"github.com/anchore/grype/grype/matcher"
	"github.com/anchore/grype/grype/matcher/stock"
	"github.com/anchore/grype/grype/pkg"
	grypevex "github.com/anchore/grype/grype/vex"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/vulndb"
)

// BatchOptions configure a Batch: one database, VEX set and exception set
// for many SBOMs.
type BatchOptions struct {
	// DBDir holds the Grype v6 database (vulnerability.db).
	DBDir string
	// MaxDBAge is the oldest database accepted (DefaultMaxDBAge when zero).
	MaxDBAge time.Duration
	// AllowStaleDBUnsafe accepts a database older than MaxDBAge.
	AllowStaleDBUnsafe bool
	// Now is the time the database age and exception expiry are judged at
	// (time.Now when zero).
	Now time.Time
	// Clock times each scan for the statement metadata (time.Now when nil).
	Clock func() time.Time
	// VEX are paths of OpenVEX documents.
	VEX []string
	// Exceptions are the vulnerability exceptions, if any.
	Exceptions *Exceptions
}

// Item is one SBOM of a batch.
type Item struct {
	// SBOM is the SPDX 2.x JSON document of the platform image; SBOMPath
	// names it in errors.
	SBOM     []byte
	SBOMPath string
	Subject  Subject
	// Overlay is true for images built on a base image.
	Overlay bool
}

// BatchStats count the matching work of a batch.
type BatchStats struct {
	// Scans is the number of SBOMs scanned.
	Scans int `json:"scans"`
	// Packages is the number of packages over all SBOMs scanned.
	Packages int `json:"packages"`
	// UniquePackages is the number of distinct packages among them.
	UniquePackages int `json:"uniquePackages"`
	// Lookups is the number of matcher runs against the database; Reused
	// the number answered from an earlier run on an identical package.
	Lookups int `json:"lookups"`
	Reused  int `json:"reused"`
}

// Batch scans many SBOMs against one database. Grype's matchers run once
// per distinct package over the whole batch, so the database work grows
// with the unique packages of a fleet, not with its images; each SBOM
// still goes through grype's matching pipeline on its own (its own
// package context for VEX, its own ignore filters), VEX and exceptions are
// applied as Run applies them, and every Result equals the one Run gives
// for the same SBOM, apart from the scan times.
//
// A Batch is safe for concurrent use: SBOMs are read (grype's SPDX
// decoder, the larger part of a scan once the fleet's packages were
// matched) concurrently, while matching and the assembly of each result
// take turns, so that what the matchers see, and each result, does not
// depend on how many scans run at once.
type Batch struct {
	// mu serialises matching: the memo's packages of the SBOM being
	// matched, grype's matchers and the counters.
	mu        sync.Mutex
	opts      BatchOptions
	now       time.Time
	clock     func() time.Time
	scanner   Scanner
	stale     bool
	docs      []vexDoc
	provider  *memoProvider
	matchers  []*memoMatcher
	memo      *matchMemo
	vex       *grypevex.Processor
	scans     int
	packages  int
	uniqueSet map[packageKey]struct{}
}

// OpenBatch opens the database of opts.DBDir for a batch. It refuses a
// database older than the maximum age with ErrStaleDB unless
// AllowStaleDBUnsafe is set, and reads every VEX document, so that a bad
// one fails the batch before any SBOM is scanned.
func OpenBatch(opts BatchOptions) (*Batch, error) {
	switch {
	case opts.DBDir == "":
		return nil, fmt.Errorf("%w: no database directory", ErrInvalidOptions)
	case opts.MaxDBAge < 0:
		return nil, fmt.Errorf("%w: negative maximum database age", ErrInvalidOptions)
	}
	b := &Batch{opts: opts, now: opts.Now, clock: opts.Clock, uniqueSet: map[packageKey]struct{}{}}
	if b.now.IsZero() {
		b.now = time.Now()
	}
	if b.clock == nil {
		b.clock = time.Now
	}
	info, err := vulndb.Describe(opts.DBDir)
	if err != nil {
		return nil, err
	}
	b.scanner = Scanner{URI: "pkg:golang/" + GrypeModule + "@" + grypeVersion(), Version: grypeVersion(), DB: info}
	maxAge := opts.MaxDBAge
	if maxAge == 0 {
		maxAge = DefaultMaxDBAge
	}
	if age := b.now.Sub(info.Built); age > maxAge {
		if !opts.AllowStaleDBUnsafe {
			return nil, fmt.Errorf("%w: %s was built %s, %s ago; the maximum age is %s (update the database, or accept it with the unsafe option)",
				ErrStaleDB, info.Path, info.Built.Format(time.RFC3339), age.Round(time.Minute), maxAge)
		}
		b.stale = true
	}
	if b.docs, err = loadVEX(opts.VEX); err != nil {
		return nil, err
	}
	if err := checkVEXDates(b.docs, b.now); err != nil {
		return nil, err
	}
	if len(opts.VEX) > 0 {
		if b.vex, err = grypevex.NewProcessor(grypevex.ProcessorOptions{Documents: opts.VEX}); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidVEX, err)
		}
	}
	rdr, err := v6.NewReader(v6.Config{DBDirPath: opts.DBDir})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", vulndb.ErrNoDB, info.Path, err)
	}
	b.provider = newMemoProvider(v6.NewVulnerabilityProvider(rdr))
	b.memo = newMatchMemo()
	for _, m := range matcher.NewDefaultMatchers(matcher.Config{Stock: stock.MatcherConfig{UseCPEs: true}}) {
		b.matchers = append(b.matchers, &memoMatcher{inner: m, memo: b.memo})
	}
	return b, nil
}

// Close releases the database.
func (b *Batch) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.provider == nil {
		return nil
	}
	err := b.provider.Close()
	b.provider = nil
	return err
}

// DB describes the database of the batch.
func (b *Batch) DB() vulndb.Info { return b.scanner.DB }

// StaleDBAccepted reports whether the database is older than the maximum
// age and AllowStaleDBUnsafe accepted it.
func (b *Batch) StaleDBAccepted() bool { return b.stale }

// Stats counts the work done so far.
func (b *Batch) Stats() BatchStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.memo.mu.Lock()
	defer b.memo.mu.Unlock()
	return BatchStats{Scans: b.scans, Packages: b.packages, UniquePackages: len(b.uniqueSet),
		Lookups: b.memo.lookups, Reused: b.memo.reused}
}

// Scan matches one SBOM. Its findings, VEX and exceptions are those Run
// gives for the same SBOM and options.
//
// Scans may run concurrently; each reads its SBOM on its own and waits
// for its turn to match.
func (b *Batch) Scan(ctx context.Context, it Item) (Result, error) {
	probe := Options{SBOM: it.SBOM, SBOMPath: it.SBOMPath, Subject: it.Subject, DBDir: b.opts.DBDir}
	if err := probe.validate(); err != nil {
		return Result{}, err
	}
	res := Result{Subject: it.Subject, Scanner: b.scanner, StaleDBAccepted: b.stale, StartedOn: b.clock().UTC()}
	pkgs, pctx, _, err := pkg.ProvideFromReader(bytes.NewReader(it.SBOM), pkg.ProviderConfig{})
	if err != nil {
		return res, fmt.Errorf("%w: %s: %v", ErrInvalidSBOM, it.SBOMPath, err)
	}
	res.Packages = len(pkgs)
	idx := indexSPDX(it.SBOM)
	keys := keysOf(pkgs)

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.provider == nil {
		return Result{}, fmt.Errorf("%w: the batch is closed", ErrInvalidOptions)
	}
	b.memo.begin(pkgs, keys)
	defer b.memo.end()
	for _, k := range keys {
		b.uniqueSet[k] = struct{}{}
	}
	b.scans++
	b.packages += len(pkgs)

	// Grype's matching of a package depends on the package alone, and a
	// package no matcher returned anything for (no match, no ignore
	// filter) contributes nothing to grype's result. So the matchers see
	// each package the batch has not seen yet once, and the SBOM's result
	// is then grype's result over its packages that matchers had
	// something to say about, answered from the memo.
	vm := grype.VulnerabilityMatcher{VulnerabilityProvider: b.provider, Matchers: b.matcherList()}
	var fresh []pkg.Package
	for i, p := range pkgs {
		if !b.memo.dispatched(keys[i]) {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) > 0 {
		if _, _, err := vm.FindMatchesContext(ctx, fresh, pctx); err != nil {
			return res, fmt.Errorf("matching %s: %w", it.SBOMPath, err)
		}
		b.memo.markDispatched(keys)
	}
	var relevant []pkg.Package
	for i, p := range pkgs {
		if b.memo.relevant(keys[i]) {
			relevant = append(relevant, p)
		}
	}
	if b.vex != nil {
		vm.VexProcessor = b.vex
	}
	remaining, ignored, err := vm.FindMatchesContext(ctx, relevant, pctx)
	if err != nil {
		return res, fmt.Errorf("matching %s: %w", it.SBOMPath, err)
	}
	for _, m := range remaining.Sorted() {
		f, err := normalise(m, b.provider, idx, it.Overlay)
		if err != nil {
			return res, err
		}
		f.Status = gate.Active
		res.Findings = append(res.Findings, f)
	}
	for _, im := range ignored {
		rule, ok := vexRule(im)
		if !ok {
			continue // grype's own matcher-level suppressions, never user policy
		}
		f, err := normalise(im.Match, b.provider, idx, it.Overlay)
		if err != nil {
			return res, err
		}
		f.Status = gate.Suppressed
		f.VEX = &VEXApplied{Status: rule.VexStatus, Justification: rule.VexJustification}
		if st := findStatement(b.docs, f); st != nil {
			f.VEX.ImpactStatement = st.ImpactStatement
			if f.VEX.Justification == "" {
				f.VEX.Justification = string(st.Justification)
			}
		}
		res.Findings = append(res.Findings, f)
	}
	res.Findings = mergeFindings(res.Findings)
	sortFindings(res.Findings)
	res.applyExceptions(b.opts.Exceptions, b.now)
	res.VEX = appliedVEX(b.docs, res, b.now)
	res.FinishedOn = b.clock().UTC()
	return res, nil
}

func (b *Batch) matcherList() []match.Matcher {
	out := make([]match.Matcher, len(b.matchers))
	for i, m := range b.matchers {
		out[i] = m
	}
	return out
}
