package scan

import (
	"encoding/json"
	"fmt"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/intoto"
	"github.com/clearcutt/clearcutt/internal/vulns"
)

// PlatformScan is the signed vulnerability statement of one platform image
// of an index.
type PlatformScan struct {
	// Platform is "os/arch[/variant]".
	Platform string
	Digest   v1.Hash
	// Statement is the platform's vulns/v0.2 statement exactly as signed.
	Statement []byte
}

// IndexStatement is the vulns/v0.2 statement about an index (named name)
// made from its platforms' statements, so that an admission controller
// that sees only the index digest finds the verdict there. Its gate passes
// only when every platform's passed, records a stale database when any
// platform's did, and lists the platforms' reasons prefixed with the
// platform; the results are the platforms' findings, each annotated with
// its platform; the database is the oldest one used, and the scan times
// span the platforms' scans. A platform statement without a gate verdict
// is an error.
func IndexStatement(name string, index v1.Hash, platforms []PlatformScan) ([]byte, error) {
	if len(platforms) == 0 {
		return nil, fmt.Errorf("%w: no platform scans", ErrInvalidOptions)
	}
	agg := vulns.Predicate{Scanner: &vulns.Scanner{Result: []vulns.Result{}}}
	g := gate.Decision{Pass: true, Counts: gate.Counts{BySeverity: map[string]int{}}}
	stale := false
	for i, p := range platforms {
		var st struct {
			Subject []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
			PredicateType string          `json:"predicateType"`
			Predicate     json.RawMessage `json:"predicate"`
		}
		if err := json.Unmarshal(p.Statement, &st); err != nil {
			return nil, fmt.Errorf("%w: scan of %s: %v", ErrInvalidOptions, p.Platform, err)
		}
		if st.PredicateType != PredicateType || len(st.Subject) != 1 || st.Subject[0].Digest[p.Digest.Algorithm] != p.Digest.Hex {
			return nil, fmt.Errorf("%w: the scan of %s is not a %s statement about %s", ErrInvalidOptions, p.Platform, PredicateType, p.Digest)
		}
		pr, err := vulns.Decode(st.PredicateType, st.Predicate)
		if err != nil {
			return nil, fmt.Errorf("%w: scan of %s: %v", ErrInvalidOptions, p.Platform, err)
		}
		pass, ok := pr.Gate.Verdict()
		if !ok {
			return nil, fmt.Errorf("%w: the scan of %s records no gate decision", ErrInvalidOptions, p.Platform)
		}
		if i == 0 {
			agg.Scanner.URI, agg.Scanner.Version = pr.Scanner.URI, pr.Scanner.Version
			g.Policy = pr.Gate.Policy
		}
		if db := pr.Scanner.DB; agg.Scanner.DB.LastUpdate == nil || (db.LastUpdate != nil && db.LastUpdate.Before(agg.Scanner.DB.LastUpdate.Time)) {
			agg.Scanner.DB = db
		}
		if t := pr.Metadata.ScanStartedOn; t != nil && (agg.Metadata.ScanStartedOn == nil || t.Before(agg.Metadata.ScanStartedOn.Time)) {
			agg.Metadata.ScanStartedOn = t
		}
		if t := pr.Metadata.ScanFinishedOn; t != nil && (agg.Metadata.ScanFinishedOn == nil || t.After(agg.Metadata.ScanFinishedOn.Time)) {
			agg.Metadata.ScanFinishedOn = t
		}
		for _, r := range pr.Scanner.Result {
			for _, a := range r.Annotations {
				if a != nil {
					a[vulns.AnnotationPlatform] = p.Platform
				}
			}
			agg.Scanner.Result = append(agg.Scanner.Result, r)
		}
		pg := pr.Gate
		g.Pass = g.Pass && pass
		stale = stale || pg.StaleDBAccepted
		if pg.Policy != g.Policy {
			g.Policy = "per platform"
		}
		for _, r := range pg.Reasons {
			g.Reasons = append(g.Reasons, p.Platform+": "+r)
		}
		c := pg.Counts
		g.Counts.Active += c.Active
		g.Counts.Suppressed += c.Suppressed
		g.Counts.Excepted += c.Excepted
		g.Counts.Blocking += c.Blocking
		g.Counts.ExpiredExceptions += c.ExpiredExceptions
		for k, v := range c.BySeverity {
			g.Counts.BySeverity[k] += v
		}
	}
	sort.Strings(g.Reasons)
	agg.Gate = vulns.NewGate(g, stale)
	return intoto.NewStatement(PredicateType, []intoto.Subject{{Name: name, Digest: map[string]string{index.Algorithm: index.Hex}}}, &agg)
}
