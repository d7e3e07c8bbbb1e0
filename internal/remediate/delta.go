package remediate

import (
	"sort"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/gate"
)

// DeltaFinding is a vulnerability of a package in one image, before or
// after a change.
type DeltaFinding struct {
	ID       string `json:"id"`
	Package  string `json:"package"`
	Severity string `json:"severity"`
	// Before and After are the versions carrying it ("" where it is not).
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Status is its status after the change ("" when it is gone).
	Status string `json:"status,omitempty"`
}

// VEXChange is a VEX statement that stopped or started applying.
type VEXChange struct {
	ID            string `json:"id"`
	Package       string `json:"package"`
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
	// Before and After are the versions it applied to, or that carry the
	// vulnerability ("" where none does).
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Now says what happened: "vulnerability no longer present",
	// "no longer covers the new version", or "applies".
	Now string `json:"now"`
}

// Delta is the vulnerability change of one image.
type Delta struct {
	// Fixed were active before and are not after.
	Fixed []DeltaFinding `json:"fixed"`
	// StillActive are active before and after.
	StillActive []DeltaFinding `json:"stillActive"`
	// New are active after and were not before.
	New []DeltaFinding `json:"new"`
	// VEXRetired are statements that applied before and do not after;
	// VEXAdded apply only after.
	VEXRetired []VEXChange `json:"vexRetired"`
	VEXAdded   []VEXChange `json:"vexAdded"`
}

type fkey struct{ id, pkg string }

type fstate struct {
	f       catalog.Finding
	version string
}

// index keeps one finding per (id, package), preferring an active one.
func index(fs []catalog.Finding) map[fkey]fstate {
	out := map[fkey]fstate{}
	for _, f := range fs {
		_, name := packageOf(f)
		k := fkey{f.ID, name}
		prev, ok := out[k]
		if !ok || (prev.f.Status != string(gate.Active) && f.Status == string(gate.Active)) {
			out[k] = fstate{f: f, version: f.Version}
		}
	}
	return out
}

// CompareFindings is the delta between an image's findings before a change
// and after it, each over the same platforms (those rebuilt).
func CompareFindings(before, after []catalog.Finding) Delta {
	b, a := index(before), index(after)
	d := Delta{Fixed: []DeltaFinding{}, StillActive: []DeltaFinding{}, New: []DeltaFinding{}, VEXRetired: []VEXChange{}, VEXAdded: []VEXChange{}}
	all := map[fkey]bool{}
	for k := range b {
		all[k] = true
	}
	for k := range a {
		all[k] = true
	}
	active := func(s fstate, ok bool) bool { return ok && s.f.Status == string(gate.Active) }
	suppressed := func(s fstate, ok bool) bool { return ok && s.f.Status == string(gate.Suppressed) }
	for k := range all {
		bs, bok := b[k]
		as, aok := a[k]
		df := DeltaFinding{ID: k.id, Package: k.pkg, Before: bs.version, After: as.version, Status: as.f.Status}
		df.Severity = bs.f.Severity
		if aok {
			df.Severity = as.f.Severity
		}
		switch {
		case active(bs, bok) && !active(as, aok):
			d.Fixed = append(d.Fixed, df)
		case active(bs, bok) && active(as, aok):
			d.StillActive = append(d.StillActive, df)
		case !active(bs, bok) && active(as, aok):
			d.New = append(d.New, df)
		}
		switch {
		case suppressed(bs, bok) && !aok:
			d.VEXRetired = append(d.VEXRetired, vexChange(k, bs.f, bs.version, "", "vulnerability no longer present"))
		case suppressed(bs, bok) && !suppressed(as, aok):
			d.VEXRetired = append(d.VEXRetired, vexChange(k, bs.f, bs.version, as.version, "no longer covers the new version"))
		case !suppressed(bs, bok) && suppressed(as, aok):
			d.VEXAdded = append(d.VEXAdded, vexChange(k, as.f, bs.version, as.version, "applies"))
		}
	}
	for _, l := range [][]DeltaFinding{d.Fixed, d.StillActive, d.New} {
		sortDelta(l)
	}
	for _, l := range [][]VEXChange{d.VEXRetired, d.VEXAdded} {
		sort.Slice(l, func(i, j int) bool {
			if l[i].ID != l[j].ID {
				return l[i].ID < l[j].ID
			}
			return l[i].Package < l[j].Package
		})
	}
	return d
}

func vexChange(k fkey, f catalog.Finding, before, after, now string) VEXChange {
	return VEXChange{ID: k.id, Package: k.pkg, Status: f.VEXStatus, Justification: f.VEXJustification, Before: before, After: after, Now: now}
}

func sortDelta(l []DeltaFinding) {
	sort.Slice(l, func(i, j int) bool {
		si, _ := gate.ParseSeverity(l[i].Severity)
		sj, _ := gate.ParseSeverity(l[j].Severity)
		if si != sj {
			return si > sj
		}
		if l[i].ID != l[j].ID {
			return l[i].ID < l[j].ID
		}
		return l[i].Package < l[j].Package
	})
}
