package fleet

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// The identity of a fleet (issuer, repositories, workflows, refs) and its
// registry repository reach the admission policies as they are written.
// Kyverno matches a keyless subject, issuer and certificate extension, an
// Equals or AnyIn condition value and an imageReferences entry with
// wildcard.Match, where "*" and "?" are wildcards with no escape, and it
// substitutes "{{ }}" variables and "$( )" references in every rule field;
// sigstore policy-controller turns an image glob into a regular expression
// in which "*" is a wildcard and "[", "]", "?" and "\" keep their regular
// expression meaning. A value holding any of these characters would make a
// policy that trusts more than the value names, so the fleet file refuses
// them, and the admission generators refuse them again.

// patternChars are the characters refused in literal values, with what an
// engine reads them as.
var patternChars = map[rune]string{
	'*':  "a wildcard in Kyverno's subject, issuer, certificate-extension, condition and image matching and in policy-controller's image globs",
	'?':  "a single-character wildcard in Kyverno's subject, issuer, certificate-extension, condition and image matching",
	'[':  "opens a character class in policy-controller's image globs",
	']':  "closes a character class in policy-controller's image globs",
	'{':  "opens a Kyverno variable ({{ }})",
	'}':  "closes a Kyverno variable ({{ }})",
	'$':  "starts a Kyverno reference ($( ))",
	'\\': "escapes the next character in Kyverno variables and in policy-controller's image globs",
}

// LiteralProblem says why s cannot be written into an admission policy as
// a literal: the first pattern character it holds and what an admission
// engine reads it as, or a space or control character (no identity or
// repository holds one). It returns "" for a value that matches only
// itself.
func LiteralProblem(s string) string {
	for _, r := range s {
		if why, ok := patternChars[r]; ok {
			return fmt.Sprintf("holds %q, %s", string(r), why)
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Sprintf("holds %U, a space or control character, which no identity or repository holds", r)
		}
		if r == utf8.RuneError {
			return fmt.Sprintf("holds %U or a byte that is not UTF-8, which no identity or repository holds", r)
		}
	}
	return ""
}
