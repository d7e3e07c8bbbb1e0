package attest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/anchore/packageurl-go"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"github.com/spdx/tools-golang/spdx/v2/v2_3"
	"github.com/spdx/tools-golang/spdxlib"

	"github.com/clearcutt/clearcutt/internal/intoto"
)

// IndexSBOMNamespacePrefix starts the namespace of every index SBOM:
// prefix + "<repository>/sha256-<hex>-<content hash>".
const IndexSBOMNamespacePrefix = "https://clearcutt.dev/spdx/index/"

// Element IDs of the index SBOM (without the SPDXRef- prefix).
const (
	indexPackageID = "DocumentRoot-Index"
	noAssertion    = "NOASSERTION"
	// unnamedImage names the index when neither the target nor the
	// platform documents name it.
	unnamedImage = "oci-image"
)

// IndexSBOM builds the SPDX 2.3 JSON document of index (named name, a
// repository with or without a tag; when empty, the name the platform
// documents give their image) from the platforms' SPDX documents:
//
//   - name "<repository>@sha256:<index hex>", namespace
//     IndexSBOMNamespacePrefix + "<repository>/sha256-<hex>-<content hash>";
//   - a root package for the index (DOCUMENT DESCRIBES it): version and
//     SHA256 checksum the index digest, purl pkg:oci/<name>@sha256:…;
//   - one package per platform image, its digest as version and checksum,
//     purl with arch, platform in the comment; the index CONTAINS each;
//   - one external document reference per platform,
//     DocumentRef-<platform>-<hex prefix>, naming the platform document's
//     namespace and pinning it by the SHA256 of PlatformEvidence.SBOM,
//     the exact bytes signed for that platform; each platform package is
//     DESCRIBED_BY that document's SPDXRef-DOCUMENT.
//
// created is the latest creation time of the platform documents, so the
// same documents always give the same bytes. The document is parsed back
// with tools-golang and its required fields are checked before it is
// returned.
func IndexSBOM(name string, index v1.Hash, platforms []PlatformEvidence) ([]byte, error) {
	if len(platforms) == 0 {
		return nil, fmt.Errorf("%w: no platform SBOMs", ErrMissingEvidence)
	}
	docs := make([]platformSPDX, len(platforms))
	var created time.Time
	described := map[string]bool{}
	for i, p := range platforms {
		d, err := readPlatformSPDX(p)
		if err != nil {
			return nil, err
		}
		docs[i] = d
		if d.created.After(created) {
			created = d.created
		}
		described[d.described] = true
	}
	repo := repository(name)
	if repo == "" && len(described) == 1 {
		for n := range described {
			repo = n
		}
	}
	if repo == "" {
		repo = unnamedImage
	}
	doc := &v2_3.Document{
		SPDXVersion:       v2_3.Version,
		DataLicense:       v2_3.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      repo + "@" + index.String(),
		DocumentNamespace: namespaceBase(repo, index),
		CreationInfo: &v2_3.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: "clearcutt"}},
			Created:  created.UTC().Format(time.RFC3339),
		},
		DocumentComment: "OCI image index " + index.String() + " of " + repo + " and its platform images; " +
			"the packages of each platform image are in the external document that describes it.",
	}
	root := imagePackage(repo, index, indexPackageID, "")
	root.PackageComment = "OCI image index " + index.String() + " of " + repo
	doc.Packages = append(doc.Packages, root)
	doc.Relationships = append(doc.Relationships, &v2_3.Relationship{
		RefA: common.MakeDocElementID("", "DOCUMENT"), Relationship: common.TypeRelationshipDescribe,
		RefB: common.MakeDocElementID("", indexPackageID),
	})
	for i, p := range platforms {
		suffix := sanitizeID(p.Platform) + "-" + p.Digest.Hex[:min(12, len(p.Digest.Hex))]
		pkgID, docRef := "Image-"+suffix, suffix
		pkg := imagePackage(repo, p.Digest, pkgID, p.Platform)
		pkg.PackageComment = "OCI image manifest " + p.Digest.String() + " (" + p.Platform + ") of " + repo +
			"; its packages are in DocumentRef-" + docRef + " (" + docs[i].namespace + ")"
		doc.Packages = append(doc.Packages, pkg)
		sum := sha256.Sum256(p.SBOM)
		doc.ExternalDocumentReferences = append(doc.ExternalDocumentReferences, v2_3.ExternalDocumentRef{
			DocumentRefID: common.DocumentID(docRef),
			URI:           docs[i].namespace,
			Checksum:      common.Checksum{Algorithm: common.SHA256, Value: hex.EncodeToString(sum[:])},
		})
		doc.Relationships = append(doc.Relationships,
			&v2_3.Relationship{RefA: common.MakeDocElementID("", indexPackageID), Relationship: common.TypeRelationshipContains,
				RefB: common.MakeDocElementID("", pkgID)},
			&v2_3.Relationship{RefA: common.MakeDocElementID("", pkgID), Relationship: common.TypeRelationshipDescribeBy,
				RefB: common.MakeDocElementID(docRef, "DOCUMENT")},
		)
	}
	// The namespace ends with a hash of the rest of the document, so a
	// changed document gets a new namespace, as SPDX requires.
	body, err := intoto.Canonical(doc)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	doc.DocumentNamespace += "-" + hex.EncodeToString(sum[:8])
	out, err := intoto.Canonical(doc)
	if err != nil {
		return nil, err
	}
	if err := ValidateIndexSBOM(out, index); err != nil {
		return nil, err
	}
	return out, nil
}

