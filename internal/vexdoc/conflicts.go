package vexdoc

import (
	"fmt"
	"strings"

	openvex "github.com/openvex/go-vex/pkg/vex"
)

// scope is one (product, subcomponent) pair a statement covers; sub is
// empty when the product has no subcomponents (the whole product).
type scope struct{ product, sub string }

func scopes(st *openvex.Statement) []scope {
	var out []scope
	for _, p := range st.Products {
		if len(p.Subcomponents) == 0 {
			out = append(out, scope{product: p.ID})
			continue
		}
		for _, s := range p.Subcomponents {
			out = append(out, scope{product: p.ID, sub: s.ID})
		}
	}
	return out
}

// overlaps reports whether two component ids can name the same thing: equal,
// or package URLs one of which is more general (no version, fewer
// qualifiers) than the other, as go-vex matches them.
func overlaps(a, b string) bool {
	if a == b {
		return true
	}
	if strings.HasPrefix(a, "pkg:") && strings.HasPrefix(b, "pkg:") {
		return openvex.PurlMatches(a, b) || openvex.PurlMatches(b, a)
	}
	return false
}

func (s scope) overlaps(o scope) bool {
	return overlaps(s.product, o.product) && (s.sub == "" || o.sub == "" || overlaps(s.sub, o.sub))
}

func vulnIDs(v openvex.Vulnerability) []string {
	ids := []string{string(v.Name)}
	for _, a := range v.Aliases {
		ids = append(ids, string(a))
	}
	return ids
}

func sameVulnerability(a, b openvex.Vulnerability) bool {
	for _, x := range vulnIDs(a) {
		for _, y := range vulnIDs(b) {
			if x != "" && x == y {
				return true
			}
		}
	}
	return false
}

// Conflicts reports every pair of statements, in one document or across
// documents, about the same vulnerability (name or alias) in the same
// product and subcomponent whose statuses differ. Scanners disagree on
// which of two such statements wins (go-vex and grype take the one with
// the earliest timestamp), so a fleet keeps one status per vulnerability,
// product and subcomponent and updates it in place. The problem is
// reported on the later statement of each pair.
func Conflicts(docs []*Document) Problems {
	type entry struct {
		d  *Document
		i  int
		st *openvex.Statement
		sc []scope
	}
	var all []entry
	for _, d := range docs {
		for i := range d.VEX.Statements {
			st := &d.VEX.Statements[i]
			all = append(all, entry{d, i, st, scopes(st)})
		}
	}
	var out Problems
	for j, b := range all {
		for _, a := range all[:j] {
			if a.st.Status == b.st.Status || !sameVulnerability(a.st.Vulnerability, b.st.Vulnerability) {
				continue
			}
			var hit *[2]scope
			for _, x := range a.sc {
				for _, y := range b.sc {
					if hit == nil && x.overlaps(y) {
						hit = &[2]scope{x, y}
					}
				}
			}
			if hit == nil {
				continue
			}
			where := fmt.Sprintf("statements[%d]", a.i)
			if a.d != b.d {
				where = a.d.Path + " " + where
			}
			if l := a.d.Line(a.i); l > 0 {
				where += fmt.Sprintf(" (line %d)", l)
			}
			out = append(out, Problem{
				File: b.d.Path, Line: b.d.Line(b.i), Statement: ptr(b.i), Field: fmt.Sprintf("statements[%d].status", b.i),
				Message: fmt.Sprintf("%s in %s is %s here but %s in %s: keep one status per vulnerability, product and subcomponent (update that statement instead)",
					b.st.Vulnerability.Name, describe(hit[1]), b.st.Status, a.st.Status, where),
			})
		}
	}
	return out
}

func describe(s scope) string {
	if s.sub == "" {
		return s.product
	}
	return s.sub + " of " + s.product
}
