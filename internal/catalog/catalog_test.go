package catalog

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/clearcutt/clearcutt/internal/catalog/catalogtest"
	"github.com/clearcutt/clearcutt/internal/verify"
)

var update = flag.Bool("update", false, "rewrite schemas/catalog.v1alpha1.schema.json")

const schemaFile = "../../schemas/catalog.v1alpha1.schema.json"

func TestSchemaHasNotDrifted(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (generate it with: go test ./internal/catalog -run TestSchemaHasNotDrifted -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the Go types; regenerate with: go test ./internal/catalog -run TestSchemaHasNotDrifted -update", schemaFile)
	}
}

type tarEntry struct {
	name string
	typ  byte
	size int64
}

func layerOf(t *testing.T, entries ...tarEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Size: e.size, Mode: 0o644}
		switch e.typ {
		case tar.TypeDir:
			h.Mode = 0o755
		case tar.TypeSymlink:
			h.Linkname = "target"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write(make([]byte, e.size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func reg(name string, size int64) tarEntry { return tarEntry{name, tar.TypeReg, size} }

// fixtureIndex is a two-platform index whose images share their second
// layer, which deletes files of the first with whiteouts.
func fixtureIndex(t *testing.T, labels map[string]string) v1.ImageIndex {
	t.Helper()
	return fixtureIndexWith(t, labels, nil)
}

// fixtureRun is the run configuration of the fixture's images.
var fixtureRun = ImageConfig{
	Entrypoint: []string{"/nix/store/aaa-python3/bin/python3"}, User: "65532:65532",
	Env: []string{"PATH=/nix/store/aaa-python3/bin", "LANG=C.UTF-8"}, WorkingDir: "/home/nonroot",
}

// fixtureIndexWith is fixtureIndex, with each platform's config changed
// by edit (when not nil) after the fixture's own run configuration.
func fixtureIndexWith(t *testing.T, labels map[string]string, edit func(v1.Platform, *v1.Config)) v1.ImageIndex {
	t.Helper()
	base := layerOf(t,
		tarEntry{"nix/", tar.TypeDir, 0}, tarEntry{"nix/store/", tar.TypeDir, 0},
		reg("nix/store/aaa-python3/bin/python3", 1000),
		reg("nix/store/aaa-python3/include/python3.11/Python.h", 300),
		reg("nix/store/aaa-python3/include/x.h", 200),
		reg("nix/store/aaa-python3/lib/libpython3.11.a", 5000),
		reg("nix/store/aaa-python3/lib/pkgconfig/python3.pc", 50),
		reg("nix/store/bbb-openssl/share/man/man1/openssl.1", 400),
		reg("nix/store/bbb-openssl/lib/libssl.la", 10),
		tarEntry{"nix/store/bbb-openssl/lib/libssl.so", tar.TypeSymlink, 0},
		reg("etc/passwd", 100),
	)
	top := layerOf(t,
		reg("nix/store/ccc-doc/share/doc/readme", 700),
		reg("nix/store/bbb-openssl/share/man/.wh.man1", 0),
		reg("nix/store/aaa-python3/lib/pkgconfig/.wh..wh..opq", 0),
		reg("nix/store/aaa-python3/lib/pkgconfig/new.pc", 60),
	)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "arm64", Variant: "v8"}, {OS: "linux", Architecture: "amd64"}} {
		img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layerOf(t, reg("nix/store/eee-"+p.Architecture+"/x", 1)), base, top)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
		cf.Config.Labels = labels
		cf.Config.Entrypoint, cf.Config.User = fixtureRun.Entrypoint, fixtureRun.User
		cf.Config.Env, cf.Config.WorkingDir = fixtureRun.Env, fixtureRun.WorkingDir
		if edit != nil {
			edit(p, &cf.Config)
		}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		plat := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &plat}})
	}
	return idx
}

var pythonLabels = map[string]string{LabelRuntime: "python", LabelTier: "distroless", LabelVersion: "3.11"}

// spdxDoc is an SBOM shaped as Syft writes it: the image it describes,
// then its packages, in no particular order.
const spdxDoc = `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"x","packages":[` +
	`{"SPDXID":"SPDXRef-c","name":"zlib","versionInfo":"1.3.1","licenseConcluded":"NOASSERTION","licenseDeclared":"Zlib",` +
	`"externalRefs":[{"referenceCategory":"SECURITY","referenceType":"cpe23Type","referenceLocator":"cpe:2.3:a:zlib:zlib:1.3.1:*:*:*:*:*:*:*"},` +
	`{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:nix/zlib@1.3.1?outputhash=ccc"}]},` +
	`{"SPDXID":"SPDXRef-b","name":"openssl","versionInfo":"3.0.13","licenseConcluded":"Apache-2.0","licenseDeclared":"NOASSERTION"},` +
	`{"SPDXID":"SPDXRef-a","name":"openssl","versionInfo":"3.0.12","licenseConcluded":"NOASSERTION","licenseDeclared":"NOASSERTION"},` +
	`{"SPDXID":"SPDXRef-root","name":"ghcr.io/acme/fleet/python","versionInfo":"sha256:0000"}],` +
	`"relationships":[{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-root"},{"spdxElementId":"SPDXRef-root","relationshipType":"CONTAINS","relatedSpdxElement":"SPDXRef-a"}]}`

