package vexdoc

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"
	"github.com/package-url/packageurl-go"

	"github.com/clearcutt/clearcutt/internal/fleet"
)

var (
	cveID  = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)
	ghsaID = regexp.MustCompile(`^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$`)
	// otherID is an advisory id of another database (PYSEC-2023-74,
	// GO-2023-1234, RUSTSEC-2023-0001, DSA-5514-1, RHSA-2023:5455, …).
	otherID = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,15}-[A-Za-z0-9][A-Za-z0-9._:-]*$`)
	ociVer  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// CheckVulnerabilityID reports why id cannot name a vulnerability in a
// statement, nil if it can. Scanners compare ids exactly, so case matters.
func CheckVulnerabilityID(id string) error {
	up := strings.ToUpper(id)
	switch {
	case id == "":
		return errors.New("missing")
	case strings.TrimSpace(id) != id:
		return fmt.Errorf("%q has surrounding spaces", id)
	case strings.HasPrefix(up, "CVE-"):
		if !strings.HasPrefix(id, "CVE-") {
			return fmt.Errorf("%q: write CVE ids in upper case (%s); scanners compare ids exactly", id, up)
		}
		if !cveID.MatchString(id) {
			return fmt.Errorf("%q is not a CVE id (CVE-YYYY-NNNN)", id)
		}
	case strings.HasPrefix(up, "GHSA-"):
		want := "GHSA-" + strings.ToLower(id[5:])
		if !ghsaID.MatchString(id) {
			if ghsaID.MatchString(want) {
				return fmt.Errorf("%q: write GitHub advisory ids as %s; scanners compare ids exactly", id, want)
			}
			return fmt.Errorf("%q is not a GitHub advisory id (GHSA-xxxx-xxxx-xxxx)", id)
		}
	case !otherID.MatchString(id):
		return fmt.Errorf("%q is not a vulnerability id: want CVE-YYYY-NNNN, GHSA-xxxx-xxxx-xxxx or an advisory id such as PYSEC-2023-74", id)
	}
	return nil
}

// CheckPURL reports why s is not a package URL a statement can name, nil
// if it is. It parses s as go-vex's matcher does: a purl it cannot parse
// would never match anything.
func CheckPURL(s string) error {
	if s == "" {
		return errors.New("missing")
	}
	if !strings.HasPrefix(s, "pkg:") {
		return fmt.Errorf("%q is not a package URL (pkg:TYPE/NAME@VERSION)", s)
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("%q: a package URL has no whitespace", s)
	}
	p, err := packageurl.FromString(s)
	if err != nil {
		return fmt.Errorf("%q is not a package URL: %v", s, err)
	}
	if p.Type == "" || p.Name == "" {
		return fmt.Errorf("%q is not a package URL: no type or name", s)
	}
	rest := s
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if strings.HasSuffix(rest, "@") {
		return fmt.Errorf("%q: empty version after @ (leave out the @ to cover every version)", s)
	}
	if p.Type == "oci" && p.Version != "" && !ociVer.MatchString(p.Version) {
		return fmt.Errorf("%q: the version of an oci package URL is the image digest (sha256%%3A<64 hex digits>), not %q", s, p.Version)
	}
	return nil
}

// hashLen is the hex length of the digests of each OpenVEX algorithm.
var hashLen = map[openvex.Algorithm]int{
	openvex.MD5: 32, openvex.SHA1: 40, openvex.SHA256: 64, openvex.SHA384: 96, openvex.SHA512: 128,
	openvex.SHA3224: 56, openvex.SHA3256: 64, openvex.SHA3384: 96, openvex.SHA3512: 128,
	openvex.BLAKE2S256: 64, openvex.BLAKE2B256: 64, openvex.BLAKE2B512: 128, openvex.BLAKE3: 64,
}

// fieldProblem is a problem at a path relative to its statement.
type fieldProblem struct{ field, msg string }

type stmtChecker struct {
	images []fleet.Image
	now    time.Time
	out    []fieldProblem
}

func (c *stmtChecker) add(field, format string, args ...any) {
	c.out = append(c.out, fieldProblem{field, fmt.Sprintf(format, args...)})
}

// CheckStatement applies the statement rules to st, as Check does. The
// Field of each Problem is relative to the statement (justification,
// products[0].@id); File and Statement are unset. With opts.Images, a
// product that is an image (pkg:oci/…) must name one of them; no timestamp
// may be later than opts.Now plus ClockSkew.
func CheckStatement(st *openvex.Statement, opts CheckOptions) Problems {
	var out Problems
	for _, p := range checkStatement(st, opts.Images, opts.now()) {
		out = append(out, Problem{Field: p.field, Message: p.msg})
	}
	return out
}

func checkStatement(st *openvex.Statement, images []fleet.Image, now time.Time) []fieldProblem {
	c := &stmtChecker{images: images, now: now}
	if st.ID != "" {
		if err := checkIRI(st.ID); err != nil {
			c.add("@id", "%v", err)
		}
	}
	c.vulnerability(st.Vulnerability)
	c.status(st)
	if len(st.Products) == 0 {
		c.add("products", "missing: a statement names at least one product")
	}
	for i, p := range st.Products {
		c.product(fmt.Sprintf("products[%d]", i), p)
	}
	for _, t := range []struct {
		field string
		t     *time.Time
	}{{"timestamp", st.Timestamp}, {"last_updated", st.LastUpdated}, {"action_statement_timestamp", st.ActionStatementTimestamp}} {
		if t.t != nil {
			if err := checkUTC(*t.t); err != nil {
				c.add(t.field, "%v", err)
			}
			if msg := futureProblem(*t.t, c.now); msg != "" {
				c.add(t.field, "%s", msg)
			}
		}
	}
	if st.Timestamp != nil && st.LastUpdated != nil && st.LastUpdated.Before(*st.Timestamp) {
		c.add("last_updated", "%s is before the timestamp %s", st.LastUpdated.Format(time.RFC3339), st.Timestamp.Format(time.RFC3339))
	}
	if len(c.out) == 0 {
		// go-vex's own rules, which clearcutt scan applies when it loads
		// the document: what passes here loads there.
		if err := st.Validate(); err != nil {
			c.add("", "%v", err)
		}
	}
	return c.out
}

func (c *stmtChecker) vulnerability(v openvex.Vulnerability) {
	if err := CheckVulnerabilityID(string(v.Name)); err != nil {
		c.add("vulnerability.name", "%v", err)
	}
	if v.ID != "" {
		if err := checkIRI(v.ID); err != nil {
			c.add("vulnerability.@id", "%v", err)
		}
	}
	for i, a := range v.Aliases {
		if err := CheckVulnerabilityID(string(a)); err != nil {
			c.add(fmt.Sprintf("vulnerability.aliases[%d]", i), "%v", err)
		}
	}
}

func (c *stmtChecker) status(st *openvex.Statement) {
	not := func(field, value, status string) {
		if value != "" {
			c.add(field, "must not be set when the status is %s", status)
		}
	}
	switch st.Status {
	case openvex.StatusNotAffected:
		if st.Justification == "" && st.ImpactStatement == "" {
			c.add("justification", "not_affected needs a justification (one of %s) or an impact statement", strings.Join(openvex.Justifications(), ", "))
		}
		if st.Justification != "" && !st.Justification.Valid() {
			c.add("justification", "%q is not an OpenVEX justification: want one of %s", st.Justification, strings.Join(openvex.Justifications(), ", "))
		}
		not("action_statement", st.ActionStatement, "not_affected")
	case openvex.StatusAffected:
		if strings.TrimSpace(st.ActionStatement) == "" {
			c.add("action_statement", "affected needs an action statement: what users should do about the vulnerability")
		}
		not("justification", string(st.Justification), "affected")
		not("impact_statement", st.ImpactStatement, "affected")
	case openvex.StatusFixed, openvex.StatusUnderInvestigation:
		not("justification", string(st.Justification), string(st.Status))
		not("impact_statement", st.ImpactStatement, string(st.Status))
		not("action_statement", st.ActionStatement, string(st.Status))
	case "":
		c.add("status", "missing: want one of %s", strings.Join(openvex.Statuses(), ", "))
	default:
		c.add("status", "%q is not an OpenVEX status: want one of %s", st.Status, strings.Join(openvex.Statuses(), ", "))
	}
}

func (c *stmtChecker) product(field string, p openvex.Product) {
	c.component(field, p.Component)
	if p.ID != "" && len(c.images) > 0 && CheckPURL(p.ID) == nil {
		if names, isImage := NamedImages(p.ID, c.images); isImage && len(names) == 0 {
			c.add(field+".@id", "%q names no image of the fleet (images are %s)", p.ID, imageList(c.images))
		} else if isImage {
			c.scannedForm(field+".@id", p.ID)
		}
	}
	for j, s := range p.Subcomponents {
		c.component(fmt.Sprintf("%s.subcomponents[%d]", field, j), s.Component)
	}
}

func (c *stmtChecker) component(field string, comp openvex.Component) {
	if comp.ID == "" {
		c.add(field+".@id", "missing: name the component by package URL, which is what scans match")
	} else if err := CheckPURL(comp.ID); err != nil {
		c.add(field+".@id", "%v", err)
	}
	for alg, h := range comp.Hashes {
		n, ok := hashLen[alg]
		if !ok {
			c.add(fmt.Sprintf("%s.hashes.%s", field, alg), "not an OpenVEX hash algorithm")
			continue
		}
		if _, err := hex.DecodeString(string(h)); err != nil || len(h) != n || strings.ToLower(string(h)) != string(h) {
			c.add(fmt.Sprintf("%s.hashes.%s", field, alg), "%q is not %d lower-case hex digits", h, n)
		}
	}
	for t, id := range comp.Identifiers {
		f := fmt.Sprintf("%s.identifiers.%s", field, t)
		switch t {
		case openvex.PURL:
			if err := CheckPURL(id); err != nil {
				c.add(f, "%v", err)
			}
		case openvex.CPE22:
			if !strings.HasPrefix(id, "cpe:/") {
				c.add(f, "%q is not a CPE 2.2 name (cpe:/…)", id)
			}
		case openvex.CPE23:
			if !strings.HasPrefix(id, "cpe:2.3:") || strings.Count(id, ":") < 12 {
				c.add(f, "%q is not a CPE 2.3 name (cpe:2.3:part:vendor:product:…)", id)
			}
		default:
			c.add(f, "not an OpenVEX identifier type (purl, cpe22, cpe23)")
		}
	}
}

// scannedForm adds a problem when the image product id, which names an
// image of the fleet, is in a form clearcutt scan never matches: the image
// it scans is pkg:oci/<runtime>@<digest>?tag=<tier>, so a statement applies
// to it through pkg:oci/<runtime>, its tier as the tag, its digest as the
// version, and nothing else.
func (c *stmtChecker) scannedForm(field, id string) {
	p, err := packageurl.FromString(id)
	if err != nil {
		return
	}
	for _, q := range p.Qualifiers {
		if q.Key == "tag" {
			continue
		}
		c.add(field, "%q: clearcutt scan matches an image product by runtime, tier tag and digest only, so the %s qualifier keeps the statement from applying; leave it out", id, q.Key)
	}
	tag, ok := p.Qualifiers.Map()["tag"]
	if !ok {
		return
	}
	for _, img := range c.images {
		if path.Base(img.Repository) == p.Name && img.Tier == tag {
			return
		}
	}
	for _, img := range c.images {
		if path.Base(img.Repository) == p.Name && slices.Contains(img.Tags, tag) {
			c.add(field, "%q: %s is a tag of %s, not its tier; clearcutt scan matches the tier: write %s", id, tag, img.RefName, ImageProduct(img))
			return
		}
	}
}

func imageList(images []fleet.Image) string {
	names := make([]string, len(images))
	for i, im := range images {
		names[i] = im.RefName
	}
	return strings.Join(names, ", ")
}

func checkIRI(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("%q is not an IRI (https://…, urn:…)", s)
	}
	return nil
}

func checkUTC(t time.Time) error {
	if t.Location() != time.UTC {
		return fmt.Errorf("%s is not in UTC: write it with a Z suffix", t.Format(time.RFC3339))
	}
	return nil
}

// Check applies the document and statement rules to d. With opts.Images
// (the fleet's), an image product (pkg:oci/…) must name one of them; nil
// images skips that rule. No timestamp of the document or of a statement
// may be later than opts.Now plus ClockSkew.
func Check(d *Document, opts CheckOptions) Problems {
	var out Problems
	now := opts.now()
	doc := func(field, format string, args ...any) {
		out = append(out, Problem{File: d.Path, Line: d.FieldLine(field), Field: field, Message: fmt.Sprintf(format, args...)})
	}
	m := d.VEX.Metadata
	if m.Context != Context {
		doc("@context", "is %q, want %q", m.Context, Context)
	}
	if m.ID == "" {
		doc("@id", "missing: the document's IRI")
	} else if err := checkIRI(m.ID); err != nil {
		doc("@id", "%v", err)
	}
	if strings.TrimSpace(m.Author) == "" {
		doc("author", "missing: who stands behind the statements")
	}
	if m.Timestamp == nil {
		doc("timestamp", "missing: when the document was issued")
	} else {
		if err := checkUTC(*m.Timestamp); err != nil {
			doc("timestamp", "%v", err)
		}
		if msg := futureProblem(*m.Timestamp, now); msg != "" {
			doc("timestamp", "%s", msg)
		}
	}
	if m.LastUpdated != nil {
		if err := checkUTC(*m.LastUpdated); err != nil {
			doc("last_updated", "%v", err)
		} else if m.Timestamp != nil && m.LastUpdated.Before(*m.Timestamp) {
			doc("last_updated", "%s is before the timestamp %s", m.LastUpdated.Format(time.RFC3339), m.Timestamp.Format(time.RFC3339))
		}
		if msg := futureProblem(*m.LastUpdated, now); msg != "" {
			doc("last_updated", "%s", msg)
		}
	}
	if m.Version < 1 {
		doc("version", "is %d: versions start at 1 and grow with every change", m.Version)
	}
	if len(d.VEX.Statements) == 0 {
		doc("statements", "empty: a document holds at least one statement")
	}
	ids := map[string]int{}
	for i := range d.VEX.Statements {
		st := &d.VEX.Statements[i]
		at := func(field string) string {
			if field == "" {
				return fmt.Sprintf("statements[%d]", i)
			}
			return fmt.Sprintf("statements[%d].%s", i, field)
		}
		for _, p := range checkStatement(st, opts.Images, now) {
			out = append(out, Problem{File: d.Path, Line: d.Line(i), Statement: ptr(i), Field: at(p.field), Message: p.msg})
		}
		if st.ID != "" {
			if j, dup := ids[st.ID]; dup {
				out = append(out, Problem{File: d.Path, Line: d.Line(i), Statement: ptr(i), Field: at("@id"), Message: fmt.Sprintf("%q is also the @id of statements[%d]", st.ID, j)})
			}
			ids[st.ID] = i
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
