package sbom

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/anchore/packageurl-go"
	"github.com/spdx/tools-golang/spdx"

	"github.com/clearcutt/clearcutt/internal/closure"
)

// closurePackages are the packages of one closure manifest, made before
// Syft runs so that a bad manifest fails fast.
type closurePackages struct {
	m      *closure.Manifest
	byHash map[string]*spdx.Package
	byPath map[string]*spdx.Package
	known  map[spdx.ElementID]bool // the name has an upstream mapping
	list   []*spdx.Package
}

// storeHashLen is the length of the hash part of a store path name.
const storeHashLen = 32

// newClosurePackages makes one package per store path of m and checks
// that the closure graph is closed.
func newClosurePackages(m *closure.Manifest) (*closurePackages, error) {
	cell := m.Runtime + "-" + m.Tier + "-" + m.Arch
	c := &closurePackages{m: m, byHash: map[string]*spdx.Package{}, byPath: map[string]*spdx.Package{}, known: map[spdx.ElementID]bool{}}
	for _, sp := range m.Paths {
		p, hash, isKnown, err := storePackage(sp, sp.Path == m.Root)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidManifest, cell, err)
		}
		if c.byHash[hash] != nil {
			return nil, fmt.Errorf("%w: %s: store path %s is listed twice", ErrInvalidManifest, cell, sp.Path)
		}
		c.byHash[hash], c.byPath[sp.Path] = p, p
		c.known[p.PackageSPDXIdentifier] = isKnown
		c.list = append(c.list, p)
	}
	if c.byPath[m.Root] == nil {
		return nil, fmt.Errorf("%w: %s: root %q is not in paths", ErrInvalidManifest, cell, m.Root)
	}
	for _, sp := range m.Paths {
		for _, ref := range sp.References {
			if c.byPath[ref] == nil {
				return nil, fmt.Errorf("%w: %s: %s references %s, which is not in paths", ErrInvalidManifest, cell, sp.Path, ref)
			}
		}
	}
	return c, nil
}

// apply adds the closure packages to doc, merges Syft's package for the
// same store path (the pkg:nix purl with the same outputhash) into ours,
// and relates the image (root) CONTAINS each and each DEPENDS_ON its
// references. It returns how many Syft packages were merged.
func (c *closurePackages) apply(doc *spdx.Document, root spdx.ElementID) int {
	merged := 0
	renamed := map[spdx.ElementID]spdx.ElementID{}
	kept := doc.Packages[:0]
	for _, p := range doc.Packages {
		our := c.byHash[nixOutputHash(p)]
		if our == nil && p.PackageSPDXIdentifier != root {
			// A binary Syft recognised inside one store path (its binary
			// classifier: pkg:generic/python@3.11.2 in python3's bin/) is
			// that store path's package, not a second one: merged, so a
			// scanner does not report each of its vulnerabilities twice.
			if o := c.binaryOwner(p); o != nil {
				renamed[p.PackageSPDXIdentifier] = o.PackageSPDXIdentifier
				merged++
				continue
			}
		}
		if our == nil || p.PackageSPDXIdentifier == root {
			kept = append(kept, p)
			continue
		}
		// Syft's package for one of our store paths: keep its CPE
		// guesses only where no upstream mapping replaces them.
		if !c.known[our.PackageSPDXIdentifier] {
			for _, r := range p.PackageExternalReferences {
				if r.RefType == "cpe23Type" {
					our.PackageExternalReferences = append(our.PackageExternalReferences, r)
				}
			}
		}
		renamed[p.PackageSPDXIdentifier] = our.PackageSPDXIdentifier
		merged++
	}
	doc.Packages = append(kept, c.list...)
	remap(doc, renamed)

	for _, sp := range c.m.Paths {
		a := c.byPath[sp.Path].PackageSPDXIdentifier
		doc.Relationships = append(doc.Relationships, relationship(root, "CONTAINS", a))
		for _, ref := range sp.References {
			if ref != sp.Path {
				doc.Relationships = append(doc.Relationships, relationship(a, "DEPENDS_ON", c.byPath[ref].PackageSPDXIdentifier))
			}
		}
	}
	return merged
}

// storePathRe finds store paths in Syft's sourceInfo text.
var storePathRe = regexp.MustCompile(`/nix/store/[0-9a-df-np-sv-z]{32}-[^/\s,]+`)

