package verify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/openvex/go-vex/pkg/vex"

	"github.com/clearcutt/clearcutt/internal/vexdoc"
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

// warnedWhy explains, per check ID, why a test-result statement lists
// the check in warnedTests. The statement carries IDs only; its tier rules
// say what applies. WARNED means that a check that applies to the image
// could not run where the image was tested, and every check that ran
// passed (docs/adr/0017-warned-means-a-check-could-not-run.md). Releases
// before that decision also warned for checks with nothing to check and
// for symbols the tier allows: their IDs are explained as such.
var warnedWhy = map[string]string{
	"smoke":      "runc not available where the image was tested, an architecture the test host cannot execute, or no smoke command declared",
	"entrypoint": "not applicable: the image starts no program of its own",
	"stripped":   "files keep symbols, which the tier allows",
}

// checkTests accepts PASSED and WARNED test results and refuses FAILED
// and anything else. A WARNED result is verified with a warning: the
// returned reason names each warned check and why it could not run.
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
		return warnedReason(tr.WarnedTests), nil
	case "FAILED":
		return "", fmt.Errorf("%w: test result FAILED: %s", ErrContent, strings.Join(tr.FailedTests, ", "))
	}
	return "", fmt.Errorf("%w: test result %q", ErrContent, tr.Result)
}

// TestsWarned begins the reason of a tests entry verified from a WARNED
// test result; the rest is "N check(s) could not run: <id> (<why>); ...".
// An index statement's IDs are prefixed with their platform
// ("linux/arm64: smoke").
const TestsWarned = "WARNED: "

func warnedReason(ids []string) string {
	if len(ids) == 0 {
		return TestsWarned + "the statement names no check that could not run"
	}
	items := make([]string, len(ids))
	for i, id := range ids {
		check := id
		if j := strings.LastIndex(id, ": "); j >= 0 {
			check = id[j+2:]
		}
		why, ok := warnedWhy[check]
		if !ok {
			why = "no explanation known for this check"
		}
		items[i] = id + " (" + why + ")"
	}
	return fmt.Sprintf("%s%d check(s) could not run: %s", TestsWarned, len(ids), strings.Join(items, "; "))
}

// checkVEX requires an OpenVEX document about the image of t (every
// statement names it, by digest or by the fleet's package URL for its
// runtime) whose statements are valid and dated no later than now.
func checkVEX(v verified, t target, now time.Time) error {
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
	if len(doc.Statements) == 0 {
		// No statement applied to this image: the document states
		// nothing, and its dates must still be in the past.
		if ps := vexdoc.CheckDates(&doc, now); len(ps) > 0 {
			return fmt.Errorf("%w: OpenVEX document %s: %v", ErrContent, doc.ID, ps)
		}
		return nil
	}
	if err := vexdoc.CheckAttested(&doc, vexdoc.AttestedImage{Name: t.name, Digest: t.digest.String()}, now); err != nil {
		return fmt.Errorf("%w: OpenVEX document %s: %v", ErrContent, doc.ID, err)
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
