package verify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/openvex/go-vex/pkg/vex"
)

// predicateJSON re-encodes the verified statement's predicate as JSON.
func predicateJSON(v verified) ([]byte, error) {
	p := v.Statement.GetPredicate()
	if p == nil {
		return nil, fmt.Errorf("%w: %s statement has no predicate", ErrContent, v.PredicateType)
	}
	return json.Marshal(p.AsMap())
}

func decodePredicate(v verified, out any) error {
	js, err := predicateJSON(v)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(js, out); err != nil {
		return fmt.Errorf("%w: %s predicate: %v", ErrContent, v.PredicateType, err)
	}
	return nil
}

// checkSBOM requires an SPDX 2.3 document that describes digest (its name,
// a package checksum or a package reference carries the digest).
func checkSBOM(v verified, digestHex string) error {
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		SPDXID      string `json:"SPDXID"`
		Name        string `json:"name"`
		Packages    []struct {
			Checksums []struct {
				Algorithm string `json:"algorithm"`
				Value     string `json:"checksumValue"`
			} `json:"checksums"`
			ExternalRefs []struct {
				Locator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
	}
	if err := decodePredicate(v, &doc); err != nil {
		return err
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.SPDXID != "SPDXRef-DOCUMENT" {
		return fmt.Errorf("%w: SBOM is not an SPDX 2.3 document (spdxVersion %q)", ErrContent, doc.SPDXVersion)
	}
	if strings.Contains(doc.Name, digestHex) {
		return nil
	}
	for _, p := range doc.Packages {
		for _, c := range p.Checksums {
			if strings.EqualFold(c.Algorithm, "SHA256") && strings.EqualFold(c.Value, digestHex) {
				return nil
			}
		}
		for _, r := range p.ExternalRefs {
			if strings.Contains(r.Locator, digestHex) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: SBOM %q does not describe sha256:%s", ErrContent, doc.Name, digestHex)
}

// checkTests accepts PASSED and WARNED test results.
func checkTests(v verified) (string, error) {
	var tr struct {
		Result      string   `json:"result"`
		FailedTests []string `json:"failedTests"`
		WarnedTests []string `json:"warnedTests"`
	}
	if err := decodePredicate(v, &tr); err != nil {
		return "", err
	}
	switch tr.Result {
	case "PASSED":
		return "", nil
	case "WARNED":
		return "warned: " + strings.Join(tr.WarnedTests, ", "), nil
	case "FAILED":
		return "", fmt.Errorf("%w: test result FAILED: %s", ErrContent, strings.Join(tr.FailedTests, ", "))
	}
	return "", fmt.Errorf("%w: test result %q", ErrContent, tr.Result)
}

// vulnsPredicate is the part of a vulns/v0.2 predicate verify reads, plus
// ClearCutt's extensions: an optional top-level "gate" object with the gate
// decision, and the result annotations internal/scan writes, where
// "exceptionExpired": true marks a finding covered only by an expired
// exception.
type vulnsPredicate struct {
	Scanner struct {
		URI     string `json:"uri"`
		Version string `json:"version"`
		DB      struct {
			LastUpdate *time.Time `json:"lastUpdate"`
		} `json:"db"`
		Result []struct {
			ID          string           `json:"id"`
			Annotations []map[string]any `json:"annotations"`
		} `json:"result"`
	} `json:"scanner"`
	Metadata struct {
		ScanStartedOn  *time.Time `json:"scanStartedOn"`
		ScanFinishedOn *time.Time `json:"scanFinishedOn"`
	} `json:"metadata"`
	Gate *struct {
		Pass     *bool    `json:"pass"`
		Decision string   `json:"decision"`
		Reasons  []string `json:"reasons"`
	} `json:"gate"`
}

// AnnotationExceptionExpired is the vulns result annotation internal/scan
// sets on a finding matched by an exception: true when it has expired.
const AnnotationExceptionExpired = "exceptionExpired"

type scan struct {
	v        verified
	at       time.Time
	dbBuilt  *time.Time
	gateErr  error
	parseErr error
}

func parseScan(v verified) scan {
	s := scan{v: v}
	var p vulnsPredicate
	if err := decodePredicate(v, &p); err != nil {
		s.parseErr = err
		return s
	}
	switch {
	case p.Metadata.ScanFinishedOn != nil:
		s.at = *p.Metadata.ScanFinishedOn
	case p.Metadata.ScanStartedOn != nil:
		s.at = *p.Metadata.ScanStartedOn
	default:
		s.parseErr = fmt.Errorf("%w: vulnerability scan records no scan time", ErrContent)
		return s
	}
	if !v.SignedAt.IsZero() && s.at.After(v.SignedAt.Add(5*time.Minute)) {
		s.parseErr = fmt.Errorf("%w: scan time %s is after its signing time %s", ErrContent, s.at.Format(time.RFC3339), v.SignedAt.Format(time.RFC3339))
		return s
	}
	s.dbBuilt = p.Scanner.DB.LastUpdate
	if g := p.Gate; g != nil && ((g.Pass != nil && !*g.Pass) || strings.EqualFold(g.Decision, "fail")) {
		s.gateErr = fmt.Errorf("%w: vulnerability gate failed", ErrContent)
		if len(g.Reasons) > 0 {
			s.gateErr = fmt.Errorf("%w: %s", s.gateErr, strings.Join(g.Reasons, "; "))
		}
	}
	for _, r := range p.Scanner.Result {
		for _, a := range r.Annotations {
			if expired, _ := a[AnnotationExceptionExpired].(bool); expired {
				s.gateErr = fmt.Errorf("%w: %s is covered only by an expired exception", ErrContent, r.ID)
			}
		}
	}
	return s
}

// checkVEX requires an OpenVEX document whose statements are valid.
func checkVEX(v verified) error {
	js, err := predicateJSON(v)
	if err != nil {
		return err
	}
	var doc vex.VEX
	if err := json.Unmarshal(js, &doc); err != nil {
		return fmt.Errorf("%w: OpenVEX document: %v", ErrContent, err)
	}
	if !strings.HasPrefix(doc.Context, vex.Context) {
		return fmt.Errorf("%w: OpenVEX @context %q", ErrContent, doc.Context)
	}
	for i := range doc.Statements {
		if err := doc.Statements[i].Validate(); err != nil {
			return fmt.Errorf("%w: OpenVEX statement %d: %v", ErrContent, i, err)
		}
	}
	return nil
}

// checkProvenance compares the SLSA builder id with the policy.
func checkProvenance(v verified, builderID string) error {
	if builderID == "" {
		return nil
	}
	var p struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
		RunDetails struct {
			Builder struct {
				ID string `json:"id"`
			} `json:"builder"`
		} `json:"runDetails"`
	}
	if err := decodePredicate(v, &p); err != nil {
		return err
	}
	got := p.Builder.ID
	if v.PredicateType == PredicateSLSAv1 {
		got = p.RunDetails.Builder.ID
	}
	if got != builderID {
		return &IdentityError{Field: FieldBuilderID, Want: builderID, Got: got}
	}
	return nil
}
