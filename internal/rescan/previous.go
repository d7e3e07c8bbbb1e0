package rescan

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/scan"
)

// previousScan is what a verified vulns/v0.2 predicate says: when the
// scan ran and which findings were active.
type previousScan struct {
	at     time.Time
	active map[string]bool
}

// readPrevious decodes the predicate of a verified scan.
func readPrevious(predicate json.RawMessage) (*previousScan, error) {
	var p struct {
		Scanner struct {
			Result []struct {
				ID          string           `json:"id"`
				Annotations []map[string]any `json:"annotations"`
			} `json:"result"`
		} `json:"scanner"`
		Metadata struct {
			ScanStartedOn  *time.Time `json:"scanStartedOn"`
			ScanFinishedOn *time.Time `json:"scanFinishedOn"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(predicate, &p); err != nil {
		return nil, fmt.Errorf("previous scan: %w", err)
	}
	out := &previousScan{active: map[string]bool{}}
	switch {
	case p.Metadata.ScanFinishedOn != nil:
		out.at = *p.Metadata.ScanFinishedOn
	case p.Metadata.ScanStartedOn != nil:
		out.at = *p.Metadata.ScanStartedOn
	}
	for _, r := range p.Scanner.Result {
		status := string(gate.Active)
		var name, version string
		if len(r.Annotations) > 0 {
			a := r.Annotations[0]
			if s, ok := a["status"].(string); ok {
				status = s
			}
			name, _ = a["package"].(string)
			version, _ = a["version"].(string)
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
