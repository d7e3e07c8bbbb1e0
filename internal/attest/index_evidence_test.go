package attest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"github.com/spdx/tools-golang/spdx/v2/v2_3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/clearcutt/clearcutt/internal/structure"
)

// platformSBOM is an SPDX 2.3 document of one platform image shaped like
// internal/sbom's (indented, as Syft writes it): a root package for the
// image, described by the document, containing zlib.
func platformSBOM(d v1.Hash, arch, created string) string {
	doc := map[string]any{
		"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
		"name":              "example.com/fleet/python:distroless@" + d.String(),
		"documentNamespace": "https://clearcutt.dev/spdx/image/example.com/fleet/python/distroless/sha256-" + d.Hex + "-0123456789abcdef",
		"creationInfo":      map[string]any{"created": created, "creators": []string{"Tool: clearcutt", "Tool: syft-1.57.1"}},
		"packages": []any{
			map[string]any{"name": "example.com/fleet/python", "SPDXID": "SPDXRef-DocumentRoot-Image-python", "versionInfo": d.String(),
				"downloadLocation": "NOASSERTION", "filesAnalyzed": false,
				"checksums": []any{map[string]any{"algorithm": "SHA256", "checksumValue": d.Hex}},
				"comment":   "OCI image manifest " + d.String() + " (" + arch + ")"},
			map[string]any{"name": "zlib", "SPDXID": "SPDXRef-Package-nix-zlib", "versionInfo": "1.3.1", "downloadLocation": "NOASSERTION",
				"filesAnalyzed": false, "externalRefs": []any{map[string]any{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
					"referenceLocator": "pkg:nix/zlib@1.3.1?a=1&b=<2>"}}},
		},
		"relationships": []any{
			map[string]any{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-DocumentRoot-Image-python"},
			map[string]any{"spdxElementId": "SPDXRef-DocumentRoot-Image-python", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-Package-nix-zlib"},
		},
	}
	b, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// testResultStatement is the statement internal/structure writes for a
// platform image whose checks have the given statuses.
func testResultStatement(t *testing.T, d v1.Hash, checks map[string]structure.Status) []byte {
	t.Helper()
	res := structure.Result{
		Subject: structure.Subject{Name: "example.com/fleet/python", Digest: d},
		Tier:    "distroless",
		Rules:   structure.TierRules{Shell: structure.Forbidden, PackageManager: structure.Forbidden, Coreutils: structure.Forbidden, Symbols: structure.Forbidden, Deployable: true},
	}
	ids := make([]string, 0, len(checks))
	for id := range checks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		res.Checks = append(res.Checks, structure.Check{ID: id, Name: id, Status: checks[id]})
	}
	b, err := res.StatementJSON()
	must(t, err)
	return b
}

var (
	digestAMD = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a1", 32)}
	digestARM = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b2", 32)}
	digestIdx = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c3", 32)}
)

// signedSBOM is the SPDX document as the platform's SBOM statement
// carries it.
func signedSBOM(t *testing.T, d v1.Hash, doc string) []byte {
	t.Helper()
	st, err := WrapPredicate("example.com/fleet/python", d, PredicateSPDX, []byte(doc))
	must(t, err)
	p, err := ParseStatement(st)
	must(t, err)
	return p.Predicate
}

func twoPlatforms(t *testing.T, arm map[string]structure.Status) []PlatformEvidence {
	t.Helper()
	return []PlatformEvidence{
		{Platform: "linux/amd64", Digest: digestAMD, SBOMFile: "amd/sbom.spdx.json", TestResultFile: "amd/test-result.json",
			SBOM:       signedSBOM(t, digestAMD, platformSBOM(digestAMD, "linux/amd64", "2026-01-01T00:00:00Z")),
			TestResult: testResultStatement(t, digestAMD, map[string]structure.Status{structure.IDNoShell: structure.Passed, structure.IDNonrootUser: structure.Passed})},
		{Platform: "linux/arm64", Digest: digestARM, SBOMFile: "arm/sbom.spdx.json", TestResultFile: "arm/test-result.json",
			SBOM:       signedSBOM(t, digestARM, platformSBOM(digestARM, "linux/arm64", "2026-01-02T03:04:05Z")),
			TestResult: testResultStatement(t, digestARM, arm)},
	}
}

// indexTestResult decodes the index test-result statement.
type indexTestResult struct {
	Type    string `json:"_type"`
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string `json:"predicateType"`
	Predicate     struct {
		Result        string `json:"result"`
		URL           string `json:"url"`
		Configuration []struct {
			Name        string            `json:"name"`
			Digest      map[string]string `json:"digest"`
			MediaType   string            `json:"mediaType"`
			Content     string            `json:"content"`
			Annotations map[string]string `json:"annotations"`
		} `json:"configuration"`
		PassedTests []string `json:"passedTests"`
		WarnedTests []string `json:"warnedTests"`
		FailedTests []string `json:"failedTests"`
	} `json:"predicate"`
}

func decodeIndexTests(t *testing.T, b []byte) indexTestResult {
	t.Helper()
	var tr indexTestResult
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tr); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return tr
}

func TestIndexTestResultAggregatesPlatforms(t *testing.T) {
	ps := twoPlatforms(t, map[string]structure.Status{structure.IDNoShell: structure.Passed, structure.IDSmoke: structure.Skipped})
	b, err := IndexTestResult("example.com/fleet/python", digestIdx, ps)
	must(t, err)
	again, err := IndexTestResult("example.com/fleet/python", digestIdx, ps)
	must(t, err)
	if !bytes.Equal(b, again) {
		t.Fatalf("not deterministic:\n%s\n%s", b, again)
	}
	tr := decodeIndexTests(t, b)
	if len(tr.Subject) != 1 || tr.Subject[0].Digest["sha256"] != digestIdx.Hex || tr.Subject[0].Name != "example.com/fleet/python" || tr.PredicateType != PredicateTestResult {
		t.Fatalf("statement %+v", tr)
	}
	p := tr.Predicate
	// A skipped smoke run is a warning on arm64, so the index is WARNED.
	if p.Result != TestWarned {
		t.Errorf("result %s, want WARNED", p.Result)
	}
	if want := []string{"linux/amd64: no-shell", "linux/amd64: nonroot-user", "linux/arm64: no-shell"}; !slices.Equal(p.PassedTests, want) {
		t.Errorf("passedTests %q, want %q", p.PassedTests, want)
	}
	if want := []string{"linux/arm64: smoke"}; !slices.Equal(p.WarnedTests, want) || len(p.FailedTests) != 0 {
		t.Errorf("warnedTests %q failedTests %q", p.WarnedTests, p.FailedTests)
	}
	if len(p.Configuration) != 4 {
		t.Fatalf("configuration %+v", p.Configuration)
	}
	for i, pl := range ps {
		ref, rules := p.Configuration[2*i], p.Configuration[2*i+1]
		sum := sha256.Sum256(pl.TestResult)
		if ref.Name != pl.Platform+" test-result statement" || ref.Digest["sha256"] != hex.EncodeToString(sum[:]) || ref.MediaType != InTotoPayloadType ||
			ref.Annotations["subject"] != pl.Digest.String() || ref.Annotations["platform"] != pl.Platform || ref.Annotations["predicateType"] != PredicateTestResult {
			t.Errorf("reference to the %s statement: %+v", pl.Platform, ref)
		}
		if rules.Name != pl.Platform+": clearcutt-tier-rules/distroless" || rules.Digest["sha256"] == "" || rules.Content == "" {
			t.Errorf("%s rules: %+v", pl.Platform, rules)
		}
	}
	if p.URL != "" {
		t.Errorf("url %q with no platform url", p.URL)
	}

	// Every platform passed: PASSED.
	ps = twoPlatforms(t, map[string]structure.Status{structure.IDNoShell: structure.Passed})
	b, err = IndexTestResult("", digestIdx, ps)
	must(t, err)
	if tr := decodeIndexTests(t, b); tr.Predicate.Result != TestPassed || tr.Subject[0].Name != "" {
		t.Errorf("all passed: %s", b)
	}
}

func TestIndexTestResultFailedPlatform(t *testing.T) {
	ps := twoPlatforms(t, map[string]structure.Status{structure.IDNoShell: structure.Failed, structure.IDSmoke: structure.Skipped})
	b, err := IndexTestResult("example.com/fleet/python", digestIdx, ps)
	must(t, err)
	p := decodeIndexTests(t, b).Predicate
	if p.Result != TestFailed || !slices.Equal(p.FailedTests, []string{"linux/arm64: no-shell"}) || !slices.Contains(p.PassedTests, "linux/amd64: no-shell") {
		t.Errorf("one platform failed: %s", b)
	}
	// The order of the platforms does not hide a failure.
	slices.Reverse(ps)
	b, err = IndexTestResult("example.com/fleet/python", digestIdx, ps)
	must(t, err)
	if p := decodeIndexTests(t, b).Predicate; p.Result != TestFailed {
		t.Errorf("failed platform first: %s", p.Result)
	}
}

func TestIndexTestResultRejectsBadPlatformStatements(t *testing.T) {
	ps := twoPlatforms(t, map[string]structure.Status{structure.IDNoShell: structure.Passed})
	bad := slices.Clone(ps)
	bad[1].TestResult = []byte(fmt.Sprintf(
		`{"_type":%q,"predicate":{"result":"MAYBE"},"predicateType":%q,"subject":[{"digest":{"sha256":%q}}]}`, StatementType, PredicateTestResult, digestARM.Hex))
	if _, err := IndexTestResult("", digestIdx, bad); !errors.Is(err, ErrBadEvidence) || !strings.Contains(err.Error(), "arm/test-result.json") {
		t.Errorf("unknown result: %v", err)
	}
	bad[1].TestResult = ps[0].TestResult // about amd64
	if _, err := IndexTestResult("", digestIdx, bad); !errors.Is(err, ErrSubjectMismatch) {
		t.Errorf("statement about another platform: %v", err)
	}
	if _, err := IndexTestResult("", digestIdx, nil); err == nil {
		t.Error("no platforms: no error")
	}
}

// readIndexSBOM parses an index SBOM with tools-golang.
func readIndexSBOM(t *testing.T, b []byte) *v2_3.Document {
	t.Helper()
	var doc v2_3.Document
	if err := spdxjson.ReadInto(bytes.NewReader(b), &doc); err != nil {
		t.Fatalf("tools-golang: %v\n%s", err, b)
	}
	return &doc
}

func TestIndexSBOM(t *testing.T) {
	ps := twoPlatforms(t, map[string]structure.Status{structure.IDNoShell: structure.Passed})
	b, err := IndexSBOM("example.com/fleet/python:distroless", digestIdx, ps)
	must(t, err)
	again, err := IndexSBOM("example.com/fleet/python:distroless", digestIdx, ps)
	must(t, err)
	if !bytes.Equal(b, again) {
		t.Fatal("not deterministic")
	}
	doc := readIndexSBOM(t, b)
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXIdentifier != "DOCUMENT" {
		t.Errorf("header %s %s %s", doc.SPDXVersion, doc.DataLicense, doc.SPDXIdentifier)
	}
	if doc.DocumentName != "example.com/fleet/python@"+digestIdx.String() {
		t.Errorf("name %q", doc.DocumentName)
	}
	if !strings.HasPrefix(doc.DocumentNamespace, IndexSBOMNamespacePrefix+"example.com/fleet/python/sha256-"+digestIdx.Hex+"-") {
		t.Errorf("namespace %q", doc.DocumentNamespace)
	}
	// created is the latest platform document's.
	if doc.CreationInfo.Created != "2026-01-02T03:04:05Z" || len(doc.CreationInfo.Creators) != 1 || doc.CreationInfo.Creators[0].Creator != "clearcutt" {
		t.Errorf("creationInfo %+v", doc.CreationInfo)
	}
	pkgs := map[common.ElementID]*v2_3.Package{}
	for _, p := range doc.Packages {
		pkgs[p.PackageSPDXIdentifier] = p
	}
	root := pkgs[indexPackageID]
	if root == nil || len(root.PackageChecksums) != 1 || root.PackageChecksums[0].Algorithm != common.SHA256 || root.PackageChecksums[0].Value != digestIdx.Hex ||
		root.PackageExternalReferences[0].Locator != "pkg:oci/python@sha256%3A"+digestIdx.Hex+"?repository_url=example.com%2Ffleet%2Fpython" {
		t.Fatalf("index package %+v", root)
	}
	rels := map[string]bool{}
	for _, r := range doc.Relationships {
		rels[common.RenderDocElementID(r.RefA)+" "+r.Relationship+" "+common.RenderDocElementID(r.RefB)] = true
	}
	if !rels["SPDXRef-DOCUMENT DESCRIBES SPDXRef-"+indexPackageID] {
		t.Errorf("the document does not describe the index: %v", rels)
	}
	if len(doc.ExternalDocumentReferences) != len(ps) || len(doc.Packages) != 1+len(ps) {
		t.Fatalf("%d external documents, %d packages", len(doc.ExternalDocumentReferences), len(doc.Packages))
	}
	for i, p := range ps {
		arch := strings.Split(p.Platform, "/")[1]
		id := common.ElementID("Image-linux-" + arch + "-" + p.Digest.Hex[:12])
		pkg := pkgs[id]
		if pkg == nil || pkg.PackageChecksums[0].Value != p.Digest.Hex || pkg.PackageVersion != p.Digest.String() ||
			pkg.PackageExternalReferences[0].Locator != "pkg:oci/python@sha256%3A"+p.Digest.Hex+"?arch="+arch+"&repository_url=example.com%2Ffleet%2Fpython" ||
			!strings.Contains(pkg.PackageComment, p.Platform) {
			t.Errorf("%s package %+v", p.Platform, pkg)
		}
		if !rels["SPDXRef-"+indexPackageID+" CONTAINS SPDXRef-"+string(id)] {
			t.Errorf("the index does not contain %s", id)
		}
		ref := doc.ExternalDocumentReferences[i]
		sum := sha256.Sum256(p.SBOM)
		var platformDoc struct {
			Namespace string `json:"documentNamespace"`
		}
		must(t, json.Unmarshal(p.SBOM, &platformDoc))
		if ref.Checksum.Algorithm != common.SHA256 || ref.Checksum.Value != hex.EncodeToString(sum[:]) || ref.URI != platformDoc.Namespace {
			t.Errorf("%s external document %+v, want sha256 %x of %s", p.Platform, ref, sum, platformDoc.Namespace)
		}
		if !rels["SPDXRef-"+string(id)+" DESCRIBED_BY DocumentRef-"+string(ref.DocumentRefID)+":SPDXRef-DOCUMENT"] {
			t.Errorf("%s is not described by its document: %v", id, rels)
		}
	}
	// What internal/verify's checkSBOM accepts for the index digest: an
	// SPDX 2.3 document whose name, a package checksum or a package
	// reference carries the digest.
	if !strings.Contains(doc.DocumentName, digestIdx.Hex) {
		t.Error("the document name does not carry the index digest")
	}

	// Another platform document: another pin, another namespace.
	changed := slices.Clone(ps)
	changed[1].SBOM = signedSBOM(t, digestARM, platformSBOM(digestARM, "linux/arm64", "2026-01-03T00:00:00Z"))
	b2, err := IndexSBOM("example.com/fleet/python:distroless", digestIdx, changed)
	must(t, err)
	doc2 := readIndexSBOM(t, b2)
	if doc2.DocumentNamespace == doc.DocumentNamespace || doc2.ExternalDocumentReferences[1].Checksum == doc.ExternalDocumentReferences[1].Checksum ||
		doc2.ExternalDocumentReferences[0] != doc.ExternalDocumentReferences[0] {
		t.Error("a changed platform document did not change its pin and the namespace alone")
	}
}

func TestIndexSBOMNamesTheIndexFromThePlatforms(t *testing.T) {
	ps := twoPlatforms(t, map[string]structure.Status{structure.IDNoShell: structure.Passed})
	b, err := IndexSBOM("", digestIdx, ps)
	must(t, err)
	if doc := readIndexSBOM(t, b); doc.DocumentName != "example.com/fleet/python@"+digestIdx.String() {
		t.Errorf("name %q", doc.DocumentName)
	}
}

// TestIndexSBOMFromInternalSBOM derives an index SBOM from the document
// internal/sbom generates (its golden file), unnamed as for an OCI layout.
func TestIndexSBOMFromInternalSBOM(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("..", "sbom", "testdata", "python-distroless-amd64.golden.json"))
	must(t, err)
	var head struct {
		Name         string `json:"name"`
		Namespace    string `json:"documentNamespace"`
		CreationInfo struct {
			Created string `json:"created"`
		} `json:"creationInfo"`
	}
	must(t, json.Unmarshal(golden, &head))
	d, err := v1.NewHash(head.Name[strings.LastIndex(head.Name, "@")+1:])
	must(t, err)
	ps := []PlatformEvidence{{Platform: "linux/amd64", Digest: d, SBOM: signedSBOM(t, d, string(golden)), SBOMFile: "golden"}}
	b, err := IndexSBOM("", digestIdx, ps)
	must(t, err)
	doc := readIndexSBOM(t, b)
	sum := sha256.Sum256(ps[0].SBOM)
	if doc.DocumentName != "ghcr.io/acme/fleet/python@"+digestIdx.String() || doc.CreationInfo.Created != head.CreationInfo.Created ||
		len(doc.ExternalDocumentReferences) != 1 || doc.ExternalDocumentReferences[0].URI != head.Namespace ||
		doc.ExternalDocumentReferences[0].Checksum.Value != hex.EncodeToString(sum[:]) {
		t.Errorf("index SBOM of the internal/sbom document:\n%s", b)
	}
}

