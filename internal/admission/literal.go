package admission

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/clearcutt/clearcutt/internal/fleet"
)

// Every value the policies take from the fleet file or from flags is a
// literal: an identity, a ref, a repository. The engines read some of the
// fields it lands in as patterns — Kyverno matches keyless subject, issuer
// and additionalExtensions values, Equals/AnyIn condition values and
// imageReferences with wildcards ("*", "?") that have no escape, and
// substitutes "{{ }}" variables and "$( )" references in every rule field;
// policy-controller compiles an image glob into a regular expression — so
// a value holding such a character is refused (fleet.LiteralProblem), never
// emitted. Where a generator does build a pattern, it escapes the literal
// parts (exactSubjects) and adds only its own, fixed syntax ("/*" after the
// registry repository).

// literal refuses value, named field of file, when an engine would read
// part of it as a pattern.
func literal(file, field, value string) error {
	if p := fleet.LiteralProblem(value); p != "" {
		return fmt.Errorf("%w: %s: %s %q %s; admission policies name exact values, and this one would be read as a pattern", ErrInvalidOptions, file, field, value, p)
	}
	return nil
}

// reRepository is what a registry repository prefix may hold in the
// policies: the characters of a registry host, port and path. Anything
// else — a quote ends the JMESPath string literal of the tier rule, and
// "?", "[", "]", "\" and "^" keep their regular-expression meaning in
// policy-controller's globs — is refused.
var reRepository = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]*$`)

// exactSubjects is a regular expression that matches exactly the given
// certificate subjects and nothing else: each one escaped with
// regexp.QuoteMeta, anchored at both ends.
func exactSubjects(sans ...string) string {
	quoted := make([]string, len(sans))
	for i, s := range sans {
		quoted[i] = regexp.QuoteMeta(s)
	}
	return "^(?:" + strings.Join(quoted, "|") + ")$"
}

// cueString is s as a CUE double-quoted string literal. Backslash and
// double quote are escaped, and so is every character that is not
// printable (as \uXXXX or \UXXXXXXXX), so that no value ends the literal,
// starts an interpolation ("\(") or spills onto another line of the
// policy.
func cueString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == utf8.RuneError && size <= 1:
			b.WriteString(`\uFFFD`)
		case r == ' ' || (r < 0x80 && unicode.IsPrint(r)):
			b.WriteRune(r)
		case r >= 0x80 && unicode.IsPrint(r) && !unicode.IsSpace(r):
			b.WriteRune(r)
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08X`, r)
		default:
			fmt.Fprintf(&b, `\u%04X`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// cueCheck is one requirement of a CUE attestation policy: the predicate
// field at path must be present and unify with the CUE value want; with
// orAbsent it may also be absent.
type cueCheck struct {
	path     []string
	want     string
	orAbsent bool
}

// cuePolicy renders checks as a CUE policy for policy-controller.
// policy-controller unifies the policy with the statement and validates
// the result; unification fills in a field the statement lacks, so
// "predicate: result: \"PASSED\"" would admit a statement without a
// result. Each check therefore collects the field's values from the
// statement with a comprehension (which sees only the fields the statement
// has) and unifies that list with the list it requires: [want] when the
// field must be present, [] | [want] when it may be absent.
func cuePolicy(checks ...cueCheck) string {
	var b strings.Builder
	b.WriteString("predicate: _\n")
	b.WriteString("clearcuttChecks: {\n")
	for _, c := range checks {
		var expr strings.Builder
		expr.WriteString("[")
		parent := "predicate"
		for i, key := range c.path {
			v := fmt.Sprintf("v%d", i)
			fmt.Fprintf(&expr, "for k%d, %s in %s if k%d == %s ", i, v, parent, i, cueString(key))
			parent = v
		}
		fmt.Fprintf(&expr, "{%s}]", parent)
		want := "[" + c.want + "]"
		if c.orAbsent {
			want = "([] | " + want + ")"
		}
		fmt.Fprintf(&b, "  %s: %s & %s\n", cueString("predicate."+strings.Join(c.path, ".")), expr.String(), want)
	}
	b.WriteString("}\n")
	return b.String()
}
