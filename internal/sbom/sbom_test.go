package sbom

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anchore/syft/syft/format"
	"github.com/anchore/syft/syft/format/spdxjson"
	"github.com/anchore/syft/syft/pkg"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	spdxjsonio "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"

	"github.com/clearcutt/clearcutt/internal/closure"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

var epoch = time.Unix(1700000000, 0)

func generate(t *testing.T, img v1.Image, m *closure.Manifest) Result {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	res, err := Generate(context.Background(), Options{
		Image: img, Digest: d, Name: "ghcr.io/acme/fleet/python:distroless", Manifest: m,
		Created: epoch, TempDir: t.TempDir(), Progress: func(s string) { steps = append(steps, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) == 0 {
		t.Error("no progress reported")
	}
	return res
}

func readSPDX(t *testing.T, b []byte) *spdx.Document {
	t.Helper()
	doc, err := spdxjsonio.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the document is not SPDX JSON: %v", err)
	}
	return doc
}

func TestGenerateGolden(t *testing.T) {
	img, m := fakeImage(t, "amd64")
	res := generate(t, img, m)
	golden := filepath.Join("testdata", "python-distroless-amd64.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, res.Document, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGenerateGolden -update)", err)
	}
	if !bytes.Equal(res.Document, want) {
		t.Errorf("document differs from %s (go test ./internal/sbom -run TestGenerateGolden -update, then review the diff)", golden)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	img, m := fakeImage(t, "arm64")
	a := generate(t, img, m)
	img2, m2 := fakeImage(t, "arm64")
	b := generate(t, img2, m2)
	if !bytes.Equal(a.Document, b.Document) {
		t.Fatal("two runs on the same image gave different documents")
	}
	if a.Namespace != b.Namespace || a.Namespace == "" {
		t.Fatalf("namespaces %q and %q", a.Namespace, b.Namespace)
	}
	if bytes.Contains(a.Document, []byte(os.TempDir())) {
		t.Error("the document names a temporary directory")
	}
	// Another creation time is another document, with another namespace.
	d, _ := img.Digest()
	c, err := Generate(context.Background(), Options{Image: img, Digest: d, Name: "ghcr.io/acme/fleet/python:distroless",
		Manifest: m, Created: epoch.Add(time.Hour), TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if c.Namespace == a.Namespace {
		t.Error("a different document kept the namespace")
	}
}

// TestGenerateEnrichesFromTheClosure checks every closure path against the
// document, and reads the document back the way grype does.
func TestGenerateEnrichesFromTheClosure(t *testing.T) {
	img, m := fakeImage(t, "amd64")
	d, _ := img.Digest()
	res := generate(t, img, m)
	doc := readSPDX(t, res.Document)

	if doc.SPDXVersion != "SPDX-2.3" || doc.DocumentName != "ghcr.io/acme/fleet/python:distroless@"+d.String() {
		t.Errorf("version %q name %q", doc.SPDXVersion, doc.DocumentName)
	}
	if !strings.HasPrefix(doc.DocumentNamespace, NamespacePrefix+"ghcr.io/acme/fleet/python/distroless/sha256-"+d.Hex+"-") {
		t.Errorf("namespace %q", doc.DocumentNamespace)
	}
	if doc.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("created %q", doc.CreationInfo.Created)
	}

	pkgs := map[spdx.ElementID]*spdx.Package{}
	for _, p := range doc.Packages {
		pkgs[p.PackageSPDXIdentifier] = p
	}
	rels := map[string]bool{}
	var rootID spdx.ElementID
	for _, r := range doc.Relationships {
		rels[string(r.RefA.ElementRefID)+" "+r.Relationship+" "+string(r.RefB.ElementRefID)] = true
		if r.RefA.ElementRefID == "DOCUMENT" && r.Relationship == "DESCRIBES" {
			rootID = r.RefB.ElementRefID
		}
	}
	root := pkgs[rootID]
	if root == nil {
		t.Fatal("the document describes no package")
	}
	if len(root.PackageChecksums) != 1 || root.PackageChecksums[0].Algorithm != spdx.SHA256 || root.PackageChecksums[0].Value != d.Hex {
		t.Errorf("image package checksums %+v, want SHA256 %s", root.PackageChecksums, d.Hex)
	}
	wantPurl := "pkg:oci/python@sha256%3A" + d.Hex + "?arch=amd64&repository_url=ghcr.io%2Facme%2Ffleet%2Fpython&tag=distroless"
	if got := refs(root, "purl"); len(got) != 1 || got[0] != wantPurl {
		t.Errorf("image purl %v, want %s", got, wantPurl)
	}

	byPath := map[string]*spdx.Package{}
	hashes := map[string]int{}
	for _, p := range doc.Packages {
		if h := nixOutputHash(p); h != "" {
			hashes[h]++
		}
		if src, ok := strings.CutPrefix(p.PackageSourceInfo, "Nix store path "); ok {
			byPath[src] = p
		}
	}
	for _, sp := range m.Paths {
		p := byPath[sp.Path]
		if p == nil {
			t.Errorf("store path %s is not a package", sp.Path)
			continue
		}
		hash := path.Base(sp.Path)[:storeHashLen]
		if hashes[hash] != 1 {
			t.Errorf("%s: %d packages carry outputhash %s, want 1", sp.Path, hashes[hash], hash)
		}
		purls := refs(p, "purl")
		wantPrefix := "pkg:nix/" + sp.Pname
		if sp.Version != "" {
			wantPrefix += "@" + sp.Version
		}
		if len(purls) == 0 || !strings.HasPrefix(purls[0], wantPrefix+"?") || !strings.Contains(purls[0], "outputhash="+hash) {
			t.Errorf("%s: purls %v, want %s?…outputhash=%s first", sp.Path, purls, wantPrefix, hash)
		}
		sri, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sp.NarHash, "sha256-"))
		if len(p.PackageChecksums) != 1 || p.PackageChecksums[0].Value != hex.EncodeToString(sri) {
			t.Errorf("%s: checksums %+v, want the narHash", sp.Path, p.PackageChecksums)
		}
		if p.PackageName != sp.Pname || p.PackageVersion != sp.Version {
			t.Errorf("%s: name %q version %q", sp.Path, p.PackageName, p.PackageVersion)
		}
		if !rels[string(rootID)+" CONTAINS "+string(p.PackageSPDXIdentifier)] {
			t.Errorf("%s: the image does not CONTAIN it", sp.Path)
		}
		for _, ref := range sp.References {
			if ref == sp.Path {
				if rels[string(p.PackageSPDXIdentifier)+" DEPENDS_ON "+string(p.PackageSPDXIdentifier)] {
					t.Errorf("%s depends on itself", sp.Path)
				}
				continue
			}
			if q := byPath[ref]; q == nil || !rels[string(p.PackageSPDXIdentifier)+" DEPENDS_ON "+string(q.PackageSPDXIdentifier)] {
				t.Errorf("%s: no DEPENDS_ON %s", sp.Path, ref)
			}
		}
	}
	depends := 0
	for k := range rels {
		if strings.Contains(k, " DEPENDS_ON ") {
			depends++
		}
	}
	if depends != 10 {
		t.Errorf("%d DEPENDS_ON relationships, want the 10 edges of the closure graph", depends)
	}
	if res.NixPackages != len(m.Paths) || res.Merged == 0 {
		t.Errorf("NixPackages %d (want %d), Merged %d", res.NixPackages, len(m.Paths), res.Merged)
	}

	wantRefs := map[string][]string{
		"python3":             {"cpe:2.3:a:python:python:3.11.4:*:*:*:*:*:*:*"},
		"openssl":             {"cpe:2.3:a:openssl:openssl:3.0.7:*:*:*:*:*:*:*"},
		"glibc":               {"cpe:2.3:a:gnu:glibc:2.36:*:*:*:*:*:*:*"},
		"python3.11-requests": {"pkg:pypi/requests@2.31.0", "cpe:2.3:a:python:requests:2.31.0:*:*:*:*:*:*:*"},
		"nss-cacert":          nil,
	}
	for _, p := range byPath {
		want, ok := wantRefs[p.PackageName]
		if !ok {
			continue
		}
		var got []string
		for _, r := range p.PackageExternalReferences[1:] {
			got = append(got, r.Locator)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: external refs after the nix purl %q, want %q", p.PackageName, got, want)
		}
	}
	bin := byPath[fakeStorePath("openssl-3.0.7-bin")]
	if bin == nil || !strings.Contains(refs(bin, "purl")[0], "output=bin") {
		t.Errorf("openssl-3.0.7-bin: purl without output=bin: %+v", bin)
	}

	// Syft's own finding outside the closure stays: requests from its dist-info.
	s, id, _, err := format.Decode(bytes.NewReader(res.Document))
	if err != nil || id != spdxjson.ID {
		t.Fatalf("syft cannot decode the document: %v (format %q)", err, id)
	}
	found := map[string]pkg.Package{}
	for p := range s.Artifacts.Packages.Enumerate() {
		found[string(p.Type)+"/"+p.Name] = p
	}
	if _, ok := found["python/requests"]; !ok {
		t.Errorf("syft's pypi package requests is gone: %v", keys(found))
	}
	py, ok := found["nix/python3"]
	if !ok || len(py.CPEs) != 1 || py.CPEs[0].Attributes.Vendor != "python" || py.PURL == "" {
		t.Errorf("decoded python3: %+v", py)
	}
	if got := s.Artifacts.Packages.PackageCount(); got != res.Packages {
		t.Errorf("syft decodes %d packages, Result.Packages is %d", got, res.Packages)
	}
}

func refs(p *spdx.Package, typ string) []string {
	var out []string
	for _, r := range p.PackageExternalReferences {
		if r.RefType == typ {
			out = append(out, r.Locator)
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestGenerateWithoutClosure: an image without a manifest gets Syft's
// packages, still tied to the digest and deterministic.
func TestGenerateWithoutClosure(t *testing.T) {
	img, _ := fakeImage(t, "amd64")
	res := generate(t, img, nil)
	doc := readSPDX(t, res.Document)
	if res.NixPackages != 0 || res.Packages == 0 {
		t.Errorf("NixPackages %d Packages %d", res.NixPackages, res.Packages)
	}
	for _, p := range doc.Packages {
		if strings.HasPrefix(p.PackageSourceInfo, "Nix store path ") {
			t.Errorf("closure package %s without a closure", p.PackageName)
		}
	}
	if again := generate(t, img, nil); !bytes.Equal(again.Document, res.Document) {
		t.Error("not deterministic without a closure")
	}
}

func TestGenerateRejects(t *testing.T) {
	img, m := fakeImage(t, "amd64")
	d, _ := img.Digest()
	other, _ := v1.NewHash("sha256:" + strings.Repeat("a", 64))
	base := Options{Image: img, Digest: d, Name: "python:distroless", Manifest: m, Created: epoch, TempDir: t.TempDir()}
	edit := func(f func(o *Options, m *closure.Manifest)) Options {
		o := base
		mc := *m
		mc.Paths = append([]closure.StorePath(nil), m.Paths...)
		o.Manifest = &mc
		f(&o, &mc)
		return o
	}
	for _, tc := range []struct {
		name string
		opts Options
		want error
		text string
	}{
		{"no image", edit(func(o *Options, _ *closure.Manifest) { o.Image = nil }), ErrInvalidOptions, "no image"},
		{"no creation time", edit(func(o *Options, _ *closure.Manifest) { o.Created = time.Time{} }), ErrInvalidOptions, "SOURCE_DATE_EPOCH"},
		{"name with digest", edit(func(o *Options, _ *closure.Manifest) { o.Name = "python@" + d.String() }), ErrInvalidOptions, "carries a digest"},
		{"bad name", edit(func(o *Options, _ *closure.Manifest) { o.Name = "Not A Name" }), ErrInvalidOptions, "Not A Name"},
		{"other digest", edit(func(o *Options, _ *closure.Manifest) { o.Digest = other }), ErrDigestMismatch, d.String()},
		{"other arch", edit(func(_ *Options, m *closure.Manifest) { m.Arch = "arm64" }), ErrClosureMismatch, "arm64"},
		{"other root", edit(func(_ *Options, m *closure.Manifest) { m.Root = m.Paths[0].Path }), ErrClosureMismatch, "closure-root"},
		{"bad narHash", edit(func(_ *Options, m *closure.Manifest) { m.Paths[1].NarHash = "md5-abc" }), ErrInvalidManifest, "narHash"},
		{"dangling reference", edit(func(_ *Options, m *closure.Manifest) {
			m.Paths[1].References = append([]string{"/nix/store/" + strings.Repeat("0", 32) + "-gone-1.0"}, m.Paths[1].References...)
		}), ErrInvalidManifest, "gone-1.0, which is not in paths"},
		{"not a store path", edit(func(_ *Options, m *closure.Manifest) { m.Paths[2].Path = "/usr/lib" }), ErrInvalidManifest, `"/usr/lib" is not a store path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(context.Background(), tc.opts)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v, want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
}

func TestNarSHA256Forms(t *testing.T) {
	const want = "8681a9fa618ed986e59a4b0a5937bf3816e8e041806230d80313cef4f74fa4b3"
	for _, s := range []string{
		"sha256-hoGp+mGO2YblmksKWTe/OBbo4EGAYjDYAxPO9PdPpLM=",
		"sha256:1cx49zvz9khk0gc30ql087hfh5iqpwvmj2jbkbjqdncfc7xak0c6", // nix hash to-base32
		"sha256:" + want,
	} {
		got, err := narSHA256(s)
		if err != nil || got != want {
			t.Errorf("narSHA256(%q) = %q, %v; want %s", s, got, err, want)
		}
	}
	for _, s := range []string{"", "sha256-AAAA", "sha1-hoGp", "sha256:" + strings.Repeat("e", 52), "sha256:" + strings.Repeat("z", 64)} {
		if got, err := narSHA256(s); err == nil {
			t.Errorf("narSHA256(%q) = %q, want an error", s, got)
		}
	}
}
