package structure

import (
	"fmt"

	trv0 "github.com/in-toto/attestation/go/predicates/test_result/v0"
	ita1 "github.com/in-toto/attestation/go/v1"

	"github.com/clearcutt/clearcutt/internal/intoto"
)

// PredicateType is the in-toto test-result predicate type.
const PredicateType = "https://in-toto.io/attestation/test-result/v0.1"

// RulesResourcePrefix names the tier rules in the predicate's
// configuration: "clearcutt-tier-rules/<tier>".
const RulesResourcePrefix = "clearcutt-tier-rules/"

// Predicate results.
const (
	ResultPassed = "PASSED"
	ResultWarned = "WARNED"
	ResultFailed = "FAILED"
)

// Outcome is the predicate result: FAILED if a check failed, WARNED if a
// check that applies could not run where the image was tested (Skipped),
// PASSED otherwise. WARNED therefore means that every check that ran
// passed. A not-applicable check does not change the outcome.
func (r Result) Outcome() string {
	out := ResultPassed
	for _, c := range r.Checks {
		switch c.Status {
		case Failed:
			return ResultFailed
		case Skipped:
			out = ResultWarned
		}
	}
	return out
}

// Predicate is the test-result predicate. Its configuration is one
// resource descriptor for the tier rules: the digest of their canonical
// JSON, which is also carried as content (media type application/json).
// Check IDs go to passedTests, warnedTests (skipped: could not run where
// the image was tested) and failedTests; a not-applicable check is in no
// list (the tier rules in the configuration say what applies).
func (r Result) Predicate() *trv0.TestResult {
	p := &trv0.TestResult{
		Result: r.Outcome(),
		Configuration: []*ita1.ResourceDescriptor{{
			Name:      RulesResourcePrefix + r.Tier,
			Digest:    map[string]string{"sha256": r.Rules.Digest()},
			Content:   r.Rules.CanonicalJSON(),
			MediaType: "application/json",
		}},
	}
	for _, c := range r.Checks {
		switch c.Status {
		case Passed:
			p.PassedTests = append(p.PassedTests, c.ID)
		case Failed:
			p.FailedTests = append(p.FailedTests, c.ID)
		case NotApplicable:
		default:
			p.WarnedTests = append(p.WarnedTests, c.ID)
		}
	}
	return p
}

// StatementJSON is the in-toto Statement v1 whose subject is the tested
// image (Subject.Name, digest by algorithm) and whose predicate is
// Predicate, encoded by intoto.NewStatement: the same result always gives
// the same bytes.
func (r Result) StatementJSON() ([]byte, error) {
	if r.Subject.Digest.Hex == "" || r.Subject.Digest.Algorithm == "" {
		return nil, fmt.Errorf("%w: statement subject has no digest", ErrInvalidOptions)
	}
	return intoto.NewStatement(PredicateType, []intoto.Subject{{
		Name:   r.Subject.Name,
		Digest: map[string]string{r.Subject.Digest.Algorithm: r.Subject.Digest.Hex},
	}}, r.Predicate())
}
