package rescan

import (
	"fmt"
	"sort"
	"time"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/vulns"
)

// previousScan is what a verified vulns/v0.2 predicate says: when the
// scan ran and which findings were active.
type previousScan struct {
	at     time.Time
	active map[string]bool
}

// readPrevious decodes the predicate (of type predicateType) of a
// verified scan.
func readPrevious(predicateType string, predicate []byte) (*previousScan, error) {
	p, err := vulns.Decode(predicateType, predicate)
	if err != nil {
		return nil, fmt.Errorf("previous scan: %w", err)
	}
	out := &previousScan{active: map[string]bool{}}
	out.at, _ = p.ScanTime()
	for _, r := range p.Scanner.Result {
		status := string(gate.Active)
		var name, version string
		if len(r.Annotations) > 0 {
			a := r.Annotations[0]
			if s, ok := a[vulns.AnnotationStatus].(string); ok {
				status = s
			}
			name, _ = a[vulns.AnnotationPackage].(string)
			version, _ = a[vulns.AnnotationVersion].(string)
		}
		if status == string(gate.Active) {
			out.active[findingKey(r.ID, name, version)] = true
		}
	}
	return out, nil
}

func findingKey(id, pkg, version string) string { return id + "\x00" + pkg + "\x00" + version }

// newFindings are the ids of the active findings of now that prev did not
// have active (all active ids when prev is nil), sorted and unique.
func newFindings(now []scan.Finding, prev *previousScan) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, f := range now {
		if f.Status != gate.Active {
			continue
		}
		if prev != nil && prev.active[findingKey(f.ID, f.Package.Name, f.Package.Version)] {
			continue
		}
		if !seen[f.ID] {
			seen[f.ID] = true
			out = append(out, f.ID)
		}
	}
	sort.Strings(out)
	return out
}