// binaryOwner returns the closure package a Syft generic (binary
// classifier) package belongs to: every file Syft read it from lies in that
// one store path, whose package has an upstream identity and the same
// version. Otherwise nil.
func (c *closurePackages) binaryOwner(p *spdx.Package) *spdx.Package {
	purl := ""
	for _, r := range p.PackageExternalReferences {
		if r.RefType == "purl" {
			purl = r.Locator
		}
	}
	if !strings.HasPrefix(purl, "pkg:generic/") {
		return nil
	}
	paths := storePathRe.FindAllString(p.PackageSourceInfo, -1)
	if len(paths) == 0 {
		return nil
	}
	var owner *spdx.Package
	for _, sp := range paths {
		o := c.byPath[sp]
		if o == nil || (owner != nil && o != owner) {
			return nil
		}
		owner = o
	}
	if !c.known[owner.PackageSPDXIdentifier] || owner.PackageVersion != p.PackageVersion {
		return nil
	}
	return owner
}

func relationship(a spdx.ElementID, typ string, b spdx.ElementID) *spdx.Relationship {
	return &spdx.Relationship{
		RefA:         spdx.DocElementID{ElementRefID: a},
		Relationship: typ,
		RefB:         spdx.DocElementID{ElementRefID: b},
	}
}

// storePackage is the SPDX package of one store path. It returns the
// store hash and whether the name has an upstream mapping.
func storePackage(sp closure.StorePath, isRoot bool) (*spdx.Package, string, bool, error) {
	if err := closure.CheckStorePath(sp.Path); err != nil {
		return nil, "", false, fmt.Errorf("paths: %v", err)
	}
	base := path.Base(sp.Path)
	hash, storeName := base[:storeHashLen], base[storeHashLen+1:]
	sum, err := narSHA256(sp.NarHash)
	if err != nil {
		return nil, "", false, fmt.Errorf("%s: narHash: %v", sp.Path, err)
	}
	pname := sp.Pname
	if pname == "" {
		pname = storeName
	}
	q := packageurl.Qualifiers{}
	if sp.Version != "" {
		if out, ok := strings.CutPrefix(storeName, pname+"-"+sp.Version+"-"); ok {
			q = append(q, packageurl.Qualifier{Key: "output", Value: out})
		}
	}
	q = append(q, packageurl.Qualifier{Key: "outputhash", Value: hash})
	refs := []*spdx.PackageExternalReference{
		purlRef(packageurl.NewPackageURL("nix", "", pname, sp.Version, q, "").ToString()),
	}
	up, known := upstreamRefs(pname, sp.Version)
	refs = append(refs, up...)

	supplier := &spdx.Supplier{Supplier: "NixOS", SupplierType: "Organization"}
	if isRoot {
		supplier = &spdx.Supplier{Supplier: noAssertion}
	}
	comment := fmt.Sprintf("checksum SHA256 is the NAR hash of %s (narHash %s, narSize %d)", sp.Path, sp.NarHash, sp.NarSize)
	if sp.Role != "" {
		comment += "; role " + sp.Role
	}
	return &spdx.Package{
		PackageName:               pname,
		PackageSPDXIdentifier:     elementID("Package", "nix", pname, hash),
		PackageVersion:            sp.Version,
		PackageSupplier:           supplier,
		PackageDownloadLocation:   noAssertion,
		FilesAnalyzed:             false,
		IsFilesAnalyzedTagPresent: true,
		PackageChecksums:          []spdx.Checksum{{Algorithm: spdx.SHA256, Value: sum}},
		PackageSourceInfo:         "Nix store path " + sp.Path,
		PackageLicenseConcluded:   noAssertion,
		PackageLicenseDeclared:    noAssertion,
		PackageCopyrightText:      noAssertion,
		PackageComment:            comment,
		PackageExternalReferences: refs,
	}, hash, known, nil
}

// nixOutputHash is the outputhash qualifier of a package's pkg:nix purl.
func nixOutputHash(p *spdx.Package) string {
	if p == nil {
		return ""
	}
	for _, r := range p.PackageExternalReferences {
		if r.RefType != "purl" || !strings.HasPrefix(r.Locator, "pkg:nix/") {
			continue
		}
		u, err := packageurl.FromString(r.Locator)
		if err != nil {
			continue
		}
		return u.Qualifiers.Map()["outputhash"]
	}
	return ""
}

// narSHA256 returns the hex SHA-256 of a narHash given in SRI form
// (sha256-<base64>), as sha256:<nix32> or as sha256:<hex>.
func narSHA256(s string) (string, error) {
	sri, err := closure.SRIHash(s)
	if err != nil {
		return "", err
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sri, "sha256-"))
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