// vulnsDoc is a vulns/v0.2 predicate shaped as internal/scan writes it.
func vulnsDoc(results ...string) []byte {
	return []byte(`{"scanner":{"uri":"pkg:golang/github.com/anchore/grype","version":"0.121.2","db":{"lastUpdate":"2025-01-01T00:00:00Z"},"result":[` +
		strings.Join(results, ",") + `]},"metadata":{"scanStartedOn":"2025-01-02T00:00:00Z","scanFinishedOn":"2025-01-02T00:00:00Z"}}`)
}

func result(id, severity string, ann string) string {
	return `{"id":"` + id + `","severity":[{"method":"cvss_vector","score":"CVSS:3.1/AV:N"},{"method":"grype","score":"` + severity + `"}],"annotations":[{` + ann + `}]}`
}

type fixture struct {
	idx      v1.ImageIndex
	d        v1.Hash
	amd, arm v1.Descriptor
	rep      verify.Report
	t0, t1   time.Time
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	idx := fixtureIndex(t, pythonLabels)
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{idx: idx, d: d, arm: im.Manifests[0], amd: im.Manifests[1],
		t0: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), t1: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)}
	ok := func(arch string, h v1.Hash) verify.Entry {
		return verify.Entry{Arch: arch, Digest: h.String(), Status: verify.StatusVerified, Source: "bundle", Signer: "key sha256:k", PredicateType: "t"}
	}
	amdName, armName := "linux/amd64", "linux/arm64/v8"
	amdSBOM := ok(amdName, f.amd.Digest)
	amdSBOM.Predicate = json.RawMessage(spdxDoc)
	armSBOM := ok(armName, f.arm.Digest)
	armSBOM.Status, armSBOM.Reason, armSBOM.Predicate = verify.StatusFailed, "evidence content rejected: SBOM does not describe it", json.RawMessage(spdxDoc)
	amdScan := ok(amdName, f.amd.Digest)
	amdScan.ScanTime, amdScan.DBBuiltAt = &f.t1, &f.t0
	amdScan.Predicate = vulnsDoc(
		result("CVE-A", "High", `"package":"openssl","version":"3.0.1","type":"nix","purl":"pkg:nix/openssl@3.0.1","origin":"closure","status":"active","fixState":"fixed","fixedIn":["3.0.2"],"aliases":["GHSA-1"]`),
		result("CVE-B", "Critical", `"package":"zlib","version":"1.2","origin":"closure","status":"suppressed","fixState":"not-fixed","vexStatus":"not_affected","vexJustification":"vulnerable_code_not_in_execute_path"`),
		result("CVE-C", "Medium", `"package":"expat","version":"2.5","origin":"base","status":"excepted","fixState":"unknown","exceptionOwner":"sec@acme","exceptionExpires":"2099-01-01"`),
		result("CVE-D", "whatever", `"package":"x","version":"1","status":"bogus"`),
	)
	armScan := ok(armName, f.arm.Digest)
	armScan.Status, armScan.Reason = verify.StatusPending, "evidence is stale: newest scan is old"
	armScan.ScanTime = &f.t0
	armScan.Predicate = vulnsDoc(
		result("CVE-A", "high", `"package":"openssl","version":"3.0.1","status":"active"`),
		result("CVE-E", "low", `"package":"bzip2","version":"1.0","status":"active"`),
	)
	missingProv := verify.Entry{Arch: "index", Digest: d.String(), Status: verify.StatusMissing, Reason: "evidence missing: no provenance evidence"}
	f.rep = verify.Report{Image: "oci:x@" + d.String(), Digest: d.String(), VerifiedAt: f.t1, KeyMode: true, Channels: []verify.ChannelReport{
		{Channel: verify.ChannelSignature, Required: true, Status: verify.StatusVerified, Entries: []verify.Entry{ok("index", d), ok(amdName, f.amd.Digest), ok(armName, f.arm.Digest)}},
		{Channel: verify.ChannelSBOM, Required: true, Status: verify.StatusFailed, Entries: []verify.Entry{amdSBOM, armSBOM}},
		{Channel: verify.ChannelProvenance, Required: false, Status: verify.StatusMissing, Entries: []verify.Entry{missingProv}},
		{Channel: verify.ChannelTests, Required: true, Status: verify.StatusVerified, Entries: []verify.Entry{ok(amdName, f.amd.Digest), ok(armName, f.arm.Digest)}},
		{Channel: verify.ChannelVulnerabilities, Required: true, Status: verify.StatusPending, Entries: []verify.Entry{amdScan, armScan}},
		{Channel: verify.ChannelVEX, Required: true, Status: verify.StatusVerified, Entries: []verify.Entry{ok(amdName, f.amd.Digest), ok(armName, f.arm.Digest)}},
	}}
	return f
}

