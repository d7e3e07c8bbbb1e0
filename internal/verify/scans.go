package verify

import (
	"fmt"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/vulns"
)

// ClockSkew is how far in the future a time claimed by signed evidence
// may lie (the signer's clock against the verifier's) before the evidence
// is refused.
const ClockSkew = 5 * time.Minute

// AnnotationExceptionExpired is the result annotation that is true when
// the matching exception had expired at scan time.
const AnnotationExceptionExpired = vulns.AnnotationExceptionExpired

// scan is one verified vulnerability statement, judged.
type scan struct {
	v verified
	// at is the time the scan claims to have finished.
	at      time.Time
	dbBuilt *time.Time
	// err is why the scan fails the policy (its content, its gate, its
	// database); nil for a passing scan.
	err error
}

// parseScan reads a verified scan and judges it against the policy at
// now: the times it claims, its database, the gate verdict it recorded and
// the fleet's gate applied to its findings.
func parseScan(v verified, p Policy, now time.Time) scan {
	s := scan{v: v}
	js, err := predicateJSON(v)
	if err != nil {
		s.err = err
		return s
	}
	pr, err := vulns.Decode(v.PredicateType, js)
	if err != nil {
		s.err = fmt.Errorf("%w: %v", ErrContent, err)
		return s
	}
	at, ok := pr.ScanTime()
	if !ok {
		s.err = fmt.Errorf("%w: vulnerability scan records no scan time", ErrContent)
		return s
	}
	s.at = at
	s.dbBuilt = pr.DBBuilt()
	if s.err = checkScanTimes(s, v, p, now); s.err != nil {
		return s
	}
	g := pr.Gate
	pass, ok := g.Verdict()
	switch {
	case !ok:
		s.err = fmt.Errorf("%w: vulnerability scan records no gate verdict", ErrContent)
		return s
	case g.StaleDBAccepted:
		s.err = fmt.Errorf("%w: vulnerability scan used a stale database, accepted with the unsafe option", ErrContent)
		return s
	case !pass:
		s.err = fmt.Errorf("%w: vulnerability gate failed at scan time", ErrContent)
		if len(g.Reasons) > 0 {
			s.err = fmt.Errorf("%w: %s", s.err, strings.Join(g.Reasons, "; "))
		}
		return s
	}
	// The scan's own verdict passed; the fleet's policy must agree, with
	// exceptions judged now.
	d := gate.Decide(scanFindings(pr), gate.Policy{FailOn: p.Gate.FailOn, OnlyFixable: p.Gate.OnlyFixable, Now: now})
	if !d.Pass {
		s.err = fmt.Errorf("%w: vulnerability gate (%s) fails: %s", ErrContent, d.Policy, strings.Join(d.Reasons, "; "))
	}
	return s
}

// checkScanTimes refuses claimed times in the future or after the verified
// signing time, and a database missing or older than the policy allows.
func checkScanTimes(s scan, v verified, p Policy, now time.Time) error {
	if s.at.After(now.Add(ClockSkew)) {
		return fmt.Errorf("%w: scan time %s is in the future", ErrContent, s.at.UTC().Format(time.RFC3339))
	}
	if !v.SignedAt.IsZero() && s.at.After(v.SignedAt.Add(ClockSkew)) {
		return fmt.Errorf("%w: scan time %s is after its signing time %s", ErrContent, s.at.UTC().Format(time.RFC3339), v.SignedAt.UTC().Format(time.RFC3339))
	}
	if s.dbBuilt == nil {
		return fmt.Errorf("%w: vulnerability scan names no database build time", ErrContent)
	}
	built := *s.dbBuilt
	if built.After(s.at.Add(ClockSkew)) {
		return fmt.Errorf("%w: database build time %s is after the scan (%s)", ErrContent, built.UTC().Format(time.RFC3339), s.at.UTC().Format(time.RFC3339))
	}
	if age := s.at.Sub(built); age > p.maxDBAge() {
		return fmt.Errorf("%w: the scan used a database built %s, %s before the scan (maximum %s)", ErrContent,
			built.UTC().Format(time.RFC3339), age.Round(time.Minute), p.maxDBAge())
	}
	return nil
}

