package site

import (
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/closure"
)

// An image page shows what its architectures share once, and what differs
// apart: a finding, a pruning list or a scrub report the architectures
// agree on is shown once, named for every architecture it is true of.

// archRef names one architecture of an image and links to its row in the
// page's table of architectures.
type archRef struct {
	// Label is the platform without its OS when that is linux (arm64/v8).
	Label  string
	Anchor string
}

// archSet is the architectures a value shown once is true of.
type archSet struct {
	Arches []archRef
	// All is true when it is every architecture of the image.
	All bool
}

// scrubGroup is a scrub report, or its absence, and the architectures
// whose images it describes.
type scrubGroup struct {
	archSet
	Scrub *closure.Scrub
}

// pruningGroup is a list of pruning candidates and the architectures it
// is the list of.
type pruningGroup struct {
	archSet
	Candidates []catalog.PruningCandidate
}

// scanGroup is a scan summary (nil: no scan to read) and the architectures
// whose scans it summarises.
type scanGroup struct {
	archSet
	Scan *scanSummary
}

// scanSummary is what a scan's summary line says.
type scanSummary struct {
	ScanTime  time.Time
	DBBuiltAt *time.Time
	// Active, Suppressed and Excepted count the scan's findings.
	Active, Suppressed, Excepted int
}

// findingRow is one finding and the architectures whose scans reported it.
type findingRow struct {
	catalog.Finding
	archSet
	// PURLs are the package URLs of the architectures when they differ
	// (a Nix package's purl carries its store path's hash, which differs
	// per architecture); Finding.PURL is then empty. One purl shared by
	// every reporting architecture stays in Finding.PURL.
	PURLs []archPURL
}

// archPURL is the purl one architecture reported a finding's package as.
type archPURL struct {
	Arch archRef
	PURL string
}

// archLabel is how a platform is named beside what is true of it.
func archLabel(platform string) string { return strings.TrimPrefix(platform, "linux/") }

// archRefs names each platform of an image, with the anchor of its row.
func archRefs(ps []platformView) []archRef {
	out := make([]archRef, len(ps))
	for i, p := range ps {
		out[i] = archRef{Label: archLabel(p.P.Platform), Anchor: p.Anchor}
	}
	return out
}

// groupBy puts the platforms whose key is equal (reflect.DeepEqual) in one
// group, in the order each key first appears.
func groupBy[K any](refs []archRef, keys []K) ([]K, []archSet) {
	var ks []K
	var sets []archSet
	for i, k := range keys {
		j := slices.IndexFunc(ks, func(o K) bool { return reflect.DeepEqual(o, k) })
		if j < 0 {
			ks, sets = append(ks, k), append(sets, archSet{})
			j = len(ks) - 1
		}
		sets[j].Arches = append(sets[j].Arches, refs[i])
	}
	for j := range sets {
		sets[j].All = len(sets[j].Arches) == len(refs)
	}
	return ks, sets
}

func scrubGroups(refs []archRef, ps []catalog.Platform) []scrubGroup {
	keys := make([]*closure.Scrub, len(ps))
	for i, p := range ps {
		keys[i] = p.Scrub
	}
	ks, sets := groupBy(refs, keys)
	out := make([]scrubGroup, len(ks))
	for i := range ks {
		out[i] = scrubGroup{archSet: sets[i], Scrub: ks[i]}
	}
	return out
}

func pruningGroups(refs []archRef, ps []catalog.Platform) []pruningGroup {
	keys := make([][]catalog.PruningCandidate, len(ps))
	for i, p := range ps {
		// No list and an empty one say the same: none.
		if len(p.PruningCandidates) > 0 {
			keys[i] = p.PruningCandidates
		}
	}
	ks, sets := groupBy(refs, keys)
	out := make([]pruningGroup, len(ks))
	for i := range ks {
		out[i] = pruningGroup{archSet: sets[i], Candidates: ks[i]}
	}
	return out
}

