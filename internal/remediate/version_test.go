package remediate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

var versionPairs = [][2]string{
	{"1.3.0", "1.3.2"}, {"1.3.2", "1.3.2"}, {"1.3.10", "1.3.9"}, {"2.3", "2.3.1"}, {"2.3a", "2.3.1"},
	{"2.3pre1", "2.3"}, {"2.3", "2.3pre1"}, {"1.0-rc1", "1.0"}, {"3.0.8", "1.1.1t"}, {"20250419", "20240202"},
	{"1.35.0", "1.37.0"}, {"01.2", "1.2"}, {"1.2.3.4", "1.2.3"}, {"a", "b"}, {"", "1"}, {"99999999999999999999", "9"},
	{"2.36", "2.39"}, {"17.0.13", "17.0.9"}, {"1.2-3", "1.2.3"}, {"1.2b", "1.2a"},
}

// TestCompareVersionsMatchesNix checks every pair against Nix's own
// builtins.compareVersions.
func TestCompareVersionsMatchesNix(t *testing.T) {
	nx, _ := needNix(t)
	var exprs []string
	for _, p := range versionPairs {
		exprs = append(exprs, fmt.Sprintf("(builtins.compareVersions %s %s)", nixString(p[0]), nixString(p[1])))
	}
	out, err := nx.run(context.Background(), "", "eval", "--json", "--expr", "[ "+strings.Join(exprs, " ")+" ]")
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for i, p := range versionPairs {
		if got := CompareVersions(p[0], p[1]); got != want[i] {
			t.Errorf("CompareVersions(%q, %q) = %d, Nix says %d", p[0], p[1], got, want[i])
		}
	}
}

func TestFixes(t *testing.T) {
	for _, tc := range []struct {
		candidate, current string
		fixedIn            []string
		want               bool
	}{
		{"1.3.2", "1.3.0", []string{"1.3.2"}, true},
		{"1.3.1", "1.3.0", []string{"1.3.2"}, false},
		{"1.4.0", "1.3.0", []string{"1.3.2"}, true},
		// The 1.1.1 line's fix is no target for a 3.0 package.
		{"3.0.7", "3.0.7", []string{"1.1.1t", "3.0.8"}, false},
		{"3.0.8", "3.0.7", []string{"1.1.1t", "3.0.8"}, true},
		{"3.0.9", "3.0.7", []string{"3.1.1", "3.0.8"}, true},
		// Nothing above the current version: no target.
		{"2.0", "2.0", []string{"1.9"}, false},
		{"", "1.0", []string{"1.1"}, false},
		{"1.1", "1.0", nil, false},
	} {
		if got := Fixes(tc.candidate, tc.current, tc.fixedIn); got != tc.want {
			t.Errorf("Fixes(%q, %q, %v) = %v, want %v", tc.candidate, tc.current, tc.fixedIn, got, tc.want)
		}
	}
}