func (f fixture) observed() Observed {
	return Observed{Name: "python:distroless", Reference: "oci:out/oci@" + f.d.String(), Index: f.idx, Report: f.rep, Tags: []string{"distroless", "3.11-distroless"}}
}

func build(t *testing.T, o Options) Result {
	t.Helper()
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestBuildReadsImagesAndVerifiedEvidence(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC)
	res := build(t, Options{Fleet: Fleet{Name: "fleet", Repository: "acme/fleet", Registry: "oci:out/oci", PublicKey: "k.pub",
		RequiredChannels: []string{"signature", "sbom", "tests", "vulnerabilities", "vex"}}, Images: []Observed{f.observed()}, Now: now})
	if res.Passed() {
		t.Error("a catalog with a failed SBOM passed")
	}
	c := res.Catalog
	if c.APIVersion != APIVersion || !c.GeneratedAt.Equal(now) || len(c.Images) != 1 {
		t.Fatalf("catalog %+v", c)
	}
	im := c.Images[0]
	if im.Name != "python:distroless" || im.Runtime != "python" || im.Tier != "distroless" || im.Version != "3.11" || im.IndexDigest != f.d.String() {
		t.Errorf("image identity %+v", im)
	}
	if strings.Join(im.Tags, ",") != "3.11-distroless,distroless" {
		t.Errorf("tags %v", im.Tags)
	}
	// The run configuration, shared by the architectures, is the image's.
	if im.Config == nil || !reflect.DeepEqual(*im.Config, fixtureRun) {
		t.Errorf("config %+v, want %+v", im.Config, fixtureRun)
	}
	for _, p := range im.Platforms {
		if p.Config != nil {
			t.Errorf("%s repeats the shared config", p.Platform)
		}
	}
	// The worst required channel decides: the failed SBOM, not the pending scan.
	if im.Status != StatusFailed {
		t.Errorf("status %s, want failed", im.Status)
	}
	// Image-level channels: verify's aggregate with the deciding entry.
	wantImage := map[string]Status{"signature": StatusVerified, "sbom": StatusFailed, "provenance": StatusMissing, "tests": StatusVerified, "vulnerabilities": StatusPending, "vex": StatusVerified}
	if len(im.Channels) != 6 {
		t.Fatalf("image channels %+v", im.Channels)
	}
	for _, cs := range im.Channels {
		if cs.Status != wantImage[cs.Channel] {
			t.Errorf("image channel %s is %s, want %s", cs.Channel, cs.Status, wantImage[cs.Channel])
		}
		switch cs.Channel {
		case "sbom":
			if cs.Digest != f.arm.Digest.String() || !strings.HasPrefix(cs.Reason, "linux/arm64/v8: evidence content rejected") {
				t.Errorf("sbom decided by %s: %q", cs.Digest, cs.Reason)
			}
		case "signature", "provenance":
			if cs.Digest != f.d.String() {
				t.Errorf("%s decided by %s, not the index", cs.Channel, cs.Digest)
			}
		case "vulnerabilities":
			if cs.ScanTime == nil || !cs.ScanTime.Equal(f.t0) {
				t.Errorf("vulnerabilities decided by the scan of %v, want the older %v", cs.ScanTime, f.t0)
			}
		}
		if cs.Required != (cs.Channel != "provenance") {
			t.Errorf("channel %s required=%v", cs.Channel, cs.Required)
		}
	}
	if len(im.Platforms) != 2 || im.Platforms[0].Platform != "linux/amd64" || im.Platforms[1].Platform != "linux/arm64/v8" {
		t.Fatalf("platforms %+v", im.Platforms)
	}
	amd, arm := im.Platforms[0], im.Platforms[1]
	if amd.Digest != f.amd.Digest.String() || arm.Digest != f.arm.Digest.String() {
		t.Errorf("platform digests %s %s", amd.Digest, arm.Digest)
	}

	// Sizes from the manifests: manifest + config + compressed layers.
	img, err := f.idx.Image(f.amd.Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	want := f.amd.Size + m.Config.Size
	for _, l := range m.Layers {
		want += l.Size
	}
	if amd.Size != want || amd.Layers != 3 {
		t.Errorf("size %d layers %d, want %d and 3", amd.Size, amd.Layers, want)
	}
	// The closure: regular files under the store after whiteouts; the man
	// page and the first .pc file are deleted by the top layer.
	if amd.ClosureSize != 1+1000+300+200+5000+10+700+60 {
		t.Errorf("closure size %d", amd.ClosureSize)
	}
	wantPruning := []PruningCandidate{
		{"/nix/store/aaa-python3/lib/*.a", ReasonStaticLibs, 5000},
		{"/nix/store/ccc-doc/share/doc", ReasonDocs, 700},
		{"/nix/store/aaa-python3/include", ReasonHeaders, 500},
		{"/nix/store/aaa-python3/lib/pkgconfig", ReasonPkgConfig, 60},
		{"/nix/store/bbb-openssl/lib/*.la", ReasonLibtool, 10},
	}
	if diff := cmp.Diff(wantPruning, amd.PruningCandidates); diff != "" {
		t.Errorf("pruning candidates (-want +got):\n%s", diff)
	}

	// The package count and the SBOM file only from a verified SBOM.
	if amd.Packages == nil || *amd.Packages != 3 || amd.SBOM != "sbom/"+f.amd.Digest.Hex+".spdx.json" {
		t.Errorf("amd64 packages %v sbom %q", amd.Packages, amd.SBOM)
	}
	if arm.Packages != nil || arm.SBOM != "" {
		t.Errorf("arm64 has a failed SBOM but packages %v sbom %q", *arm.Packages, arm.SBOM)
	}
	// The list: sorted by name then version, without the image the SBOM
	// describes; a license concluded, else declared, NOASSERTION none.
	wantPackages := []Package{
		{Name: "openssl", Version: "3.0.12"},
		{Name: "openssl", Version: "3.0.13", License: "Apache-2.0"},
		{Name: "zlib", Version: "1.3.1", License: "Zlib", PURL: "pkg:nix/zlib@1.3.1?outputhash=ccc"},
	}
	if diff := cmp.Diff(wantPackages, amd.PackageList); diff != "" {
		t.Errorf("amd64 package list (-want +got):\n%s", diff)
	}
	if arm.PackageList != nil {
		t.Errorf("arm64 has a failed SBOM but lists packages %+v", arm.PackageList)
	}
	if len(res.SBOMs) != 1 || string(res.SBOMs[amd.SBOM]) != spdxDoc {
		t.Errorf("SBOM documents %v", res.SBOMs)
	}
	// Per-platform channels; provenance repeats the index entry.
	for _, cs := range arm.Channels {
		if cs.Channel == "provenance" && (cs.Digest != f.d.String() || cs.Status != StatusMissing) {
			t.Errorf("arm64 provenance %+v", cs)
		}
		if cs.Channel == "sbom" && cs.Status != StatusFailed {
			t.Errorf("arm64 sbom %+v", cs)
		}
		if cs.Channel == "signature" && cs.Digest != f.arm.Digest.String() {
			t.Errorf("arm64 signature is about %s", cs.Digest)
		}
	}

	// Vulnerabilities: nothing dropped, suppressed and excepted apart, an
	// unknown status counted as active.
	v := amd.Vulnerabilities
	if v == nil {
		t.Fatal("amd64 has no vulnerabilities")
	}
	if v.Active != (Severities{High: 1, Unknown: 1}) || v.Suppressed != (Severities{Critical: 1}) || v.Excepted != (Severities{Medium: 1}) {
		t.Errorf("counts active %+v suppressed %+v excepted %+v", v.Active, v.Suppressed, v.Excepted)
	}
	var ids []string
	for _, fd := range v.Findings {
		ids = append(ids, fd.ID+"/"+fd.Status)
	}
	if got := strings.Join(ids, " "); got != "CVE-B/suppressed CVE-A/active CVE-C/excepted CVE-D/active" {
		t.Errorf("findings %s", got)
	}
	a := v.Findings[1]
	if a.Package != "openssl" || a.Version != "3.0.1" || a.PURL != "pkg:nix/openssl@3.0.1" || a.Origin != "closure" || a.FixState != "fixed" ||
		strings.Join(a.FixedIn, ",") != "3.0.2" || strings.Join(a.Aliases, ",") != "GHSA-1" || a.Severity != "high" {
		t.Errorf("CVE-A %+v", a)
	}
	if b := v.Findings[0]; b.VEXStatus != "not_affected" || b.VEXJustification != "vulnerable_code_not_in_execute_path" {
		t.Errorf("CVE-B %+v", b)
	}
	if c := v.Findings[2]; c.ExceptionOwner != "sec@acme" || c.ExceptionExpires != "2099-01-01" {
		t.Errorf("CVE-C %+v", c)
	}
	if !v.ScanTime.Equal(f.t1) || v.DBBuiltAt == nil || !v.DBBuiltAt.Equal(f.t0) {
		t.Errorf("scan time %v db %v", v.ScanTime, v.DBBuiltAt)
	}
	// A pending scan is still read.
	if arm.Vulnerabilities == nil || arm.Vulnerabilities.Active != (Severities{High: 1, Low: 1}) {
		t.Errorf("arm64 vulnerabilities %+v", arm.Vulnerabilities)
	}

	// One history point: the newest scan, unique ids over both platforms.
	wantPoint := ScanPoint{ScanTime: f.t1, DBBuiltAt: &f.t0, Active: Severities{High: 1, Low: 1, Unknown: 1}, Suppressed: 1, Excepted: 1}
	if diff := cmp.Diff([]ScanPoint{wantPoint}, im.History); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

// TestConfigsThatDifferStayPerPlatform: when the architectures' run
// configurations differ, the image has none and each platform its own.
func TestConfigsThatDifferStayPerPlatform(t *testing.T) {
	f := newFixture(t)
	idx := fixtureIndexWith(t, pythonLabels, func(p v1.Platform, c *v1.Config) { c.Cmd = []string{"-X", p.Architecture} })
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	o := f.observed()
	o.Index, o.Reference = idx, "oci:out/oci@"+d.String()
	o.Report.Digest = d.String()
	// The report's entries name the fixture's digests: rename them.
	rename := map[string]string{f.d.String(): d.String(), f.arm.Digest.String(): im.Manifests[0].Digest.String(), f.amd.Digest.String(): im.Manifests[1].Digest.String()}
	chs := make([]verify.ChannelReport, len(o.Report.Channels))
	for i, ch := range o.Report.Channels {
		ch.Entries = slices.Clone(ch.Entries)
		for j := range ch.Entries {
			ch.Entries[j].Digest = rename[ch.Entries[j].Digest]
		}
		chs[i] = ch
	}
	o.Report.Channels = chs
	res := build(t, Options{Fleet: Fleet{Name: "fleet", Repository: "acme/fleet", Registry: "oci:out/oci", PublicKey: "k.pub", RequiredChannels: []string{"signature"}},
		Images: []Observed{o}, Now: f.t1})
	got := res.Catalog.Images[0]
	if got.Config != nil {
		t.Errorf("image config %+v, want none: the architectures differ", got.Config)
	}
	for _, p := range got.Platforms {
		arch := strings.Split(p.Platform, "/")[1]
		if p.Config == nil || !slices.Equal(p.Config.Cmd, []string{"-X", arch}) || p.Config.User != fixtureRun.User {
			t.Errorf("%s config %+v", p.Platform, p.Config)
		}
	}
}

func TestHistoryCarriesOverAndGrowsOnlyWithNewScans(t *testing.T) {
	f := newFixture(t)
	old := ScanPoint{ScanTime: f.t0.Add(-time.Hour), Active: Severities{Critical: 4}}
	prev := &Catalog{Images: []Image{
		{Name: "python:distroless", History: []ScanPoint{old}},
		{Name: "static:distroless", History: []ScanPoint{{ScanTime: f.t0}}},
	}}
	im := build(t, Options{Images: []Observed{f.observed()}, Previous: prev}).Catalog.Images[0]
	if len(im.History) != 2 || !im.History[1].ScanTime.Equal(f.t1) {
		t.Fatalf("history %+v, want the previous point and one at %v", im.History, f.t1)
	}
	if diff := cmp.Diff(old, im.History[0]); diff != "" {
		t.Fatalf("history[0], want the previous point (-want +got):\n%s", diff)
	}
	// The same scans again: no new point.
	again := build(t, Options{Images: []Observed{f.observed()}, Previous: &Catalog{Images: []Image{im}}}).Catalog.Images[0]
	if diff := cmp.Diff(im.History, again.History); diff != "" {
		t.Errorf("history grew without a new scan (-want +got):\n%s", diff)
	}
	// Without any readable scan, the history is kept as it was.
	o := f.observed()
	o.Report.Channels = append([]verify.ChannelReport(nil), o.Report.Channels...)
	o.Report.Channels[4] = verify.ChannelReport{Channel: verify.ChannelVulnerabilities, Required: true, Status: verify.StatusMissing, Entries: []verify.Entry{
		{Arch: "linux/amd64", Digest: f.amd.Digest.String(), Status: verify.StatusMissing}, {Arch: "linux/arm64/v8", Digest: f.arm.Digest.String(), Status: verify.StatusMissing}}}
	none := build(t, Options{Images: []Observed{o}, Previous: &Catalog{Images: []Image{im}}}).Catalog.Images[0]
	if diff := cmp.Diff(im.History, none.History); diff != "" {
		t.Errorf("history without a readable scan (-want +got):\n%s", diff)
	}
	if none.Platforms[0].Vulnerabilities != nil {
		t.Errorf("vulnerabilities without a readable scan %+v", none.Platforms[0].Vulnerabilities)
	}
	if none.Status != StatusMissing && none.Status != StatusFailed {
		t.Errorf("status %s", none.Status)
	}
}

func TestBuildRefusesWhatItCannotDescribe(t *testing.T) {
	f := newFixture(t)
	for name, mod := range map[string]func(*Observed){
		"labels name another image": func(o *Observed) { o.Name = "static:distroless" },
		"report about another index": func(o *Observed) {
			o.Report.Digest = f.amd.Digest.String()
		},
		"reference not by this digest": func(o *Observed) { o.Reference = "oci:out/oci@" + f.amd.Digest.String() },
	} {
		t.Run(name, func(t *testing.T) {
			o := f.observed()
			mod(&o)
			_, err := Build(context.Background(), Options{Images: []Observed{o}})
			if err == nil {
				t.Fatal("built")
			}
			if !errors.Is(err, ErrMismatch) && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v wraps no sentinel", err)
			}
		})
	}
	// Two observations of one image.
	_, err := Build(context.Background(), Options{Images: []Observed{f.observed(), f.observed()}})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("duplicate image: %v", err)
	}
	// Platforms that disagree about what they are.
	other := fixtureIndex(t, map[string]string{LabelRuntime: "static", LabelTier: "distroless"})
	oim, _ := other.IndexManifest()
	armStatic, err := other.Image(oim.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	amdPython, err := f.idx.Image(f.amd.Digest)
	if err != nil {
		t.Fatal(err)
	}
	mixed := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amdPython, Descriptor: v1.Descriptor{Platform: f.amd.Platform}},
		mutate.IndexAddendum{Add: armStatic, Descriptor: v1.Descriptor{Platform: oim.Manifests[0].Platform}})
	md, err := mixed.Digest()
	if err != nil {
		t.Fatal(err)
	}
	o := f.observed()
	o.Index, o.Report.Digest, o.Reference = mixed, md.String(), "oci:out/oci@"+md.String()
	if _, err := Build(context.Background(), Options{Images: []Observed{o}}); !errors.Is(err, ErrMismatch) {
		t.Errorf("platforms of two runtimes: %v", err)
	}
}

