package catalog

// scanPoint is the image's vulnerability state at its newest scan: the
// unique finding ids over every architecture's current scan, each counted
// once — as active if it is active on any architecture, else as excepted,
// else as suppressed — at the highest severity it has. ok is false when no
// platform has a scan.
func scanPoint(platforms []Platform) (ScanPoint, bool) {
	type state struct {
		status   string
		severity string
	}
	statusRank := map[string]int{FindingActive: 0, FindingExcepted: 1, FindingSuppressed: 2}
	ids := map[string]state{}
	var pt ScanPoint
	found := false
	for _, p := range platforms {
		v := p.Vulnerabilities
		if v == nil {
			continue
		}
		if !found || v.ScanTime.After(pt.ScanTime) {
			pt.ScanTime, pt.DBBuiltAt = v.ScanTime, v.DBBuiltAt
		}
		found = true
		for _, f := range v.Findings {
			s, seen := ids[f.ID]
			if !seen {
				ids[f.ID] = state{f.Status, f.Severity}
				continue
			}
			if statusRank[f.Status] < statusRank[s.status] {
				s.status = f.Status
			}
			if severityRank(f.Severity) < severityRank(s.severity) {
				s.severity = f.Severity
			}
			ids[f.ID] = s
		}
	}
	if !found {
		return ScanPoint{}, false
	}
	for _, s := range ids {
		switch s.status {
		case FindingSuppressed:
			pt.Suppressed++
		case FindingExcepted:
			pt.Excepted++
		default:
			pt.Active.add(s.severity)
		}
	}
	return pt, true
}

// extendHistory returns prev (copied) with pt appended when pt's scan is
// newer than the last point.
func extendHistory(prev []ScanPoint, pt ScanPoint, ok bool) []ScanPoint {
	out := append([]ScanPoint{}, prev...)
	if !ok {
		return out
	}
	if n := len(out); n > 0 && !pt.ScanTime.After(out[n-1].ScanTime) {
		return out
	}
	return append(out, pt)
}
