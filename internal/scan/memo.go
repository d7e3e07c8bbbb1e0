package scan

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/anchore/grype/grype/distro"
	"github.com/anchore/grype/grype/match"
	"github.com/anchore/grype/grype/pkg"
	"github.com/anchore/grype/grype/vulnerability"
	syftPkg "github.com/anchore/syft/syft/pkg"
)

// packageKey identifies a package by everything a matcher can read: every
// field of grype's package value (name, version, type, language, PURL,
// CPEs, distro, upstreams, metadata, locations, annotations and related
// packages), followed through pointers and interfaces, except the package
// ID, which names the package within one SBOM.
type packageKey [sha256.Size]byte

var (
	packageType  = reflect.TypeOf(pkg.Package{})
	packageIDTyp = reflect.TypeOf(pkg.ID(""))
)

func keyOf(p pkg.Package) packageKey {
	var e keyEncoder
	e.value(reflect.ValueOf(p), 0)
	return sha256.Sum256(e.buf.Bytes())
}

// keyEncoder writes an unambiguous encoding of a value: kinds and lengths
// are framed, map entries sorted by their encoding, and pointers followed
// (a pointer back into the value being encoded is written as a marker, so
// that package relationships that form a cycle still encode).
type keyEncoder struct {
	buf  bytes.Buffer
	path []uintptr
}

const maxKeyDepth = 64

func (e *keyEncoder) uint(n uint64) {
	var b [binary.MaxVarintLen64]byte
	e.buf.Write(b[:binary.PutUvarint(b[:], n)])
}

func (e *keyEncoder) str(s string) {
	e.uint(uint64(len(s)))
	e.buf.WriteString(s)
}

func (e *keyEncoder) value(v reflect.Value, depth int) {
	if depth > maxKeyDepth {
		e.buf.WriteByte('!')
		return
	}
	if !v.IsValid() {
		e.buf.WriteByte('0')
		return
	}
	e.buf.WriteByte(byte(v.Kind()))
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			e.buf.WriteByte(1)
		} else {
			e.buf.WriteByte(0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.uint(uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uint(v.Uint())
	case reflect.Float32, reflect.Float64:
		e.uint(math.Float64bits(v.Float()))
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		e.uint(math.Float64bits(real(c)))
		e.uint(math.Float64bits(imag(c)))
	case reflect.String:
		e.str(v.String())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			e.buf.WriteByte('n')
			return
		}
		e.uint(uint64(v.Len()))
		for i := 0; i < v.Len(); i++ {
			e.value(v.Index(i), depth+1)
		}
	case reflect.Map:
		if v.IsNil() {
			e.buf.WriteByte('n')
			return
		}
		entries := make([][]byte, 0, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			sub := keyEncoder{path: e.path}
			sub.value(iter.Key(), depth+1)
			sub.value(iter.Value(), depth+1)
			entries = append(entries, sub.buf.Bytes())
		}
		slices.SortFunc(entries, bytes.Compare)
		e.uint(uint64(len(entries)))
		for _, en := range entries {
			e.uint(uint64(len(en)))
			e.buf.Write(en)
		}
	case reflect.Pointer:
		if v.IsNil() {
			e.buf.WriteByte('n')
			return
		}
		ptr := v.Pointer()
		for i, p := range e.path {
			if p == ptr {
				e.buf.WriteByte('c')
				e.uint(uint64(len(e.path) - i))
				return
			}
		}
		e.path = append(e.path, ptr)
		e.value(v.Elem(), depth+1)
		e.path = e.path[:len(e.path)-1]
	case reflect.Interface:
		if v.IsNil() {
			e.buf.WriteByte('n')
			return
		}
		e.str(v.Elem().Type().String())
		e.value(v.Elem(), depth+1)
	case reflect.Struct:
		t := v.Type()
		e.str(t.PkgPath() + "." + t.Name())
		for i := 0; i < v.NumField(); i++ {
			f := t.Field(i)
			if t == packageType && f.Type == packageIDTyp {
				continue // the package's ID within its SBOM
			}
			e.str(f.Name)
			e.value(v.Field(i), depth+1)
		}
	default:
		// Functions, channels and unsafe pointers carry no matching input.
		e.str(v.Type().String())
	}
}

// matchMemo remembers what each matcher returned for each distinct package.
type matchMemo struct {
	mu      sync.Mutex
	results map[memoKey]*memoResult
	// seen are the packages grype has dispatched to its matchers;
	// answered those that any matcher returned something for.
	seen     map[packageKey]bool
	answered map[packageKey]bool
	// current holds the keys of the packages of the SBOM being scanned.
	current map[pkg.ID]packageKey
	lookups int
	reused  int
}

type memoKey struct {
	matcher match.MatcherType
	pkg     packageKey
}

// memoResult is one matcher's answer for one package, p.ID being the
// package it was computed for.
type memoResult struct {
	id      pkg.ID
	matches []match.Match
	ignores []match.IgnoreFilter
	err     error
}

func newMatchMemo() *matchMemo {
	return &matchMemo{results: map[memoKey]*memoResult{}, seen: map[packageKey]bool{}, answered: map[packageKey]bool{}}
}

// dispatched reports whether grype has run its matchers on package k.
func (m *matchMemo) dispatched(k packageKey) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[k]
}

