package gate

import (
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	high := Finding{ID: "CVE-1", Package: "zlib", Version: "1.2.13", Severity: High, Fixable: true, Status: Active}
	highNoFix := Finding{ID: "CVE-2", Package: "glibc", Version: "2.36", Severity: High, Status: Active}
	medium := Finding{ID: "CVE-3", Package: "python3", Version: "3.11.2", Severity: Medium, Fixable: true, Status: Active}
	critSuppressed := Finding{ID: "CVE-4", Package: "glibc", Version: "2.36", Severity: Critical, Fixable: true, Status: Suppressed}
	critExcepted := Finding{ID: "CVE-5", Package: "zlib", Version: "1.2.13", Severity: Critical, Fixable: true, Status: Excepted,
		Exception: &Exception{Owner: "sec", Expires: day("2026-12-31")}}
	expiredOnLow := Finding{ID: "CVE-6", Package: "expat", Version: "2.5.0", Severity: Low, Status: Active,
		Exception: &Exception{Owner: "sec", Expires: day("2026-11-25")}}
	expiresToday := Finding{ID: "CVE-7", Package: "expat", Version: "2.5.0", Severity: Critical, Status: Excepted,
		Exception: &Exception{Owner: "sec", Expires: day("2026-11-26")}}
	unknown := Finding{ID: "CVE-8", Package: "x", Version: "1", Severity: Unknown, Status: Active}

	tests := []struct {
		name     string
		findings []Finding
		policy   Policy
		pass     bool
		reason   string // a substring of one reason when failing
		blocking int
	}{
		{"no findings", nil, Policy{FailOn: High, Now: now}, true, "", 0},
		{"high fails at high", []Finding{high}, Policy{FailOn: High, Now: now}, false, "CVE-1 in zlib 1.2.13: severity high >= high (fix available)", 1},
		{"high passes at critical", []Finding{high}, Policy{FailOn: Critical, Now: now}, true, "", 0},
		{"medium passes at high", []Finding{medium}, Policy{FailOn: High, Now: now}, true, "", 0},
		{"medium fails at medium", []Finding{medium}, Policy{FailOn: Medium, Now: now}, false, "CVE-3", 1},
		{"unfixed high fails without only-fixable", []Finding{highNoFix}, Policy{FailOn: High, Now: now}, false, "no fix available", 1},
		{"unfixed high passes with only-fixable", []Finding{highNoFix}, Policy{FailOn: High, OnlyFixable: true, Now: now}, true, "", 0},
		{"fixed high fails with only-fixable", []Finding{high, highNoFix}, Policy{FailOn: High, OnlyFixable: true, Now: now}, false, "CVE-1", 1},
		{"suppressed critical passes", []Finding{critSuppressed}, Policy{FailOn: Low, Now: now}, true, "", 0},
		{"excepted critical passes", []Finding{critExcepted}, Policy{FailOn: Low, Now: now}, true, "", 0},
		{"expired exception fails even below threshold", []Finding{expiredOnLow}, Policy{FailOn: Critical, Now: now}, false, "exception owned by sec expired on 2026-11-25", 0},
		{"exception valid through its expiry day", []Finding{expiresToday}, Policy{FailOn: Low, Now: now}, true, "", 0},
		{"exception expired the day after", []Finding{expiresToday}, Policy{FailOn: Critical, Now: day("2026-11-27")}, false, "expired on 2026-11-26", 0},
		{"unknown severity below negligible threshold", []Finding{unknown}, Policy{FailOn: Negligible, Now: now}, true, "", 0},
		{"fail on any severity", []Finding{unknown}, Policy{FailOn: Unknown, Now: now}, false, "CVE-8", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.findings, tc.policy)
			if d.Pass != tc.pass {
				t.Fatalf("Pass = %v, want %v (reasons %q)", d.Pass, tc.pass, d.Reasons)
			}
			if !tc.pass && len(d.Reasons) == 0 {
				t.Fatal("failing decision without reasons")
			}
			if tc.pass && len(d.Reasons) != 0 {
				t.Fatalf("passing decision with reasons %q", d.Reasons)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(d.Reasons, "\n"), tc.reason) {
				t.Fatalf("reasons %q lack %q", d.Reasons, tc.reason)
			}
			if d.Counts.Blocking != tc.blocking {
				t.Fatalf("Blocking = %d, want %d", d.Counts.Blocking, tc.blocking)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	d := Decide([]Finding{
		{ID: "A", Severity: High, Status: Active},
		{ID: "B", Severity: Medium, Status: Active},
		{ID: "C", Severity: Medium, Status: Active},
		{ID: "D", Severity: Critical, Status: Suppressed},
		{ID: "E", Severity: Critical, Status: Excepted, Exception: &Exception{Expires: day("2027-01-01")}},
		{ID: "F", Severity: Low, Status: Active, Exception: &Exception{Expires: day("2020-01-01")}},
	}, Policy{FailOn: Critical, Now: now})
	c := d.Counts
	if c.Active != 4 || c.Suppressed != 1 || c.Excepted != 1 || c.ExpiredExceptions != 1 || c.Blocking != 0 {
		t.Fatalf("counts = %+v", c)
	}
	if c.BySeverity["medium"] != 2 || c.BySeverity["high"] != 1 || c.BySeverity["critical"] != 0 {
		t.Fatalf("by severity = %v", c.BySeverity)
	}
	if d.Pass {
		t.Fatal("expired exception passed")
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]Severity{"HIGH": High, "critical": Critical, " medium ": Medium, "negligible": Negligible, "low": Low, "unknown": Unknown} {
		got, ok := ParseSeverity(in)
		if !ok || got != want {
			t.Errorf("ParseSeverity(%q) = %v, %v", in, got, ok)
		}
	}
	if _, ok := ParseSeverity("severe"); ok {
		t.Error("ParseSeverity accepted severe")
	}
	if High.String() != "high" || Severity(42).String() != "unknown" {
		t.Error("String")
	}
}
