package sbom

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"github.com/spdx/tools-golang/spdx"
)

// finish gives doc its deterministic form: name, creators and creation
// time from the options, elements sorted, duplicate relationships removed,
// and a namespace made of the image identity and a hash of the rest of
// the document (so that a changed document gets a new namespace, as SPDX
// requires). It returns the encoded document and its namespace.
func finish(doc *spdx.Document, id identity, created time.Time) ([]byte, string, error) {
	doc.DocumentName = id.docName()
	if doc.CreationInfo == nil {
		doc.CreationInfo = &spdx.CreationInfo{}
	}
	doc.CreationInfo.Creators = []spdx.Creator{
		{CreatorType: "Tool", Creator: "clearcutt"},
		{CreatorType: "Tool", Creator: "syft-" + syftVersion()},
	}
	doc.CreationInfo.Created = created.UTC().Format(time.RFC3339)

	slices.SortFunc(doc.Packages, func(a, b *spdx.Package) int {
		return cmp.Compare(a.PackageSPDXIdentifier, b.PackageSPDXIdentifier)
	})
	slices.SortFunc(doc.Files, func(a, b *spdx.File) int {
		return cmp.Compare(a.FileSPDXIdentifier, b.FileSPDXIdentifier)
	})
	slices.SortFunc(doc.OtherLicenses, func(a, b *spdx.OtherLicense) int {
		return cmp.Compare(a.LicenseIdentifier, b.LicenseIdentifier)
	})
	doc.Relationships = sortedRelationships(doc.Relationships)

	doc.DocumentNamespace = id.namespaceBase()
	body, err := encode(doc)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(body)
	doc.DocumentNamespace += "-" + hex.EncodeToString(sum[:8])
	out, err := encode(doc)
	return out, doc.DocumentNamespace, err
}

func relKey(r *spdx.Relationship) [6]string {
	return [6]string{
		string(r.RefA.DocumentRefID), string(r.RefA.ElementRefID), r.Relationship,
		string(r.RefB.DocumentRefID), string(r.RefB.ElementRefID), r.RelationshipComment,
	}
}

// sortedRelationships drops nil and duplicate relationships (a self
// relationship included) and sorts the rest.
func sortedRelationships(rs []*spdx.Relationship) []*spdx.Relationship {
	seen := map[[6]string]bool{}
	var out []*spdx.Relationship
	for _, r := range rs {
		if r == nil || (r.RefA == r.RefB && r.Relationship != "DESCRIBES") {
			continue
		}
		k := relKey(r)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *spdx.Relationship) int {
		ka, kb := relKey(a), relKey(b)
		return slices.Compare(ka[:], kb[:])
	})
	return out
}

// encode writes doc as indented JSON, as Syft's spdxjson encoder does.
func encode(doc *spdx.Document) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
