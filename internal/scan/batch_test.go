package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anchore/grype/grype/match"
	"github.com/anchore/grype/grype/pkg"
	"github.com/anchore/grype/grype/vulnerability"
	syftPkg "github.com/anchore/syft/syft/pkg"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func subjectOf(name, hexByte string) Subject {
	return Subject{Name: name, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(hexByte, 32)}}
}

// comparable is a result without its scan times.
func comparable(t *testing.T, r Result) string {
	t.Helper()
	r.StartedOn, r.FinishedOn = time.Time{}, time.Time{}
	js, err := json.MarshalIndent(struct {
		Result
		VEX *AppliedVEX
	}{r, r.VEX}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}

// TestBatchEqualsRunPerSBOM scans SBOMs that share most of their packages
// (an image, its overlay variant on a Debian base, the same image under
// another digest and with other SPDX element ids, and one with a fixed
// python3) in one batch, with the fleet's VEX and an exceptions file that
// has an active, an expired and an unused exception. Every result must be
// the one Run gives for the same SBOM, and the matchers must have run only
// for packages the batch had not seen.
func TestBatchEqualsRunPerSBOM(t *testing.T) {
	db := testDB(t, dbBuilt)
	exc, err := ParseExceptions("exceptions.yaml", []byte(`apiVersion: clearcutt.dev/v1alpha1
kind: VulnerabilityExceptions
exceptions:
  - {id: CVE-2023-45853, package: zlib, owner: sec@example.com, reason: minizip not shipped, expires: 2027-06-30}
  - {id: CVE-2010-4756, package: pkg:nix/glibc, owner: sec@example.com, reason: glob DoS, expires: 2026-01-31}
  - {id: CVE-2099-0001, package: openssl, owner: sec@example.com, reason: unused, expires: 2027-06-30}
`))
	if err != nil {
		t.Fatal(err)
	}
	closure := readFile(t, "testdata/python-closure.spdx.json")
	overlay := readFile(t, "testdata/python-overlay.spdx.json")
	renamed := []byte(strings.ReplaceAll(string(closure), "SPDXRef-Package-", "SPDXRef-Package-other-"))
	fixed := []byte(strings.ReplaceAll(string(closure), "3.11.2", "3.11.9"))
	items := []Item{
		{SBOM: closure, SBOMPath: "closure", Subject: subjectOf("python:distroless", "a1")},
		{SBOM: overlay, SBOMPath: "overlay", Subject: subjectOf("python-debian:distroless", "b2"), Overlay: true},
		{SBOM: closure, SBOMPath: "closure again", Subject: subjectOf("python:slim", "c3")},
		{SBOM: renamed, SBOMPath: "renamed", Subject: subjectOf("python:dev", "d4")},
		{SBOM: fixed, SBOMPath: "fixed", Subject: subjectOf("python:next", "e5")},
	}
	vex := repoVEX(t)
	b, err := OpenBatch(BatchOptions{DBDir: db, Now: scanNow, Clock: fixedClock(), VEX: vex, Exceptions: exc})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var lookups []int
	for _, it := range items {
		got, err := b.Scan(context.Background(), it)
		if err != nil {
			t.Fatalf("%s: %v", it.SBOMPath, err)
		}
		lookups = append(lookups, b.Stats().Lookups)
		want, err := Run(context.Background(), Options{SBOM: it.SBOM, SBOMPath: it.SBOMPath, Subject: it.Subject, Overlay: it.Overlay,
			DBDir: db, Now: scanNow, Clock: fixedClock(), VEX: vex, Exceptions: exc})
		if err != nil {
			t.Fatal(err)
		}
		if g, w := comparable(t, got), comparable(t, want); g != w {
			t.Errorf("%s: batch result differs from Run:\nbatch: %s\nrun:   %s", it.SBOMPath, g, w)
		}
		if len(got.Findings) == 0 {
			t.Errorf("%s: no findings", it.SBOMPath)
		}
	}
	// The results exercise what they should: VEX, both exceptions, base
	// origin, and the fixed python3 has no CVE-2023-40217.
	first, _ := b.Scan(context.Background(), items[1])
	statuses := map[string]string{}
	for _, f := range first.Findings {
		statuses[f.ID+" "+f.Package.Name+" "+string(f.Origin)] = string(f.Status)
	}
	for k, v := range map[string]string{
		"CVE-2023-4911 glibc closure":   "suppressed",
		"CVE-2023-45853 zlib closure":   "excepted",
		"CVE-2010-4756 glibc closure":   "active",
		"CVE-2023-52426 libexpat1 base": "active",
	} {
		if statuses[k] != v {
			t.Errorf("overlay finding %q is %q, want %q (all: %v)", k, statuses[k], v, statuses)
		}
	}
	last, _ := b.Scan(context.Background(), items[4])
	for _, f := range last.Findings {
		if f.ID == "CVE-2023-40217" {
			t.Errorf("python3 3.11.9 matched %s", f.ID)
		}
	}

	// Matcher runs: the first SBOM pays for its packages, the overlay for
	// its new ones, the same image again and its renamed copy for none,
	// the fixed one for python3 only.
	if lookups[0] == 0 || lookups[1] <= lookups[0] {
		t.Fatalf("lookups after each scan: %v", lookups)
	}
	if lookups[2] != lookups[1] || lookups[3] != lookups[2] {
		t.Errorf("an SBOM of packages already matched ran matchers again: lookups %v", lookups)
	}
	if lookups[4] <= lookups[3] {
		t.Errorf("a changed package did not run the matchers: lookups %v", lookups)
	}
	st := b.Stats()
	if st.Scans != 7 || st.UniquePackages >= st.Packages || st.Reused == 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestBatchRefusesStaleDBAndBadInput(t *testing.T) {
	db := testDB(t, dbBuilt)
	if _, err := OpenBatch(BatchOptions{DBDir: db, Now: dbBuilt.Add(DefaultMaxDBAge + time.Hour)}); !errors.Is(err, ErrStaleDB) {
		t.Fatalf("stale database: err = %v, want ErrStaleDB", err)
	}
	b, err := OpenBatch(BatchOptions{DBDir: db, Now: dbBuilt.Add(DefaultMaxDBAge + time.Hour), AllowStaleDBUnsafe: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !b.StaleDBAccepted() {
		t.Error("stale database accepted without saying so")
	}
	res, err := b.Scan(context.Background(), Item{SBOM: readFile(t, "testdata/python-closure.spdx.json"), SBOMPath: "closure", Subject: subject})
	if err != nil || !res.StaleDBAccepted {
		t.Fatalf("scan with an accepted stale database: %v, staleDBAccepted=%v", err, res.StaleDBAccepted)
	}
	if _, err := b.Scan(context.Background(), Item{SBOM: []byte(`{"spdxVersion":"SPDX-3.0"}`), SBOMPath: "x.json", Subject: subject}); !errors.Is(err, ErrInvalidSBOM) {
		t.Fatalf("SPDX 3 document: err = %v, want ErrInvalidSBOM", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:nix/x"}], "status": "not_affected"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBatch(BatchOptions{DBDir: db, Now: scanNow, VEX: []string{bad}}); !errors.Is(err, ErrInvalidVEX) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("VEX statement without justification: err = %v, want ErrInvalidVEX naming %s", err, bad)
	}
}

// TestPackageKey: identical packages have one key whatever their id;
// any field a matcher reads changes it.
func TestPackageKey(t *testing.T) {
	closure := readFile(t, "testdata/python-closure.spdx.json")
	base := map[string]packageKey{}
	for _, p := range providePackages(t, closure) {
		base[p.Name] = keyOf(p)
	}
	renamed := providePackages(t, []byte(strings.ReplaceAll(string(closure), "SPDXRef-Package-", "SPDXRef-Package-other-")))
	for _, p := range renamed {
		if keyOf(p) != base[p.Name] {
			t.Errorf("%s: the key changed with the SPDX element id", p.Name)
		}
	}
	for _, mutate := range []struct{ what, from, to string }{
		{"version", `"versionInfo": "3.11.2"`, `"versionInfo": "3.11.3"`},
		{"cpe", "cpe:2.3:a:python:python:3.11.2", "cpe:2.3:a:python_software_foundation:python:3.11.2"},
		{"purl qualifier", "outputhash=8y0s1qhbh4sqf66nwvnxvyqv45xb7rrz", "outputhash=0000000000000000000000000000000z"},
	} {
		if !strings.Contains(string(closure), mutate.from) {
			t.Fatalf("%s: %q is not in the fixture", mutate.what, mutate.from)
		}
		for _, p := range providePackages(t, []byte(strings.Replace(string(closure), mutate.from, mutate.to, 1))) {
			if p.Name == "python3" && keyOf(p) == base["python3"] {
				t.Errorf("changing the %s of python3 kept its key", mutate.what)
			}
		}
	}
}

func providePackages(t *testing.T, doc []byte) []pkg.Package {
	t.Helper()
	pkgs, _, _, err := pkg.ProvideFromReader(bytes.NewReader(doc), pkg.ProviderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 {
		t.Fatal("no packages")
	}
	return pkgs
}

// countingMatcher answers every package with one match on it and an
// ownership ignore filter naming it, plus extra filters, and counts calls.
type countingMatcher struct {
	calls int
	extra []match.IgnoreFilter
}

func (c *countingMatcher) PackageTypes() []syftPkg.Type { return []syftPkg.Type{syftPkg.PythonPkg} }
func (c *countingMatcher) Type() match.MatcherType      { return match.PythonMatcher }
func (c *countingMatcher) Match(_ vulnerability.Provider, p pkg.Package) ([]match.Match, []match.IgnoreFilter, error) {
	c.calls++
	m := match.Match{Vulnerability: vulnerability.Vulnerability{Reference: vulnerability.Reference{ID: "CVE-2024-0001"}}, Package: p}
	ign := append([]match.IgnoreFilter{match.IgnoreRelatedPackage{VulnerabilityID: "CVE-2024-0001", RelatedPackageID: p.ID}}, c.extra...)
	return []match.Match{m}, ign, nil
}

// TestMemoRetargetsAnswers: an answer remembered for one package is given
// to an identical package with another id, naming that package; an answer
// the memo cannot re-target makes the matcher run again.
func TestMemoRetargetsAnswers(t *testing.T) {
	a := pkg.Package{ID: "a", Name: "requests", Version: "2.25.0", Type: syftPkg.PythonPkg, PURL: "pkg:pypi/requests@2.25.0"}
	b := a
	b.ID = "b"
	memo := newMatchMemo()
	inner := &countingMatcher{}
	mm := &memoMatcher{inner: inner, memo: memo}
	if _, _, err := mm.Match(nil, a); err != nil {
		t.Fatal(err)
	}
	ms, ign, err := mm.Match(nil, b)
	if err != nil || inner.calls != 1 {
		t.Fatalf("identical package: %d matcher calls, err %v", inner.calls, err)
	}
	if len(ms) != 1 || ms[0].Package.ID != "b" {
		t.Errorf("re-targeted match names %q", ms[0].Package.ID)
	}
	if r, ok := ign[0].(match.IgnoreRelatedPackage); !ok || r.RelatedPackageID != "b" {
		t.Errorf("re-targeted ignore filter %+v", ign[0])
	}
	c := a
	c.Version = "2.31.0"
	if _, _, err := mm.Match(nil, c); err != nil || inner.calls != 2 {
		t.Errorf("another version: %d matcher calls, err %v", inner.calls, err)
	}

	other := &countingMatcher{extra: []match.IgnoreFilter{opaqueFilter{}}}
	mo := &memoMatcher{inner: other, memo: newMatchMemo()}
	_, _, _ = mo.Match(nil, a)
	if _, _, _ = mo.Match(nil, b); other.calls != 2 {
		t.Errorf("an answer with a filter the memo cannot re-target was reused (%d calls)", other.calls)
	}
	if _, _, _ = mo.Match(nil, a); other.calls != 3 {
		t.Errorf("%d calls", other.calls)
	}
}

type opaqueFilter struct{}

func (opaqueFilter) IgnoreMatch(match.Match) []match.IgnoreRule { return nil }

// TestBatchConcurrentEqualsRunPerSBOM scans a fleet of SBOMs that share
// most of their packages from several goroutines at once, each SBOM under
// its own subject, and compares every result with Run's for the same
// SBOM alone: sharing the matchers' work and reading SBOMs concurrently
// change no finding, VEX statement or exception of any image. The
// matchers run once per distinct package whatever the interleaving.
func TestBatchConcurrentEqualsRunPerSBOM(t *testing.T) {
	db := testDB(t, dbBuilt)
	exc, err := ParseExceptions("exceptions.yaml", []byte(`apiVersion: clearcutt.dev/v1alpha1
kind: VulnerabilityExceptions
exceptions:
  - {id: CVE-2023-45853, package: zlib, owner: sec@example.com, reason: minizip not shipped, expires: 2027-06-30}
`))
	if err != nil {
		t.Fatal(err)
	}
	closure := readFile(t, "testdata/python-closure.spdx.json")
	overlay := readFile(t, "testdata/python-overlay.spdx.json")
	fixed := []byte(strings.ReplaceAll(string(closure), "3.11.2", "3.11.9"))
	docs := []struct {
		sbom    []byte
		overlay bool
	}{{closure, false}, {overlay, true}, {fixed, false}}
	var items []Item
	for i := range 12 {
		d := docs[i%len(docs)]
		items = append(items, Item{SBOM: d.sbom, SBOMPath: fmt.Sprintf("sbom %d", i), Overlay: d.overlay,
			Subject: subjectOf(fmt.Sprintf("image%02d:distroless", i), fmt.Sprintf("%02x", i))})
	}
	vex := repoVEX(t)
	b, err := OpenBatch(BatchOptions{DBDir: db, Now: scanNow, Clock: fixedClock(), VEX: vex, Exceptions: exc})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make([]Result, len(items))
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = b.Scan(context.Background(), it)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, it := range items {
		want, err := Run(context.Background(), Options{SBOM: it.SBOM, SBOMPath: it.SBOMPath, Subject: it.Subject, Overlay: it.Overlay,
			DBDir: db, Now: scanNow, Clock: fixedClock(), VEX: vex, Exceptions: exc})
		if err != nil {
			t.Fatal(err)
		}
		if g, w := comparable(t, got[i]), comparable(t, want); g != w {
			t.Errorf("%s: concurrent batch result differs from Run:\nbatch: %s\nrun:   %s", it.SBOMPath, g, w)
		}
		if len(got[i].Findings) == 0 {
			t.Errorf("%s: no findings", it.SBOMPath)
		}
	}

	// The same SBOMs one at a time in a new batch: the same matcher work.
	seq, err := OpenBatch(BatchOptions{DBDir: db, Now: scanNow, Clock: fixedClock(), VEX: vex, Exceptions: exc})
	if err != nil {
		t.Fatal(err)
	}
	defer seq.Close()
	for _, it := range items {
		if _, err := seq.Scan(context.Background(), it); err != nil {
			t.Fatal(err)
		}
	}
	if c, s := b.Stats(), seq.Stats(); c != s {
		t.Errorf("concurrent stats %+v, one at a time %+v", c, s)
	}
}