// scanFindings is the gate's view of the findings a scan recorded. A
// finding counts as suppressed only with a not_affected or fixed VEX
// status, and as excepted only through an exception the gate finds
// unexpired now; anything else is active.
func scanFindings(pr *vulns.Predicate) []gate.Finding {
	var out []gate.Finding
	for _, r := range pr.Scanner.Result {
		f := gate.Finding{ID: r.ID, Status: gate.Active}
		for _, sv := range r.Severity {
			if sv.Method == vulns.SeverityScanner {
				f.Severity, _ = gate.ParseSeverity(sv.Score)
			}
		}
		var a map[string]any
		if len(r.Annotations) > 0 {
			a = r.Annotations[0]
		}
		str := func(k string) string { s, _ := a[k].(string); return s }
		f.Package, f.Version = str(vulns.AnnotationPackage), str(vulns.AnnotationVersion)
		fixed, _ := a[vulns.AnnotationFixedIn].([]any)
		f.Fixable = len(fixed) > 0
		switch gate.Status(str(vulns.AnnotationStatus)) {
		case gate.Suppressed:
			if vs := str(vulns.AnnotationVEXStatus); vs == "not_affected" || vs == "fixed" {
				f.Status = gate.Suppressed
			}
		case gate.Excepted:
			f.Status = gate.Excepted
		}
		if exp := str(vulns.AnnotationExceptionExpires); exp != "" {
			// Decide fails the gate on an exception expired at its Now.
			t, err := time.Parse(time.DateOnly, exp)
			if err == nil {
				f.Exception = &gate.Exception{Owner: str(vulns.AnnotationExceptionOwner), Expires: t}
			}
		}
		if f.Status == gate.Excepted && f.Exception == nil {
			// An exception without a readable expiry covers nothing.
			f.Status = gate.Active
		}
		out = append(out, f)
	}
	return out
}

// evaluateScans decides the vulnerabilities channel of one digest. Every
// verified scan is judged; which one decides depends on whether its time
// can be trusted:
//   - keyless evidence carries a signing time verified by the transparency
//     log or a timestamp authority: the newest signed scan decides, so a
//     later scan (after a VEX statement or an exception) supersedes a
//     failing one, and a replayed old bundle can never be the newest;
//   - key-signed evidence has only the time it claims: any failing scan
//     fails the channel, whatever its age, and the newest passing scan
//     (no claimed time in the future) is judged for freshness.
//
// A channel whose deciding scan passes but is older than MaxScanAge is
// pending.
func evaluateScans(e Entry, vs []verified, p Policy, now time.Time, keyMode bool) Entry {
	scans := make([]scan, 0, len(vs))
	for _, v := range vs {
		scans = append(scans, parseScan(v, p, now))
	}
	fail := func(s scan) Entry {
		record(&e, s.v)
		if !s.at.IsZero() {
			at := s.at
			e.ScanTime = &at
		}
		e.DBBuiltAt = s.dbBuilt
		e.Status, e.Err, e.Reason = StatusFailed, s.err, s.err.Error()
		return e
	}
	var decide, failing *scan
	for i := range scans {
		s := &scans[i]
		if keyMode {
			// Any failing scan fails the channel; the newest one it
			// claims is reported.
			switch {
			case s.err != nil && (failing == nil || s.at.After(failing.at)):
				failing = s
			case s.err == nil && (decide == nil || s.at.After(decide.at)):
				decide = s
			}
			continue
		}
		// Signing times have a resolution of a second: a tie goes to
		// the later claimed time.
		if decide == nil || s.v.SignedAt.After(decide.v.SignedAt) ||
			(s.v.SignedAt.Equal(decide.v.SignedAt) && s.at.After(decide.at)) {
			decide = s
		}
	}
	if failing != nil {
		return fail(*failing)
	}
	if decide.err != nil {
		return fail(*decide)
	}
	record(&e, decide.v)
	at := decide.at
	e.ScanTime, e.DBBuiltAt = &at, decide.dbBuilt
	// The age is judged from the earlier of the claimed and the verified
	// signing time.
	from := decide.at
	if !decide.v.SignedAt.IsZero() && decide.v.SignedAt.Before(from) {
		from = decide.v.SignedAt
	}
	if age := now.Sub(from); age > p.maxScanAge() {
		e.Status = StatusPending
		e.Err = fmt.Errorf("%w: newest scan is from %s, %s old (maximum %s)", ErrStale, from.UTC().Format(time.RFC3339), age.Round(time.Minute), p.maxScanAge())
		e.Reason = e.Err.Error()
		return e
	}
	e.Status = StatusVerified
	if n := countFailing(scans, decide); n > 0 {
		e.Reason = fmt.Sprintf("supersedes %d older failing scan(s)", n)
	}
	return e
}

func countFailing(scans []scan, except *scan) int {
	n := 0
	for i := range scans {
		if &scans[i] != except && scans[i].err != nil {
			n++
		}
	}
	return n
}