// markDispatched records that grype has run its matchers on packages ks.
func (m *matchMemo) markDispatched(ks []packageKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range ks {
		m.seen[k] = true
	}
}

// relevant reports whether a matcher returned a match, an ignore filter or
// an error for package k.
func (m *matchMemo) relevant(k packageKey) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.answered[k]
}

// keysOf computes the keys of the packages of one SBOM; it reads nothing
// of the memo, so scans compute their keys concurrently.
func keysOf(pkgs []pkg.Package) []packageKey {
	keys := make([]packageKey, 0, len(pkgs))
	for _, p := range pkgs {
		keys = append(keys, keyOf(p))
	}
	return keys
}

// begin makes pkgs, whose keys are keys, the packages of the SBOM being
// matched.
func (m *matchMemo) begin(pkgs []pkg.Package, keys []packageKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.current = make(map[pkg.ID]packageKey, len(pkgs))
	for i, p := range pkgs {
		m.current[p.ID] = keys[i]
	}
}

func (m *matchMemo) end() {
	m.mu.Lock()
	m.current = nil
	m.mu.Unlock()
}

// match answers from the memo when an identical package was matched
// before, else runs inner.
func (m *matchMemo) match(inner match.Matcher, vp vulnerability.Provider, p pkg.Package) ([]match.Match, []match.IgnoreFilter, error) {
	m.mu.Lock()
	k, ok := m.current[p.ID]
	if !ok {
		k = keyOf(p)
	}
	mk := memoKey{matcher: inner.Type(), pkg: k}
	if r, ok := m.results[mk]; ok {
		if ms, ign, ok := r.retarget(p); ok {
			m.reused++
			m.mu.Unlock()
			return ms, ign, r.err
		}
	}
	m.mu.Unlock()

	ms, ign, err := inner.Match(vp, p)
	if match.IsFatalError(err) {
		return ms, ign, err
	}
	r := &memoResult{id: p.ID, matches: cloneMatches(ms), ignores: slices.Clone(ign), err: err}
	m.mu.Lock()
	m.lookups++
	m.results[mk] = r
	if len(ms) > 0 || len(ign) > 0 || err != nil {
		m.answered[k] = true
	}
	m.mu.Unlock()
	return ms, ign, err
}

// retarget is the remembered answer for p, an identical package that may
// carry another ID: matches name p, and ownership ignore filters that
// named the original package name p. It declines (false) when the answer
// refers to its package in a way it cannot re-target, and the matcher then
// runs again.
func (r *memoResult) retarget(p pkg.Package) ([]match.Match, []match.IgnoreFilter, bool) {
	ms := cloneMatches(r.matches)
	for i := range ms {
		if ms[i].Package.ID != r.id {
			return nil, nil, false
		}
		ms[i].Package = p
	}
	var ign []match.IgnoreFilter
	for _, f := range r.ignores {
		switch v := f.(type) {
		case match.IgnoreRule:
			ign = append(ign, v)
		case match.IgnoreRelatedPackage:
			if v.RelatedPackageID == r.id {
				v.RelatedPackageID = p.ID
			}
			ign = append(ign, v)
		default:
			return nil, nil, false
		}
	}
	return ms, ign, true
}

func cloneMatches(ms []match.Match) []match.Match {
	if ms == nil {
		return nil
	}
	out := make([]match.Match, len(ms))
	for i, m := range ms {
		m.Details = slices.Clone(m.Details)
		out[i] = m
	}
	return out
}

// memoMatcher is a grype matcher whose answers are remembered per
// distinct package.
type memoMatcher struct {
	inner match.Matcher
	memo  *matchMemo
}

func (m *memoMatcher) PackageTypes() []syftPkg.Type { return m.inner.PackageTypes() }
func (m *memoMatcher) Type() match.MatcherType      { return m.inner.Type() }
func (m *memoMatcher) Match(vp vulnerability.Provider, p pkg.Package) ([]match.Match, []match.IgnoreFilter, error) {
	return m.memo.match(m.inner, vp, p)
}

// memoProvider remembers vulnerability metadata per reference.
type memoProvider struct {
	vulnerability.Provider
	mu   sync.Mutex
	meta map[[2]string]*vulnerability.Metadata
}

func newMemoProvider(p vulnerability.Provider) *memoProvider {
	return &memoProvider{Provider: p, meta: map[[2]string]*vulnerability.Metadata{}}
}

// VulnerabilityMetadata implements vulnerability.MetadataProvider.
func (p *memoProvider) VulnerabilityMetadata(ref vulnerability.Reference) (*vulnerability.Metadata, error) {
	k := [2]string{ref.ID, ref.Namespace}
	p.mu.Lock()
	m, ok := p.meta[k]
	p.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := p.Provider.VulnerabilityMetadata(ref) //nolint:staticcheck // normalise reads metadata through it
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.meta[k] = m
	p.mu.Unlock()
	return m, nil
}

// GetOperatingSystemEOL implements vulnerability.EOLChecker for the
// matchers that consult it, with the database's answer when it has one.
func (p *memoProvider) GetOperatingSystemEOL(d *distro.Distro) (eolDate, eoasDate *time.Time, err error) {
	if c, ok := p.Provider.(vulnerability.EOLChecker); ok {
		return c.GetOperatingSystemEOL(d)
	}
	return nil, nil, nil
}
