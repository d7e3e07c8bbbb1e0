package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	trv0 "github.com/in-toto/attestation/go/predicates/test_result/v0"
	ita1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/clearcutt/clearcutt/internal/intoto"
)

// Test-result outcomes (https://in-toto.io/attestation/test-result/v0.1).
const (
	TestPassed = "PASSED"
	TestWarned = "WARNED"
	TestFailed = "FAILED"
)

// Annotation keys of the configuration entry that references a
// platform's test-result statement in the index test result.
const (
	refPlatform      = "platform"
	refSubject       = "subject"
	refPredicateType = "predicateType"
)

// IndexTestResult builds the test-result statement about index (named
// name when not empty) from the platforms' test-result statements.
//
// result is FAILED when a platform's is FAILED, else WARNED when one is
// WARNED, else PASSED: PASSED only when every platform passed.
// passedTests, warnedTests and failedTests are the platforms' lists, each
// test prefixed with its platform ("linux/amd64: no-shell"). configuration
// holds, per platform, a resource descriptor of the platform's statement
// (name "<platform> test-result statement", its SHA256 digest, media type
// application/vnd.in-toto+json, annotations platform, subject and
// predicateType) followed by the platform's own configuration entries with
// their names prefixed by the platform. url is the platforms' url when
// they all have the same one. The same statements always give the same
// bytes.
func IndexTestResult(name string, index v1.Hash, platforms []PlatformEvidence) ([]byte, error) {
	if len(platforms) == 0 {
		return nil, fmt.Errorf("%w: no platform test results", ErrMissingEvidence)
	}
	agg := &trv0.TestResult{Result: TestPassed}
	urls := map[string]bool{}
	for _, p := range platforms {
		tr, err := platformTestResult(p)
		if err != nil {
			return nil, err
		}
		switch tr.GetResult() {
		case TestFailed:
			agg.Result = TestFailed
		case TestWarned:
			if agg.Result == TestPassed {
				agg.Result = TestWarned
			}
		}
		sum := sha256.Sum256(p.TestResult)
		ann, err := structpb.NewStruct(map[string]any{
			refPlatform:      p.Platform,
			refSubject:       p.Digest.String(),
			refPredicateType: PredicateTestResult,
		})
		if err != nil {
			return nil, err
		}
		agg.Configuration = append(agg.Configuration, &ita1.ResourceDescriptor{
			Name:        p.Platform + " test-result statement",
			Digest:      map[string]string{"sha256": hex.EncodeToString(sum[:])},
			MediaType:   InTotoPayloadType,
			Annotations: ann,
		})
		for _, c := range tr.GetConfiguration() {
			c = proto.Clone(c).(*ita1.ResourceDescriptor)
			c.Name = prefixed(p.Platform, c.GetName())
			agg.Configuration = append(agg.Configuration, c)
		}
		for _, t := range tr.GetPassedTests() {
			agg.PassedTests = append(agg.PassedTests, prefixed(p.Platform, t))
		}
		for _, t := range tr.GetWarnedTests() {
			agg.WarnedTests = append(agg.WarnedTests, prefixed(p.Platform, t))
		}
		for _, t := range tr.GetFailedTests() {
			agg.FailedTests = append(agg.FailedTests, prefixed(p.Platform, t))
		}
		urls[tr.GetUrl()] = true
	}
	if len(urls) == 1 {
		for u := range urls {
			agg.Url = u
		}
	}
	st, err := intoto.NewStatement(PredicateTestResult, []intoto.Subject{{Name: name, Digest: map[string]string{index.Algorithm: index.Hex}}}, agg)
	if err != nil {
		return nil, fmt.Errorf("%w: index test result: %v", ErrBadStatement, err)
	}
	return st, nil
}

// platformTestResult decodes a platform's test-result statement, which
// must be about the platform digest and have a known result.
func platformTestResult(p PlatformEvidence) (*trv0.TestResult, error) {
	st, err := ParseStatement(p.TestResult)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadEvidence, p.TestResultFile, err)
	}
	if st.PredicateType != PredicateTestResult {
		return nil, fmt.Errorf("%w: %s: predicateType is %q, want %q", ErrBadStatement, p.TestResultFile, st.PredicateType, PredicateTestResult)
	}
	if !st.IsAbout(p.Digest) {
		return nil, fmt.Errorf("%w: %s is not about %s (%s)", ErrSubjectMismatch, p.TestResultFile, p.Digest, p.Platform)
	}
	var tr trv0.TestResult
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(st.Predicate, &tr); err != nil {
		return nil, fmt.Errorf("%w: %s: not a test-result predicate: %v", ErrBadEvidence, p.TestResultFile, err)
	}
	switch tr.GetResult() {
	case TestPassed, TestWarned, TestFailed:
		return &tr, nil
	}
	return nil, fmt.Errorf("%w: %s: result %q, want PASSED, WARNED or FAILED", ErrBadEvidence, p.TestResultFile, tr.GetResult())
}

// prefixed is "<platform>: <s>", or the platform alone for an empty s.
func prefixed(platform, s string) string {
	if s == "" {
		return platform
	}
	return platform + ": " + s
}
