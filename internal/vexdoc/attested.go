package vexdoc

import (
	"fmt"
	"strings"
	"time"

	"github.com/openvex/go-vex/pkg/vex"
	"github.com/package-url/packageurl-go"
)

// AttestedImage is the platform image an OpenVEX attestation is about.
type AttestedImage struct {
	// Name is the runtime id: the last path segment of the image's
	// repository (python for ghcr.io/clearcutt/fleet/python).
	Name string
	// Digest is the platform image's digest, "sha256:<hex>".
	Digest string
}

func (im AttestedImage) String() string { return im.Name + "@" + im.Digest }

// CheckAttested checks the OpenVEX document attested about image (the
// predicate of its https://openvex.dev/ns/v0.2.0 attestation) at now. The
// document holds at least one statement; every statement passes go-vex's
// Validate and names the image as a product; no timestamp or last_updated,
// of the document or of a statement, is later than now plus ClockSkew.
//
// A product names the image when its @id or its purl identifier is
// pkg:oci/<Name>, with any tag qualifier or none (and no other qualifier),
// whose version, if it has
// one, is the image digest, or when its sha-256 hash is the digest; and
// nothing of it names something else: an @id or purl identifier that is
// another package URL (another type, name or digest) or a sha-256 hash
// that is another digest. A product that is an image (pkg:oci/…) other
// than this one is a problem of its own. Products of other types (the
// package URLs clearcutt scan lists next to the image) are allowed beside
// a product naming the image, never instead of one.
//
// The error is Problems (wrapping ErrInvalid), each naming the statement
// (statements[i]) and the field; nil when the document passes.
func CheckAttested(doc *vex.VEX, image AttestedImage, now time.Time) error {
	var out Problems
	add := func(i int, field, format string, args ...any) {
		p := Problem{Field: field, Message: fmt.Sprintf(format, args...)}
		if i >= 0 {
			p.Statement = ptr(i)
		}
		out = append(out, p)
	}
	switch {
	case doc == nil:
		return Problems{{Message: "no OpenVEX document"}}
	case image.Name == "" || strings.ContainsAny(image.Name, "/:@?#"):
		return Problems{{Message: fmt.Sprintf("%q is not an image name (the last segment of its repository)", image.Name)}}
	case !ociVer.MatchString(image.Digest):
		return Problems{{Message: fmt.Sprintf("image digest %q is not sha256:<64 lower-case hex digits>", image.Digest)}}
	}
	out = append(out, CheckDates(doc, now)...)
	if len(doc.Statements) == 0 {
		add(-1, "statements", "empty: an attested OpenVEX document holds at least one statement")
	}
	for i := range doc.Statements {
		st := &doc.Statements[i]
		at := func(field string) string { return fmt.Sprintf("statements[%d]%s", i, field) }
		if err := st.Validate(); err != nil {
			add(i, at(""), "%v", err)
		}
		named, others := false, false
		for j, p := range st.Products {
			switch names, other := productNames(p.Component, image); {
			case other != "":
				add(i, at(fmt.Sprintf(".products[%d]", j)), "%s: the attestation is about %s", other, image)
				others = true
			case names:
				named = true
			}
		}
		if !named && !others {
			add(i, at(".products"), "no product names %s: the statement is not about this image (products: %s)", image, productIDs(st.Products))
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// productNames reports whether c names image, or else why it names
// something other than image ("" when it names nothing checkable): a
// component naming image and something else names no image. A package URL of another type is not an image; it names
// something else only when c also claims to be an image.
func productNames(c vex.Component, image AttestedImage) (names bool, other string) {
	hex := strings.TrimPrefix(image.Digest, "sha256:")
	var purls []string
	if c.ID != "" {
		purls = append(purls, c.ID)
	}
	if id, ok := c.Identifiers[vex.PURL]; ok {
		purls = append(purls, id)
	}
	isImage := false
	var nonImage []string
	for _, s := range purls {
		p, err := packageurl.FromString(s)
		if err != nil || !strings.HasPrefix(s, "pkg:") {
			// An IRI that is no package URL identifies nothing checkable.
			continue
		}
		if p.Type != packageurl.TypeOCI {
			nonImage = append(nonImage, s)
			continue
		}
		isImage = true
		switch {
		case p.Namespace != "" || p.Name != image.Name:
			return false, fmt.Sprintf("%s names another image", s)
		case p.Version != "" && p.Version != image.Digest:
			return false, fmt.Sprintf("%s names another digest of %s", s, image.Name)
		}
		for k := range p.Qualifiers.Map() {
			if k != "tag" {
				// repository_url and the like can name another image of
				// the same name, which the digest alone cannot rule out.
				return false, fmt.Sprintf("%s qualifies the image by %s: an image product takes the tag qualifier only", s, k)
			}
		}
		names = true
	}
	if h, ok := c.Hashes[vex.SHA256]; ok {
		if string(h) != hex {
			if names || isImage {
				return false, fmt.Sprintf("sha-256 hash %s names another digest", h)
			}
			return false, ""
		}
		names = true
		isImage = true
	}
	if isImage && len(nonImage) > 0 {
		return false, fmt.Sprintf("the product is both an image and the package %s", strings.Join(nonImage, ", "))
	}
	return names, ""
}

func productIDs(ps []vex.Product) string {
	if len(ps) == 0 {
		return "none"
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
		if ids[i] == "" {
			ids[i] = "(no @id)"
		}
	}
	return strings.Join(ids, ", ")
}
