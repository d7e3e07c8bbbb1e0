package admission

import (
	"regexp"
	"strings"
	"testing"
)

// TestCUEStringEscapes: no value ends a CUE string literal, starts an
// interpolation or spills onto another line of the policy.
func TestCUEStringEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/acme/fleet@refs/heads/main": `"https://github.com/acme/fleet@refs/heads/main"`,
		`a"b`:            `"a\"b"`,
		`a\b`:            `"a\\b"`,
		`\(predicate)`:   `"\\(predicate)"`,
		`"} & _ | {x: "`: `"\"} & _ | {x: \""`,
		"a\nb":           `"a\u000Ab"`,
		"tab\t":          `"tab\u0009"`,
		"nul\x00":        `"nul\u0000"`,
		"del\x7f":        `"del\u007F"`,
		"line\u2028sep":  `"line\u2028sep"`,
		"nbsp\u00a0":     `"nbsp\u00A0"`,
		"bad\xff":        `"bad\uFFFD"`,
		"été":            `"été"`,
		"tag\U000E0001":  `"tag\U000E0001"`,
		"space inside":   `"space inside"`,
		"":               `""`,
	} {
		if got := cueString(in); got != want {
			t.Errorf("cueString(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestCUEPolicyRequiresPresence: every check collects the field from the
// statement and unifies the list with the value it requires, so a
// statement without the field fails; orAbsent allows absence.
func TestCUEPolicyRequiresPresence(t *testing.T) {
	got := cuePolicy(
		cueCheck{path: []string{"gate", "pass"}, want: "true"},
		cueCheck{path: []string{"gate", "staleDBAccepted"}, want: "false", orAbsent: true},
		cueCheck{path: []string{`we"ird`}, want: cueString(`x"y`)},
	)
	want := `predicate: _
clearcuttChecks: {
  "predicate.gate.pass": [for k0, v0 in predicate if k0 == "gate" for k1, v1 in v0 if k1 == "pass" {v1}] & [true]
  "predicate.gate.staleDBAccepted": [for k0, v0 in predicate if k0 == "gate" for k1, v1 in v0 if k1 == "staleDBAccepted" {v1}] & ([] | [false])
  "predicate.we\"ird": [for k0, v0 in predicate if k0 == "we\"ird" {v0}] & ["x\"y"]
}
`
	if got != want {
		t.Errorf("cuePolicy:\n%s\nwant:\n%s", got, want)
	}
}

// TestExactSubjectsMatchOnlyTheSubjects: the subjectRegExp built from two
// subjects holding regular-expression syntax matches those two and
// nothing else.
func TestExactSubjectsMatchOnlyTheSubjects(t *testing.T) {
	a := "https://github.com/a.b/c+d/.github/workflows/p(1)|x^.yml@refs/heads/m.n"
	b := "https://github.com/a.b/c+d/.github/workflows/rescan.yml@refs/heads/m.n"
	re := regexp.MustCompile(exactSubjects(a, b))
	for _, s := range []string{a, b} {
		if !re.MatchString(s) {
			t.Errorf("%s does not match %s", re, s)
		}
	}
	for _, s := range []string{
		"", a + b, a + "|" + b, a + "\n", "\n" + b, "x" + a, b + "x",
		strings.Replace(a, "a.b", "aXb", 1), strings.Replace(a, "c+d", "ccd", 1), strings.Replace(a, "p(1)|x^", "p1", 1),
		"https://github.com/a.b/c+d/.github/workflows/p(1)", "x^.yml@refs/heads/m.n", strings.Replace(b, "rescan.yml", "rescanXyml", 1),
	} {
		if re.MatchString(s) {
			t.Errorf("%s matches %q", re, s)
		}
	}
}