func scanGroups(refs []archRef, ps []catalog.Platform) []scanGroup {
	keys := make([]*scanSummary, len(ps))
	for i, p := range ps {
		if v := p.Vulnerabilities; v != nil {
			keys[i] = &scanSummary{ScanTime: v.ScanTime.UTC(), DBBuiltAt: utcPtr(v.DBBuiltAt),
				Active: severityTotal(v.Active), Suppressed: severityTotal(v.Suppressed), Excepted: severityTotal(v.Excepted)}
		}
	}
	ks, sets := groupBy(refs, keys)
	out := make([]scanGroup, len(ks))
	for i := range ks {
		out[i] = scanGroup{archSet: sets[i], Scan: ks[i]}
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// findingRows are the findings of every architecture's scan, each once,
// with the architectures that reported it: two findings are one when
// every field but the purl agrees, so a finding an architecture reports
// differently (another version, status or fix) is shown for each, and
// purls that differ per architecture are listed by architecture. They are
// sorted by severity, then id.
func findingRows(refs []archRef, ps []catalog.Platform) []findingRow {
	var rows []findingRow
	for i, p := range ps {
		if p.Vulnerabilities == nil {
			continue
		}
		for _, f := range p.Vulnerabilities.Findings {
			key := f
			key.PURL = ""
			j := slices.IndexFunc(rows, func(r findingRow) bool { return reflect.DeepEqual(r.Finding, key) })
			if j < 0 {
				rows = append(rows, findingRow{Finding: key})
				j = len(rows) - 1
			}
			if a := rows[j].Arches; len(a) == 0 || a[len(a)-1] != refs[i] {
				rows[j].Arches = append(rows[j].Arches, refs[i])
			}
			if f.PURL != "" && !slices.Contains(rows[j].PURLs, archPURL{refs[i], f.PURL}) {
				rows[j].PURLs = append(rows[j].PURLs, archPURL{refs[i], f.PURL})
			}
		}
	}
	for j := range rows {
		r := &rows[j]
		r.All = len(r.Arches) == len(refs)
		if len(r.PURLs) > 0 && len(r.PURLs) == len(r.Arches) && !slices.ContainsFunc(r.PURLs, func(p archPURL) bool { return p.PURL != r.PURLs[0].PURL }) {
			r.PURL, r.PURLs = r.PURLs[0].PURL, nil
		}
	}
	rank := func(sev string) int {
		if i := slices.Index(severities, strings.ToLower(sev)); i >= 0 {
			return i
		}
		return len(severities)
	}
	slices.SortStableFunc(rows, func(a, b findingRow) int {
		if ra, rb := rank(a.Severity), rank(b.Severity); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.ID, b.ID)
	})
	return rows
}

// packageGroup is a package count of a verified SBOM (nil: no verified
// SBOM) and the architectures whose SBOMs it counts. Unlisted is true when
// the catalog counts packages but does not list them (it predates the
// list).
type packageGroup struct {
	archSet
	packageCount
}

type packageCount struct {
	Packages *int
	Unlisted bool
}

// listsPackages reports whether the catalog lists the packages of a
// platform's verified SBOM.
func listsPackages(p catalog.Platform) bool {
	return p.Packages != nil && (*p.Packages == 0 || len(p.PackageList) > 0)
}

// packageRow is one package, by name, version and license, and the
// architectures whose verified SBOMs list it. Entries is how many times
// each of their SBOMs lists it (a Nix package's outputs, such as openssl
// and its bin, are one package each).
type packageRow struct {
	Name, Version, License string
	Entries                int
	archSet
}

func packageGroups(refs []archRef, ps []catalog.Platform) []packageGroup {
	keys := make([]packageCount, len(ps))
	for i, p := range ps {
		keys[i] = packageCount{Packages: p.Packages, Unlisted: p.Packages != nil && !listsPackages(p)}
	}
	ks, sets := groupBy(refs, keys)
	out := make([]packageGroup, len(ks))
	for i := range ks {
		out[i] = packageGroup{archSet: sets[i], packageCount: ks[i]}
	}
	return out
}

// packageRows are the packages of every architecture's verified SBOM, each
// once, with the architectures that list it: All when every architecture
// whose packages the catalog lists does. A package an architecture lists in another
// version, under another license or another number of times is a row for
// each. They are sorted by name, then version.
func packageRows(refs []archRef, ps []catalog.Platform) []packageRow {
	type key struct {
		Name, Version, License string
		Entries                int
	}
	var rows []packageRow
	index := map[key]int{}
	listed := 0
	for i, p := range ps {
		if !listsPackages(p) {
			continue
		}
		listed++
		var keys []key
		n := map[key]int{}
		for _, pk := range p.PackageList {
			k := key{Name: pk.Name, Version: pk.Version, License: pk.License}
			if n[k] == 0 {
				keys = append(keys, k)
			}
			n[k]++
		}
		for _, k := range keys {
			k.Entries = n[k]
			j, ok := index[k]
			if !ok {
				rows = append(rows, packageRow{Name: k.Name, Version: k.Version, License: k.License, Entries: k.Entries})
				j = len(rows) - 1
				index[k] = j
			}
			rows[j].Arches = append(rows[j].Arches, refs[i])
		}
	}
	for j := range rows {
		rows[j].All = len(rows[j].Arches) == listed
	}
	slices.SortStableFunc(rows, func(a, b packageRow) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.Version, b.Version); c != 0 {
			return c
		}
		if c := strings.Compare(a.License, b.License); c != 0 {
			return c
		}
		return a.Entries - b.Entries
	})
	return rows
}