// imagePackage is the package of an OCI index or platform image (platform
// "os/arch[/variant]", empty for the index) named by repo.
func imagePackage(repo string, d v1.Hash, id, platform string) *v2_3.Package {
	short := repo[strings.LastIndex(repo, "/")+1:]
	var q packageurl.Qualifiers
	if platform != "" {
		if parts := strings.Split(platform, "/"); len(parts) >= 2 {
			q = append(q, packageurl.Qualifier{Key: "arch", Value: parts[1]})
		}
	}
	if strings.Contains(repo, "/") {
		q = append(q, packageurl.Qualifier{Key: "repository_url", Value: repo})
	}
	return &v2_3.Package{
		PackageName:             repo,
		PackageSPDXIdentifier:   common.ElementID(id),
		PackageVersion:          d.String(),
		PackageSupplier:         &common.Supplier{Supplier: noAssertion},
		PackageDownloadLocation: noAssertion,
		FilesAnalyzed:           false,
		PackageChecksums:        []common.Checksum{{Algorithm: common.SHA256, Value: d.Hex}},
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PackageCopyrightText:    noAssertion,
		PrimaryPackagePurpose:   "CONTAINER",
		PackageExternalReferences: []*v2_3.PackageExternalReference{{
			Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL,
			Locator: packageurl.NewPackageURL("oci", "", short, d.String(), q, "").ToString(),
		}},
	}
}

// platformSPDX is what the index SBOM takes from a platform document.
type platformSPDX struct {
	namespace string
	created   time.Time
	// described is the name of the package the document describes, when
	// it describes exactly one.
	described string
}

// readPlatformSPDX reads the fields of a platform's SPDX document the
// index SBOM needs: its namespace (the external reference names it) and
// creation time are required.
func readPlatformSPDX(p PlatformEvidence) (platformSPDX, error) {
	var doc struct {
		SPDXVersion  string `json:"spdxVersion"`
		SPDXID       string `json:"SPDXID"`
		Namespace    string `json:"documentNamespace"`
		CreationInfo struct {
			Created string `json:"created"`
		} `json:"creationInfo"`
		Describes []string `json:"documentDescribes"`
		Packages  []struct {
			ID   string `json:"SPDXID"`
			Name string `json:"name"`
		} `json:"packages"`
		Relationships []struct {
			A    string `json:"spdxElementId"`
			Type string `json:"relationshipType"`
			B    string `json:"relatedSpdxElement"`
		} `json:"relationships"`
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s (%s): %s", ErrBadEvidence, p.SBOMFile, p.Platform, fmt.Sprintf(format, args...))
	}
	if err := json.Unmarshal(p.SBOM, &doc); err != nil {
		return platformSPDX{}, bad("not an SPDX JSON document: %v", err)
	}
	if doc.SPDXVersion != v2_3.Version || doc.SPDXID != "SPDXRef-DOCUMENT" {
		return platformSPDX{}, bad("spdxVersion %q, SPDXID %q: want an SPDX-2.3 document", doc.SPDXVersion, doc.SPDXID)
	}
	if err := checkNamespace(doc.Namespace); err != nil {
		return platformSPDX{}, bad("documentNamespace: %v (the index SBOM references the document by it)", err)
	}
	created, err := time.Parse(time.RFC3339, doc.CreationInfo.Created)
	if err != nil {
		return platformSPDX{}, bad("creationInfo.created %q is not a date-time: %v", doc.CreationInfo.Created, err)
	}
	out := platformSPDX{namespace: doc.Namespace, created: created}
	targets := map[string]bool{}
	for _, id := range doc.Describes {
		targets[id] = true
	}
	for _, r := range doc.Relationships {
		if r.A == "SPDXRef-DOCUMENT" && r.Type == common.TypeRelationshipDescribe {
			targets[r.B] = true
		}
	}
	if len(targets) == 1 {
		for _, pk := range doc.Packages {
			if targets[pk.ID] {
				out.described = repository(pk.Name)
			}
		}
	}
	return out, nil
}

