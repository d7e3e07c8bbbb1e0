package scan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"

	"github.com/clearcutt/clearcutt/internal/vexdoc"
)

// VEXPredicateType is the predicate type of the applied-VEX statement.
const VEXPredicateType = "https://openvex.dev/ns/v0.2.0"

type vexDoc struct {
	path string
	doc  *openvex.VEX
}

// AppliedVEX is the OpenVEX document of the statements that applied to one
// image: each statement's product is the image and its subcomponents are
// the package URLs it covered.
type AppliedVEX struct {
	Doc openvex.VEX
	// Sources are the documents the statements came from.
	Sources []string
}

// checkVEXDates refuses documents dated in the future: a document whose
// timestamp or last_updated, or one of whose statements' timestamp or
// last_updated, is later than now plus vexdoc.ClockSkew. No one can have
// made such a statement yet; grype reads the same files, so the statement
// cannot be left out and the scan fails instead. The error names every
// file, statement, field and time.
func checkVEXDates(docs []vexDoc, now time.Time) error {
	var probs vexdoc.Problems
	for _, d := range docs {
		for _, p := range vexdoc.CheckDates(d.doc, now) {
			p.File = d.path
			probs = append(probs, p)
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidVEX, probs)
}

// findStatement is the first statement of docs about f's vulnerability
// and package.
func findStatement(docs []vexDoc, f Finding) *openvex.Statement {
	for _, d := range docs {
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			if f.Package.PURL == "" {
				continue
			}
			if st := d.doc.Matches(id, f.Package.PURL, nil); len(st) > 0 {
				s := st[0]
				return &s
			}
		}
	}
	return nil
}

// subjectProduct is the package URL statements naming an image are
// matched against: the subject's runtime and digest, its tier as the tag.
func subjectProduct(s Subject) string {
	runtime, tier, _ := strings.Cut(s.Name, ":")
	return vexdoc.SubjectProduct(runtime, tier, s.Digest.Algorithm, s.Digest.Hex)
}

// statementMatches reports whether st covers vulnerability id in f's
// package: as a product of its own, or as a subcomponent of the scanned
// image (a statement naming the whole image covers every package).
func statementMatches(st *openvex.Statement, id string, f Finding, image string) bool {
	return st.Matches(id, f.Package.PURL, nil) || st.Matches(id, image, []string{f.Package.PURL})
}

// imageStatement is the first statement of docs that names the scanned
// image as its product and covers f, for the findings grype's processor
// leaves active: it matches image products only against image references
// it was given, and an SBOM carries none.
func imageStatement(docs []vexDoc, s Subject, f Finding) *openvex.Statement {
	if f.Package.PURL == "" {
		return nil
	}
	image := subjectProduct(s)
	for _, d := range docs {
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			if st := d.doc.Matches(id, image, []string{f.Package.PURL}); len(st) > 0 {
				m := st[0]
				return &m
			}
		}
	}
	return nil
}

// appliedVEX collects, per source statement, the packages of res it
// covered, and rewrites the statements for the scanned image.
func appliedVEX(docs []vexDoc, res Result, now time.Time) *AppliedVEX {
	out := &AppliedVEX{Doc: openvex.VEX{Metadata: openvex.Metadata{
		Context:   openvex.ContextLocator(),
		ID:        "urn:clearcutt:vex:" + res.Subject.Digest.Algorithm + ":" + res.Subject.Digest.Hex,
		Author:    "clearcutt scan",
		Timestamp: ptr(now.UTC().Truncate(time.Second)),
		Version:   1,
		Tooling:   res.Scanner.URI,
	}, Statements: []openvex.Statement{}}}
	product := imageComponent(res.Subject)
	image := subjectProduct(res.Subject)
	authors := map[string]bool{}
	for _, d := range docs {
		used := false
		for _, st := range d.doc.Statements {
			var subs []string
			for _, f := range res.Findings {
				if f.Package.PURL == "" {
					continue
				}
				for _, id := range append([]string{f.ID}, f.Aliases...) {
					if statementMatches(&st, id, f, image) {
						subs = appendUnique(subs, f.Package.PURL)
					}
				}
			}
			if len(subs) == 0 {
				continue
			}
			used = true
			sort.Strings(subs)
			s := *st.DeepCopy()
			if s.Timestamp == nil {
				s.Timestamp = d.doc.Timestamp
			}
			p := openvex.Product{Component: product}
			for _, sc := range subs {
				p.Subcomponents = append(p.Subcomponents, openvex.Subcomponent{Component: openvex.Component{ID: sc}})
			}
			s.Products = []openvex.Product{p}
			// The packages are products too: a scanner given only the SBOM
			// (grype sbom:… --vex) knows no image digest to match, only
			// package purls.
			for _, sc := range subs {
				s.Products = append(s.Products, openvex.Product{Component: openvex.Component{ID: sc}})
			}
			out.Doc.Statements = append(out.Doc.Statements, s)
		}
		if used {
			out.Sources = append(out.Sources, d.path)
			if d.doc.Author != "" {
				authors[d.doc.Author] = true
			}
		}
	}
	if len(authors) > 0 {
		var as []string
		for a := range authors {
			as = append(as, a)
		}
		sort.Strings(as)
		out.Doc.Author = strings.Join(as, "; ")
	}
	return out
}

// imageComponent identifies the scanned image by digest.
func imageComponent(s Subject) openvex.Component {
	name := strings.ToLower(s.Name)
	if i := strings.IndexAny(name, ":@"); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		name = "image"
	}
	c := openvex.Component{ID: "pkg:oci/" + name + "@" + s.Digest.Algorithm + "%3A" + s.Digest.Hex}
	if s.Digest.Algorithm == "sha256" {
		c.Hashes = map[openvex.Algorithm]openvex.Hash{openvex.SHA256: openvex.Hash(s.Digest.Hex)}
	}
	return c
}

func ptr[T any](v T) *T { return &v }