func TestWriteIsAtomicAndReadRoundTrips(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	res := build(t, Options{Fleet: Fleet{Name: "fleet", Repository: "acme/fleet", Registry: "oci:out/oci"}, Images: []Observed{f.observed()}})
	// A stale SBOM of an earlier catalog and an unrelated file.
	if err := os.MkdirAll(filepath.Join(dir, "sbom"), 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "sbom", strings.Repeat("0", 64)+".spdx.json")
	keep := filepath.Join(dir, "sbom", "README")
	for _, p := range []string{stale, keep} {
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := Write(dir, res); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	catalogtest.Validate(t, js)
	// The schema holds the format: a status or a null it does not allow fails.
	for _, bad := range []struct{ from, to string }{
		{`"status": "failed"`, `"status": "broken"`},
		{`"tags": [`, `"tags": null, "x": [`},
		{`"apiVersion": "` + APIVersion + `"`, `"apiVersion": "v0"`},
	} {
		doc := strings.Replace(string(js), bad.from, bad.to, 1)
		if doc == string(js) {
			t.Fatalf("%q is not in catalog.json", bad.from)
		}
		if err := catalogtest.Check(t, []byte(doc)); err == nil {
			t.Errorf("the schema accepts %s", bad.to)
		}
	}
	want, _ := Marshal(res.Catalog)
	if !bytes.Equal(js, want) {
		t.Error("catalog.json is not the marshalled catalog")
	}
	back, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Marshal(*back)
	if !bytes.Equal(again, js) {
		t.Error("Read does not round-trip catalog.json")
	}
	sbom := res.Catalog.Images[0].Platforms[0].SBOM
	if b, err := os.ReadFile(filepath.Join(dir, sbom)); err != nil || string(b) != spdxDoc {
		t.Errorf("%s: %v %q", sbom, err, b)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale SBOM kept: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("an unrelated file was removed: %v", err)
	}
	var leftovers []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, _ error) error {
		if strings.HasSuffix(p, ".tmp") {
			leftovers = append(leftovers, p)
		}
		return nil
	})
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// A result naming an SBOM it does not hold writes nothing.
	broken := res
	broken.SBOMs = map[string][]byte{}
	before, _ := os.ReadFile(filepath.Join(dir, FileName))
	broken.Catalog.GeneratedAt = broken.Catalog.GeneratedAt.Add(time.Hour)
	if err := Write(dir, broken); !errors.Is(err, ErrInvalid) {
		t.Errorf("Write of an inconsistent result: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, FileName)); !bytes.Equal(before, after) {
		t.Error("catalog.json changed by a refused write")
	}

	// Read: none, and a file of another format.
	if c, err := Read(t.TempDir()); c != nil || !errors.Is(err, ErrInvalidCatalog) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of an empty directory: %v %v", c, err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, FileName), []byte(`{"apiVersion":"v0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(other); !errors.Is(err, ErrInvalidCatalog) || !strings.Contains(err.Error(), filepath.Join(other, FileName)) {
		t.Errorf("Read of another format: %v", err)
	}
}

