package sbom

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/anchore/packageurl-go"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spdx/tools-golang/spdx"
)

// NamespacePrefix starts every document namespace:
// NamespacePrefix + "<repository>[/<tag>]/sha256-<hex>-<content hash>".
const NamespacePrefix = "https://clearcutt.dev/spdx/image/"

// identity is what ties the document to one platform image.
type identity struct {
	name   string // as given, e.g. ghcr.io/acme/fleet/python:distroless
	repo   string // ghcr.io/acme/fleet/python
	tag    string // distroless (may be empty)
	digest v1.Hash
	arch   string
}

func newIdentity(s string, d v1.Hash) (identity, error) {
	if s == "" {
		return identity{}, fmt.Errorf("%w: no image name", ErrInvalidOptions)
	}
	if strings.Contains(s, "@") {
		return identity{}, fmt.Errorf("%w: image name %q carries a digest: give the digest as Digest", ErrInvalidOptions, s)
	}
	id := identity{name: s, repo: s, digest: d}
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		id.repo, id.tag = s[:i], s[i+1:]
	}
	if _, err := name.NewRepository(id.repo); err != nil {
		return identity{}, fmt.Errorf("%w: image name %q: %v", ErrInvalidOptions, s, err)
	}
	if id.tag != "" {
		if _, err := name.NewTag(s); err != nil {
			return identity{}, fmt.Errorf("%w: image name %q: %v", ErrInvalidOptions, s, err)
		}
	}
	return id, nil
}

// docName is the SPDX document name: name@digest.
func (id identity) docName() string { return id.name + "@" + id.digest.String() }

// namespaceBase is the namespace without its content hash.
func (id identity) namespaceBase() string {
	var b strings.Builder
	b.WriteString(NamespacePrefix)
	for _, seg := range strings.Split(id.repo, "/") {
		b.WriteString(url.PathEscape(seg) + "/")
	}
	if id.tag != "" {
		b.WriteString(url.PathEscape(id.tag) + "/")
	}
	b.WriteString(id.digest.Algorithm + "-" + id.digest.Hex)
	return b.String()
}

// purl is pkg:oci/<last path element>@<digest>?arch=…&repository_url=…&tag=…
// (repository_url only when the name has a registry or a path).
func (id identity) purl() string {
	short := id.repo[strings.LastIndex(id.repo, "/")+1:]
	q := packageurl.Qualifiers{{Key: "arch", Value: id.arch}}
	if strings.Contains(id.repo, "/") {
		q = append(q, packageurl.Qualifier{Key: "repository_url", Value: id.repo})
	}
	if id.tag != "" {
		q = append(q, packageurl.Qualifier{Key: "tag", Value: id.tag})
	}
	return packageurl.NewPackageURL("oci", "", short, id.digest.String(), q, "").ToString()
}

var notElementID = regexp.MustCompile(`[^a-zA-Z0-9.-]+`)

// elementID makes an SPDX element ID (without the SPDXRef- prefix) from
// parts joined by "-".
func elementID(parts ...string) spdx.ElementID {
	return spdx.ElementID(notElementID.ReplaceAllString(strings.Join(parts, "-"), "-"))
}

// rootPackage is the package the document describes: the platform image,
// named by its repository, versioned and checksummed by its digest.
func (id identity) rootPackage() *spdx.Package {
	return &spdx.Package{
		PackageName:             id.repo,
		PackageSPDXIdentifier:   elementID("DocumentRoot", "Image", id.name),
		PackageVersion:          id.digest.String(),
		PackageSupplier:         &spdx.Supplier{Supplier: noAssertion},
		PackageDownloadLocation: noAssertion,
		PackageChecksums:        []spdx.Checksum{{Algorithm: spdx.SHA256, Value: id.digest.Hex}},
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PackageCopyrightText:    noAssertion,
		PrimaryPackagePurpose:   "CONTAINER",
		PackageComment:          "OCI image manifest " + id.digest.String() + " (" + id.arch + ") of " + id.name,
		PackageExternalReferences: []*spdx.PackageExternalReference{
			{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: id.purl()},
		},
	}
}

const noAssertion = "NOASSERTION"

// replaceRoot puts root in place of the package Syft's document
// describes, keeping Syft's file analysis of the image.
func replaceRoot(doc *spdx.Document, root *spdx.Package) {
	var old spdx.ElementID
	for _, r := range doc.Relationships {
		if r != nil && r.RefA.ElementRefID == "DOCUMENT" && r.Relationship == "DESCRIBES" {
			old = r.RefB.ElementRefID
		}
	}
	pkgs := doc.Packages[:0]
	for _, p := range doc.Packages {
		if p == nil {
			continue
		}
		if p.PackageSPDXIdentifier == old && old != "" {
			root.FilesAnalyzed = p.FilesAnalyzed
			root.IsFilesAnalyzedTagPresent = p.IsFilesAnalyzedTagPresent
			root.PackageVerificationCode = p.PackageVerificationCode
			continue
		}
		pkgs = append(pkgs, p)
	}
	doc.Packages = append(pkgs, root)
	if old == "" {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         spdx.DocElementID{ElementRefID: "DOCUMENT"},
			Relationship: "DESCRIBES",
			RefB:         spdx.DocElementID{ElementRefID: root.PackageSPDXIdentifier},
		})
		return
	}
	remap(doc, map[spdx.ElementID]spdx.ElementID{old: root.PackageSPDXIdentifier})
}

// remap renames element IDs in every relationship.
func remap(doc *spdx.Document, ids map[spdx.ElementID]spdx.ElementID) {
	for _, r := range doc.Relationships {
		if r == nil {
			continue
		}
		if n, ok := ids[r.RefA.ElementRefID]; ok && r.RefA.DocumentRefID == "" {
			r.RefA.ElementRefID = n
		}
		if n, ok := ids[r.RefB.ElementRefID]; ok && r.RefB.DocumentRefID == "" {
			r.RefB.ElementRefID = n
		}
	}
}
