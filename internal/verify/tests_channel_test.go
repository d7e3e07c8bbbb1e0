package verify_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/verify"
)

// TestTestResults: PASSED is verified, WARNED is verified with a reason
// that names each check that could not run and why, FAILED and any other
// result are failed.
func TestTestResults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pred   map[string]any
		want   verify.Status
		reason []string
	}{
		{"passed", testsPassed(), verify.StatusVerified, nil},
		{"warned smoke", map[string]any{"result": "WARNED", "passedTests": []string{"no-shell"}, "warnedTests": []string{"smoke"}},
			verify.StatusVerified, []string{verify.TestsWarned + "1 check(s) could not run: smoke (", "an architecture the test host cannot execute"}},
		{"warned index", map[string]any{"result": "WARNED", "warnedTests": []string{"linux/arm64: smoke", "linux/amd64: new-check"}},
			verify.StatusVerified, []string{"2 check(s) could not run: linux/arm64: smoke (runc not available", "; linux/amd64: new-check (no explanation known"}},
		{"warned before ADR 0017", map[string]any{"result": "WARNED", "warnedTests": []string{"entrypoint", "stripped"}},
			verify.StatusVerified, []string{"entrypoint (not applicable: the image starts no program", "stripped (files keep symbols, which the tier allows)"}},
		{"warned naming nothing", map[string]any{"result": "WARNED"}, verify.StatusVerified, []string{"names no check"}},
		{"failed", map[string]any{"result": "FAILED", "warnedTests": []string{"smoke"}, "failedTests": []string{"no-shell"}},
			verify.StatusFailed, []string{"test result FAILED: no-shell"}},
		{"unknown", map[string]any{"result": "MAYBE"}, verify.StatusFailed, []string{`test result "MAYBE"`}},
		{"no result", map[string]any{"passedTests": []string{"no-shell"}}, verify.StatusFailed, []string{`test result ""`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.attach(f.platforms["amd64"], verify.PredicateTestResult, tc.pred)
			e := entry(t, f.run(), verify.ChannelTests, "linux/amd64")
			if e.Status != tc.want {
				t.Fatalf("tests = %s (%s), want %s", e.Status, e.Reason, tc.want)
			}
			if tc.want == verify.StatusFailed && !errors.Is(e.Err, verify.ErrContent) {
				t.Errorf("error %v, want ErrContent", e.Err)
			}
			if len(tc.reason) == 0 && e.Reason != "" {
				t.Errorf("reason %q, want none", e.Reason)
			}
			for _, r := range tc.reason {
				if !strings.Contains(e.Reason, r) {
					t.Errorf("reason %q does not say %q", e.Reason, r)
				}
			}
		})
	}
}