func TestPruningCandidatesAreCapped(t *testing.T) {
	fs := map[string]int64{}
	for i := 0; i < 30; i++ {
		fs["/nix/store/p"+strings.Repeat("x", i)+"-pkg/include/h.h"] = int64(100 + i)
	}
	fs["/nix/store/q-pkg/bin/tool"] = 1 << 20
	total, got := closureFacts(fs, 5)
	if len(got) != 5 || got[0].Size != 129 || got[4].Size != 125 {
		t.Errorf("capped candidates %+v", got)
	}
	var want int64 = 1 << 20
	for i := 0; i < 30; i++ {
		want += int64(100 + i)
	}
	if total != want {
		t.Errorf("closure size %d, want %d", total, want)
	}
}

func TestReadVulnerabilitiesRefusesAPredicateWithoutScanner(t *testing.T) {
	for _, p := range []string{`{}`, `{"scanner": null}`, `not json`} {
		if _, err := ReadVulnerabilities([]byte(p), time.Now(), nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", p, err)
		}
	}
	v, err := ReadVulnerabilities([]byte(`{"scanner": {"result": [{"id": "CVE-1", "severity": [{"method": "grype", "score": "High"}], "annotations": [{"package": "p", "status": "suppressed"}]}]}}`), time.Now(), nil)
	if err != nil || len(v.Findings) != 1 || v.Suppressed.High != 1 || v.Active.Total() != 0 {
		t.Fatalf("%+v %v", v, err)
	}
}