// ValidateIndexSBOM parses an index SBOM back with tools-golang and checks
// the fields SPDX 2.3 requires and the ones ClearCutt promises: it is
// about index (its name and a package's SHA256 checksum carry the
// digest), every external document reference has a unique ID, an absolute
// URI and a SHA256 checksum, every package has an ID, a name and a
// download location, and every relationship names an element of the
// document or of a declared external document.
func ValidateIndexSBOM(data []byte, index v1.Hash) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: index SBOM: %s", ErrBadEvidence, fmt.Sprintf(format, args...))
	}
	var doc v2_3.Document
	if err := spdxjson.ReadInto(bytes.NewReader(data), &doc); err != nil {
		return bad("%v", err)
	}
	switch {
	case doc.SPDXVersion != v2_3.Version:
		return bad("spdxVersion %q", doc.SPDXVersion)
	case doc.DataLicense != v2_3.DataLicense:
		return bad("dataLicense %q", doc.DataLicense)
	case doc.SPDXIdentifier != "DOCUMENT":
		return bad("SPDXID %q", doc.SPDXIdentifier)
	case !strings.Contains(doc.DocumentName, index.Hex):
		return bad("name %q does not name %s", doc.DocumentName, index)
	case doc.CreationInfo == nil || len(doc.CreationInfo.Creators) == 0:
		return bad("creationInfo.creators is empty")
	}
	if err := checkNamespace(doc.DocumentNamespace); err != nil {
		return bad("documentNamespace: %v", err)
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", doc.CreationInfo.Created); err != nil {
		return bad("creationInfo.created %q: %v", doc.CreationInfo.Created, err)
	}
	refs := map[common.DocumentID]bool{}
	for _, r := range doc.ExternalDocumentReferences {
		switch {
		case !idString.MatchString(string(r.DocumentRefID)) || refs[r.DocumentRefID]:
			return bad("externalDocumentId %q is invalid or repeated", r.DocumentRefID)
		case checkNamespace(r.URI) != nil:
			return bad("externalDocumentRefs %s: spdxDocument %q is not an absolute URI", r.DocumentRefID, r.URI)
		case r.Checksum.Algorithm != common.SHA256 || !sha256Hex.MatchString(r.Checksum.Value):
			return bad("externalDocumentRefs %s: checksum %s %q is not a SHA256", r.DocumentRefID, r.Checksum.Algorithm, r.Checksum.Value)
		}
		refs[r.DocumentRefID] = true
	}
	ids := map[common.ElementID]bool{"DOCUMENT": true}
	about := false
	for _, p := range doc.Packages {
		switch {
		case p == nil || !elementIDString.MatchString(string(p.PackageSPDXIdentifier)) || ids[p.PackageSPDXIdentifier]:
			return bad("a package has an invalid or repeated SPDXID")
		case p.PackageName == "" || p.PackageDownloadLocation == "":
			return bad("package %s lacks its name or downloadLocation", p.PackageSPDXIdentifier)
		}
		ids[p.PackageSPDXIdentifier] = true
		for _, c := range p.PackageChecksums {
			if c.Algorithm == common.SHA256 && c.Value == index.Hex {
				about = true
			}
		}
	}
	if !about {
		return bad("no package has the SHA256 checksum %s", index.Hex)
	}
	describes := 0
	for _, r := range doc.Relationships {
		for _, e := range []common.DocElementID{r.RefA, r.RefB} {
			if e.DocumentRefID != "" && !refs[e.DocumentRefID] {
				return bad("relationship names undeclared DocumentRef-%s", e.DocumentRefID)
			}
			if e.DocumentRefID == "" && !ids[e.ElementRefID] {
				return bad("relationship names unknown element SPDXRef-%s", e.ElementRefID)
			}
		}
		if r.RefA.ElementRefID == "DOCUMENT" && r.RefA.DocumentRefID == "" && r.Relationship == common.TypeRelationshipDescribe {
			describes++
		}
	}
	if describes == 0 {
		return bad("the document DESCRIBES no package")
	}
	return spdxlib.ValidateDocument(&doc)
}

var (
	idString        = regexp.MustCompile(`^[A-Za-z0-9.+-]+$`)
	elementIDString = regexp.MustCompile(`^[A-Za-z0-9.-]+$`)
	notIDChars      = regexp.MustCompile(`[^A-Za-z0-9.-]+`)
	sha256Hex       = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// sanitizeID makes s usable in an SPDX element or document reference ID.
func sanitizeID(s string) string { return strings.Trim(notIDChars.ReplaceAllString(s, "-"), "-") }

// checkNamespace accepts an absolute URI without a fragment, as SPDX
// requires of document namespaces.
func checkNamespace(ns string) error {
	if ns == "" {
		return fmt.Errorf("missing")
	}
	u, err := url.Parse(ns)
	if err != nil {
		return err
	}
	if !u.IsAbs() || strings.Contains(ns, "#") {
		return fmt.Errorf("%q is not an absolute URI without a fragment", ns)
	}
	return nil
}

// repository is name without its tag.
func repository(name string) string {
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[:i]
	}
	return name
}

// namespaceBase is the index SBOM namespace without its content hash.
func namespaceBase(repo string, index v1.Hash) string {
	var b strings.Builder
	b.WriteString(IndexSBOMNamespacePrefix)
	for _, seg := range strings.Split(repo, "/") {
		b.WriteString(url.PathEscape(seg) + "/")
	}
	b.WriteString(index.Algorithm + "-" + index.Hex)
	return b.String()
}