func TestIndexSBOMRejectsUnreferenceablePlatformDocuments(t *testing.T) {
	ps := twoPlatforms(t, map[string]structure.Status{structure.IDNoShell: structure.Passed})
	for field, edit := range map[string]func(map[string]any){
		"documentNamespace":    func(m map[string]any) { delete(m, "documentNamespace") },
		"creationInfo.created": func(m map[string]any) { m["creationInfo"] = map[string]any{"created": "yesterday"} },
		"spdxVersion":          func(m map[string]any) { m["spdxVersion"] = "SPDX-2.2" },
	} {
		var m map[string]any
		must(t, json.Unmarshal([]byte(platformSBOM(digestARM, "linux/arm64", "2026-01-01T00:00:00Z")), &m))
		edit(m)
		doc, _ := json.Marshal(m)
		bad := slices.Clone(ps)
		bad[1].SBOM = signedSBOM(t, digestARM, string(doc))
		if _, err := IndexSBOM("example.com/fleet/python", digestIdx, bad); !errors.Is(err, ErrBadEvidence) ||
			!strings.Contains(err.Error(), "arm/sbom.spdx.json") || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
}

func TestValidateIndexSBOM(t *testing.T) {
	ps := twoPlatforms(t, map[string]structure.Status{structure.IDNoShell: structure.Passed})
	b, err := IndexSBOM("example.com/fleet/python", digestIdx, ps)
	must(t, err)
	must(t, ValidateIndexSBOM(b, digestIdx))
	if err := ValidateIndexSBOM(b, digestAMD); !errors.Is(err, ErrBadEvidence) {
		t.Errorf("about another digest: %v", err)
	}
	for what, edit := range map[string]func(map[string]any){
		"namespace":    func(m map[string]any) { m["documentNamespace"] = "not a uri" },
		"data license": func(m map[string]any) { m["dataLicense"] = "MIT" },
		"creators":     func(m map[string]any) { m["creationInfo"].(map[string]any)["creators"] = []any{} },
		"SHA1 pin": func(m map[string]any) {
			ref(m)["checksum"] = map[string]any{"algorithm": "SHA1", "checksumValue": strings.Repeat("0", 40)}
		},
		"relative document":    func(m map[string]any) { ref(m)["spdxDocument"] = "python.spdx.json" },
		"undeclared reference": func(m map[string]any) { ref(m)["externalDocumentId"] = "DocumentRef-other" },
		"unknown element": func(m map[string]any) {
			m["relationships"] = append(m["relationships"].([]any), map[string]any{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-nothing"})
		},
	} {
		var m map[string]any
		must(t, json.Unmarshal(b, &m))
		edit(m)
		out, _ := json.Marshal(m)
		if err := ValidateIndexSBOM(out, digestIdx); !errors.Is(err, ErrBadEvidence) {
			t.Errorf("%s: %v", what, err)
		}
	}
}

func ref(m map[string]any) map[string]any {
	return m["externalDocumentRefs"].([]any)[0].(map[string]any)
}

// payloadOf verifies a key-signed bundle about d and returns its DSSE
// payload: the statement exactly as signed.
func payloadOf(t *testing.T, s *KeySigner, b []byte, d v1.Hash) []byte {
	t.Helper()
	if _, err := verifyKeyBundle(t, s, b, d); err != nil {
		t.Fatal(err)
	}
	var pb protobundle.Bundle
	must(t, protojson.Unmarshal(b, &pb))
	return pb.GetDsseEnvelope().GetPayload()
}

// realEvidence writes, per platform, the pipeline's kind of evidence: an
// SPDX document, a test result by internal/structure (failing no-shell on
// the platform named failing) and a scan.
func realEvidence(t *testing.T, dir string, idx v1.ImageIndex, failing string) {
	t.Helper()
	for _, p := range platforms(t, idx) {
		checks := map[string]structure.Status{structure.IDNoShell: structure.Passed, structure.IDNonrootUser: structure.Passed}
		if p.Platform.String() == failing {
			checks[structure.IDNoShell] = structure.Failed
		}
		writeFile(t, EvidencePath(dir, p.Digest, FileSBOM), platformSBOM(p.Digest, p.Platform.String(), "2026-01-01T00:00:00Z"))
		writeFile(t, EvidencePath(dir, p.Digest, FileTestResult), string(testResultStatement(t, p.Digest, checks)))
		writeFile(t, EvidencePath(dir, p.Digest, FileVulns), statementFor(p.Digest, PredicateVulns))
	}
}

// storedStatements verifies every bundle stored about d and returns the
// signed statements by predicate type.
func storedStatements(t *testing.T, s Store, signer *KeySigner, d v1.Hash) map[string][][]byte {
	t.Helper()
	got, err := s.List(context.Background(), d)
	must(t, err)
	out := map[string][][]byte{}
	for _, b := range got {
		out[b.PredicateType] = append(out[b.PredicateType], payloadOf(t, signer, b.Bundle, d))
	}
	return out
}

func TestRunAttachesDerivedEvidenceToTheIndex(t *testing.T) {
	ctx := context.Background()
	idx := testIndex(t)
	store, _ := layoutKind.open(t, idx)
	signer := testKey(t)
	ev := t.TempDir()
	realEvidence(t, ev, idx, "")
	o := runOpts(t, idx, store, signer, ev)
	res, err := Run(ctx, o)
	must(t, err)
	index := descOf(t, idx).Digest
	var derived []string
	for _, a := range res.Attached {
		if a.Derived {
			if a.Subject != index || a.File != "" {
				t.Errorf("derived %+v", a)
			}
			derived = append(derived, a.PredicateType)
		}
	}
	if !slices.Equal(derived, []string{PredicateSPDX, PredicateTestResult, PredicateVulns}) || len(res.Attached) != 4+2*4 {
		t.Fatalf("derived %v of %d attached", derived, len(res.Attached))
	}
	onIndex := storedStatements(t, store, signer, index)
	if len(onIndex[PredicateSignature]) != 1 || len(onIndex[PredicateSPDX]) != 1 || len(onIndex[PredicateTestResult]) != 1 {
		t.Fatalf("index bundles %v", onIndex)
	}
	sbomSt, err := ParseStatement(onIndex[PredicateSPDX][0])
	must(t, err)
	if !sbomSt.IsAbout(index) || sbomSt.Subject[0].Name != o.Target.Name {
		t.Errorf("index SBOM subject %+v", sbomSt.Subject)
	}
	must(t, ValidateIndexSBOM(sbomSt.Predicate, index))
	doc := readIndexSBOM(t, sbomSt.Predicate)
	tests := decodeIndexTests(t, onIndex[PredicateTestResult][0])
	if tests.Predicate.Result != TestPassed || tests.Subject[0].Digest["sha256"] != index.Hex {
		t.Errorf("index test result %+v", tests)
	}
	pins := map[string]string{}
	for _, r := range doc.ExternalDocumentReferences {
		pins[r.Checksum.Value] = r.URI
	}
	refs := map[string]bool{}
	for _, c := range tests.Predicate.Configuration {
		refs[c.Digest["sha256"]] = true
	}
	for _, p := range platforms(t, idx) {
		got := storedStatements(t, store, signer, p.Digest)
		// The pin is the SHA256 of the SPDX document exactly as the
		// platform's signed SBOM statement carries it.
		st, err := ParseStatement(got[PredicateSPDX][0])
		must(t, err)
		sum := sha256.Sum256(st.Predicate)
		if _, ok := pins[hex.EncodeToString(sum[:])]; !ok {
			t.Errorf("%s: the index SBOM does not pin the signed document (sha256 %x): %v", p.Platform, sum, pins)
		}
		ts := sha256.Sum256(got[PredicateTestResult][0])
		if !refs[hex.EncodeToString(ts[:])] {
			t.Errorf("%s: the index test result does not reference the signed statement", p.Platform)
		}
	}

	// The same evidence gives the same statements on a second run (the
	// signatures differ; the signed statements do not).
	_, err = Run(ctx, o)
	must(t, err)
	onIndex2 := storedStatements(t, store, signer, index)
	for _, pt := range []string{PredicateSPDX, PredicateTestResult} {
		if len(onIndex2[pt]) != 2 || !bytes.Equal(onIndex2[pt][0], onIndex2[pt][1]) {
			t.Errorf("%s: second run signed another statement", pt)
		}
	}
}

func TestRunFailedPlatformMakesTheIndexFail(t *testing.T) {
	idx := testIndex(t)
	store, _ := layoutKind.open(t, idx)
	signer := testKey(t)
	ev := t.TempDir()
	realEvidence(t, ev, idx, "linux/arm64")
	_, err := Run(context.Background(), runOpts(t, idx, store, signer, ev))
	must(t, err)
	got := storedStatements(t, store, signer, descOf(t, idx).Digest)[PredicateTestResult]
	if len(got) != 1 {
		t.Fatalf("%d index test results", len(got))
	}
	if p := decodeIndexTests(t, got[0]).Predicate; p.Result != TestFailed || !slices.Equal(p.FailedTests, []string{"linux/arm64: no-shell"}) {
		t.Errorf("index test result %+v", p)
	}
}

func TestRunPrefersEvidenceSuppliedForTheIndex(t *testing.T) {
	idx := testIndex(t)
	store, _ := layoutKind.open(t, idx)
	signer := testKey(t)
	ev := t.TempDir()
	realEvidence(t, ev, idx, "")
	index := descOf(t, idx).Digest
	supplied := EvidencePath(ev, index, FileTestResult)
	writeFile(t, supplied, statementFor(index, PredicateTestResult))
	res, err := Run(context.Background(), runOpts(t, idx, store, signer, ev))
	must(t, err)
	var onIndex []Attached
	for _, a := range res.Attached {
		if a.Subject == index {
			onIndex = append(onIndex, a)
		}
	}
	if len(onIndex) != 4 || onIndex[1].PredicateType != PredicateTestResult || onIndex[1].File != supplied || onIndex[1].Derived ||
		onIndex[2].PredicateType != PredicateSPDX || !onIndex[2].Derived || onIndex[3].PredicateType != PredicateVulns || !onIndex[3].Derived {
		t.Fatalf("index bundles %+v", onIndex)
	}
	data, err := os.ReadFile(supplied)
	must(t, err)
	if got := storedStatements(t, store, signer, index)[PredicateTestResult]; len(got) != 1 || !bytes.Equal(got[0], data) {
		t.Errorf("the index test result is not the supplied statement")
	}
}

func TestRunDerivesNothingFromMissingPlatformEvidence(t *testing.T) {
	idx := testIndex(t)
	store, _ := layoutKind.open(t, idx)
	ev := t.TempDir()
	realEvidence(t, ev, idx, "")
	ps := platforms(t, idx)
	must(t, os.Remove(EvidencePath(ev, ps[1].Digest, FileSBOM)))
	o := runOpts(t, idx, store, testKey(t), ev)
	o.AllowMissingEvidenceUnsafe = true
	res, err := Run(context.Background(), o)
	must(t, err)
	for _, a := range res.Attached {
		if a.Derived && a.PredicateType == PredicateSPDX {
			t.Errorf("an index SBOM without the arm64 document: %+v", a)
		}
	}
	// index (signature, tests, vulns) + amd64 (signature, SBOM, tests,
	// vulns) + arm64 (signature, tests, vulns)
	if len(res.Attached) != 3+4+3 {
		t.Errorf("%d attached", len(res.Attached))
	}
}