// verifiedObserved is the fixture with every channel of every entry verified.
func (f fixture) verifiedObserved() Observed {
	o := f.observed()
	o.Report.Channels = append([]verify.ChannelReport(nil), o.Report.Channels...)
	for i, cr := range o.Report.Channels {
		cr.Status = verify.StatusVerified
		cr.Entries = append([]verify.Entry(nil), cr.Entries...)
		for j := range cr.Entries {
			cr.Entries[j].Status, cr.Entries[j].Reason = verify.StatusVerified, ""
		}
		o.Report.Channels[i] = cr
	}
	return o
}

func TestFailedReleasesAreRecordedAndFail(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC)
	pyOld := ScanPoint{ScanTime: f.t0.Add(-time.Hour), Active: Severities{High: 2}}
	staticOld := ScanPoint{ScanTime: f.t0.Add(-2 * time.Hour), Active: Severities{Low: 1}}
	prev := &Catalog{Images: []Image{
		{Name: "python:distroless", History: []ScanPoint{pyOld}},
		{Name: "static:distroless", History: []ScanPoint{staticOld}},
	}}
	fl := Fleet{Name: "fleet", Repository: "acme/fleet", Registry: "oci:out/oci", PublicKey: "k.pub", RequiredChannels: []string{"signature", "sbom", "tests", "vulnerabilities", "vex"}}

	// The served release verifies: with its release failed, the catalog
	// still does not pass.
	ok := build(t, Options{Fleet: fl, Images: []Observed{f.verifiedObserved()}, Previous: prev, Now: now})
	if !ok.Passed() || ok.Catalog.Images[0].Release != nil {
		t.Fatalf("a verified image without a failed release: passed %v, release %+v", ok.Passed(), ok.Catalog.Images[0].Release)
	}
	if d := ok.Catalog.Images[0].Description; d != "" {
		t.Errorf("description %q of a runtime clearcutt.yaml does not describe", d)
	}
	res := build(t, Options{Fleet: fl, Images: []Observed{f.verifiedObserved()}, Previous: prev, Now: now,
		Descriptions: map[string]string{"python": "CPython for applications", "static": "No runtime, for static binaries", "java": "unused"},
		Failed: []FailedRelease{
			{Name: "static:distroless", Reason: "gate: 1 critical finding", Version: "1"},
			{Name: "python:distroless", Reason: "attest: registry unavailable", Version: "3.12"},
		}})
	if res.Passed() {
		t.Error("a catalog with failed releases passed")
	}
	if len(res.Catalog.Images) != 2 {
		t.Fatalf("images %+v", res.Catalog.Images)
	}
	py, st := res.Catalog.Images[0], res.Catalog.Images[1]
	if py.Name != "python:distroless" || st.Name != "static:distroless" {
		t.Fatalf("images %s, %s", py.Name, st.Name)
	}

	// With a release still served: observed as usual, the failure beside it.
	if !py.ReleaseFailed() || py.Release.Reason != "attest: registry unavailable" || !py.Release.RecordedAt.Equal(now) {
		t.Errorf("python release %+v", py.Release)
	}
	if py.Status != StatusVerified || py.Passed() || !py.Served() {
		t.Errorf("python status %s, passed %v, served %v", py.Status, py.Passed(), py.Served())
	}
	if py.Reference != "oci:out/oci@"+f.d.String() || py.IndexDigest != f.d.String() || py.Version != "3.11" || len(py.Platforms) != 2 || len(py.Channels) != 6 {
		t.Errorf("python is not the served release: %s %s version %s, %d platforms", py.Reference, py.IndexDigest, py.Version, len(py.Platforms))
	}
	if len(py.History) != 2 || !py.History[1].ScanTime.Equal(f.t1) {
		t.Errorf("python history %+v, want the previous point and one at %v", py.History, f.t1)
	} else if diff := cmp.Diff(pyOld, py.History[0]); diff != "" {
		t.Errorf("python history[0], want the previous point (-want +got):\n%s", diff)
	}

	// Each image carries its runtime's description, served or not.
	if py.Description != "CPython for applications" || st.Description != "No runtime, for static binaries" {
		t.Errorf("descriptions %q, %q", py.Description, st.Description)
	}

	// Never released: a record of its own, missing, with nothing observed.
	if !st.ReleaseFailed() || st.Release.Reason != "gate: 1 critical finding" || st.Passed() || st.Served() {
		t.Errorf("static release %+v, passed %v, served %v", st.Release, st.Passed(), st.Served())
	}
	if st.Status != StatusMissing || st.Runtime != "static" || st.Tier != "distroless" || st.Version != "1" {
		t.Errorf("static %+v", st)
	}
	if st.Reference != "" || st.IndexDigest != "" || !st.VerifiedAt.IsZero() || len(st.Tags) != 0 || len(st.Channels) != 0 || len(st.Platforms) != 0 {
		t.Errorf("static records what was not observed: %+v", st)
	}
	if diff := cmp.Diff([]ScanPoint{staticOld}, st.History); diff != "" {
		t.Errorf("static history, want the previous (-want +got):\n%s", diff)
	}

	// Written, it validates, reads back, and says what it says.
	dir := t.TempDir()
	if err := Write(dir, res); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	catalogtest.Validate(t, js)
	for _, want := range []string{`"description": "No runtime, for static binaries",`, `"release": {
        "failed": true,
        "reason": "gate: 1 critical finding",
        "recordedAt": "2025-01-03T00:00:00Z"
      }`, `"tags": [],`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("catalog.json lacks %s", want)
		}
	}
	if strings.Count(string(js), `"reference"`) != 1 || strings.Count(string(js), `"verifiedAt"`) != 1 {
		t.Errorf("the unreleased image has a reference or a verification time:\n%s", js)
	}
	back, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, back.Images[1]); diff != "" {
		t.Errorf("read back (-wrote +read):\n%s", diff)
	}
	// The schema refuses an image that is neither served nor failed, and
	// half a reference.
	for _, bad := range []struct{ from, to string }{
		{`"release": {
        "failed": true,
        "reason": "gate: 1 critical finding",`, `"x": {
        "failed": true,
        "reason": "gate: 1 critical finding",`},
		{`"reference": "oci:out/oci@` + f.d.String() + `",`, ``},
		{`"failed": true`, `"failed": false`},
	} {
		doc := strings.Replace(string(js), bad.from, bad.to, 1)
		if doc == string(js) {
			t.Fatalf("%q is not in catalog.json", bad.from)
		}
		if err := catalogtest.Check(t, []byte(doc)); err == nil {
			t.Errorf("the schema accepts %q in place of %q", bad.to, bad.from)
		}
	}

	// A later run keeps when the failure was first recorded, and the
	// history of the unreleased image.
	again := build(t, Options{Fleet: fl, Previous: back, Now: now.Add(time.Hour),
		Failed: []FailedRelease{{Name: st.Name, Reason: st.Release.Reason, Version: st.Version, RecordedAt: st.Release.RecordedAt}}})
	if im := again.Catalog.Images[0]; !im.Release.RecordedAt.Equal(now) || again.Passed() {
		t.Errorf("again %+v", im)
	} else if diff := cmp.Diff(st.History, im.History); diff != "" {
		t.Errorf("again, history (-want +got):\n%s", diff)
	}

	// Names Build cannot record.
	for _, failed := range [][]FailedRelease{
		{{Name: "python"}},
		{{Name: "static:distroless"}, {Name: "static:distroless"}},
	} {
		if _, err := Build(context.Background(), Options{Failed: failed}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", failed, err)
		}
	}
}
