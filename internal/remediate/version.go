package remediate

import "strconv"

// CompareVersions compares two version strings the way Nix's
// builtins.compareVersions does: -1, 0 or 1. Versions split into
// components at '.' and '-' and between digits and letters; numeric
// components compare as numbers, "pre" sorts before anything else, a
// letter component before a number ("2.3a" < "2.3.1"), and a missing
// component before a number ("2.3" < "2.3.1"). As in Nix, a run of digits
// too large for a 32-bit int compares as letters.
func CompareVersions(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var c1, c2 string
		c1, i = nextComponent(a, i)
		c2, j = nextComponent(b, j)
		if componentLess(c1, c2) {
			return -1
		}
		if componentLess(c2, c1) {
			return 1
		}
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func nextComponent(s string, i int) (string, int) {
	for i < len(s) && (s[i] == '.' || s[i] == '-') {
		i++
	}
	start := i
	if i < len(s) && isDigit(s[i]) {
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	} else {
		for i < len(s) && !isDigit(s[i]) && s[i] != '.' && s[i] != '-' {
			i++
		}
	}
	return s[start:i], i
}

// numeric reports whether c is a number as Nix reads it: digits that fit
// a 32-bit int (longer runs compare as text, as in Nix).
func numeric(c string) bool {
	if c == "" {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !isDigit(c[i]) {
			return false
		}
	}
	_, err := strconv.ParseInt(c, 10, 32)
	return err == nil
}

// numLess compares two numeric components.
func numLess(a, b string) bool {
	x, _ := strconv.ParseInt(a, 10, 32)
	y, _ := strconv.ParseInt(b, 10, 32)
	return x < y
}

func componentLess(c1, c2 string) bool {
	n1, n2 := numeric(c1), numeric(c2)
	switch {
	case n1 && n2:
		return numLess(c1, c2)
	case c1 == "" && n2:
		return true
	case c1 == "pre" && c2 != "pre":
		return true
	case c2 == "pre":
		return false
	case n2:
		return true
	case n1:
		return false
	default:
		return c1 < c2
	}
}

// Fixes reports whether version candidate carries the fix for a finding
// in version current whose fixed versions are fixedIn: candidate is at
// least the lowest fixed version above current. A fixed version at or
// below current belongs to another release line and is not a target.
func Fixes(candidate, current string, fixedIn []string) bool {
	target := fixTarget(current, fixedIn)
	return target != "" && candidate != "" && CompareVersions(candidate, target) >= 0
}

// fixTarget is the lowest fixed version above current ("" if none).
func fixTarget(current string, fixedIn []string) string {
	target := ""
	for _, f := range fixedIn {
		if CompareVersions(f, current) > 0 && (target == "" || CompareVersions(f, target) < 0) {
			target = f
		}
	}
	return target
}
