package rescan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/rescan"
	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/testenv"
	"github.com/clearcutt/clearcutt/internal/verify"
	"github.com/clearcutt/clearcutt/internal/vulndb"
)

// newAdvisory is the advisory the current database has and the previous
// scan's database had not.
const newAdvisory = "GHSA-j8r2-6x86-q33q"

// fleet is a published fleet in go-containerregistry's in-process registry
// (with the referrers API), its SBOMs and previous scans signed with a
// local key by internal/attest as clearcutt attest signs them.
type fleet struct {
	t       *testing.T
	host    string
	signer  *attest.KeySigner
	pub     []byte
	images  []catalog.Image
	targets map[string]rescan.Target
	sboms   map[string][]byte // platform digest → SPDX document
	overlay map[string]bool   // platform digest → built on a base
	db      string
	vex     []string
	exc     *scan.Exceptions
}

// spec is one image: per architecture the SPDX fixture of internal/scan
// its SBOM is made from ("" for no SBOM attestation).
type spec struct {
	name    string
	overlay bool
	sboms   map[string]string
}

func repo(t *testing.T) string { return testenv.RepoRoot(t) }

// buildDB writes the test advisories (without the ones in drop) as a
// database built at builtAt.
func buildDB(t *testing.T, builtAt time.Time, drop ...string) string {
	t.Helper()
	f, err := vulndb.Load(filepath.Join(repo(t), "testdata/vulndb/advisories.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var keep []vulndb.Advisory
	for _, a := range f.Advisories {
		dropped := false
		for _, d := range drop {
			dropped = dropped || a.ID == d
		}
		if !dropped {
			keep = append(keep, a)
		}
	}
	f.Advisories = keep
	dir := t.TempDir()
	if err := f.Build(context.Background(), dir, builtAt); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newFleet(t *testing.T, specs ...spec) *fleet {
	t.Helper()
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	signer, err := attest.LoadOrCreateKey(filepath.Join(t.TempDir(), "signing.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(signer.PublicKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	exc, err := scan.ParseExceptions("exceptions.yaml", []byte("apiVersion: clearcutt.dev/v1alpha1\nkind: VulnerabilityExceptions\nexceptions:\n"+
		"  - {id: CVE-2023-45853, package: zlib, owner: sec@example.com, reason: minizip is not shipped, expires: 2099-12-31}\n"))
	if err != nil {
		t.Fatal(err)
	}
	vex, err := filepath.Glob(filepath.Join(repo(t), "vex", "*.json"))
	if err != nil || len(vex) == 0 {
		t.Fatalf("vex/: %v", err)
	}
	now := time.Now().UTC()
	f := &fleet{t: t, host: strings.TrimPrefix(srv.URL, "http://"), signer: signer, pub: pub, targets: map[string]rescan.Target{},
		sboms: map[string][]byte{}, overlay: map[string]bool{}, db: buildDB(t, now.Add(-time.Hour)), vex: vex, exc: exc}
	oldDB := buildDB(t, now.Add(-30*time.Hour), newAdvisory)
	for _, s := range specs {
		runtime, tier, _ := strings.Cut(s.name, ":")
		idx := v1.ImageIndex(empty.Index)
		for _, arch := range []string{"amd64", "arm64"} {
			if _, ok := s.sboms[arch]; !ok {
				continue
			}
			img, err := random.Image(512, 1)
			if err != nil {
				t.Fatal(err)
			}
			labels := map[string]string{oci.LabelRuntime: runtime, oci.LabelTier: tier}
			if s.overlay {
				labels[oci.LabelBaseDigest] = "sha256:" + strings.Repeat("b", 64)
			}
			if img, err = mutate.Config(img, v1.Config{Labels: labels}); err != nil {
				t.Fatal(err)
			}
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
				Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ref, err := oci.RequireDigest(f.host + "/fleet/" + runtime + "@" + d.String())
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.WriteIndex(ref.DigestRef(d), idx); err != nil {
			t.Fatal(err)
		}
		store, err := attest.Open(ref, attest.StoreOptions{Created: now.Add(-2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		im := catalog.Image{Name: s.name, Runtime: runtime, Tier: tier, Reference: ref.String(), IndexDigest: d.String()}
		m, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, desc := range m.Manifests {
			arch := desc.Platform.Architecture
			im.Platforms = append(im.Platforms, catalog.Platform{Platform: "linux/" + arch, Digest: desc.Digest.String()})
			fixture := s.sboms[arch]
			if fixture == "" {
				continue
			}
			doc := sbomFor(t, fixture, s.name, desc.Digest)
			f.sboms[desc.Digest.String()], f.overlay[desc.Digest.String()] = doc, s.overlay
			st, err := attest.WrapPredicate(s.name, desc.Digest, attest.PredicateSPDX, doc)
			if err != nil {
				t.Fatal(err)
			}
			f.attach(store, desc, st, attest.PredicateSPDX, f.signer)
			// The build scan, against a database without newAdvisory.
			prev, err := scan.Run(ctx, scan.Options{SBOM: doc, SBOMPath: fixture, Subject: scan.Subject{Name: s.name, Digest: desc.Digest},
				Overlay: s.overlay, DBDir: oldDB, Now: now.Add(-2 * time.Hour), AllowStaleDBUnsafe: true,
				Clock: func() time.Time { return now.Add(-2 * time.Hour) }, VEX: vex, Exceptions: exc})
			if err != nil {
				t.Fatal(err)
			}
			prev.Decide(gate.Policy{FailOn: gate.High, Now: now.Add(-2 * time.Hour)})
			vs, err := prev.StatementJSON()
			if err != nil {
				t.Fatal(err)
			}
			f.attach(store, desc, vs, attest.PredicateVulns, f.signer)
		}
		f.images = append(f.images, im)
		f.targets[s.name] = rescan.Target{Index: idx, Store: store}
	}
	return f
}

// sbomFor is an internal/scan SPDX fixture named for image@digest, as
// clearcutt sbom names its documents (verify checks the digest).
func sbomFor(t *testing.T, fixture, name string, d v1.Hash) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo(t), "internal/scan/testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	doc["name"] = name + "@" + d.String()
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// desc is the index entry of image's platform arch.
func (f *fleet) desc(image, arch string) v1.Descriptor {
	f.t.Helper()
	m, err := f.targets[image].Index.IndexManifest()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.Architecture == arch {
			return d
		}
	}
	f.t.Fatalf("no %s %s", image, arch)
	return v1.Descriptor{}
}

func (f *fleet) attach(store attest.Store, desc v1.Descriptor, statement []byte, predicateType string, s attest.Signer) v1.Hash {
	f.t.Helper()
	b, err := attest.SignStatement(context.Background(), s, statement)
	if err != nil {
		f.t.Fatal(err)
	}
	a, err := store.Attach(context.Background(), v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}, b, predicateType)
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

// storeSource adapts attest.Store to verify.BundleSource, as the CLI does.
type storeSource struct{ s attest.Store }

func (s storeSource) List(ctx context.Context, d v1.Hash) ([]verify.StoredBundle, error) {
	stored, err := s.s.List(ctx, d)
	if err != nil {
		return nil, err
	}
	out := make([]verify.StoredBundle, 0, len(stored))
	for _, x := range stored {
		out = append(out, verify.StoredBundle{Digest: x.Digest, PredicateType: x.PredicateType, Bundle: x.Bundle, Created: x.Created, Err: x.Err})
	}
	return out, nil
}

// verifyImage is verify.Run against the fleet's public key.
func (f *fleet) verifyImage(ctx context.Context, im catalog.Image, t rescan.Target) (verify.Report, error) {
	d, err := v1.NewHash(im.IndexDigest)
	if err != nil {
		return verify.Report{}, err
	}
	return verify.Run(ctx, verify.Options{Image: im.Reference, Index: t.Index, IndexDigest: d,
		Sources: verify.Sources{Bundles: storeSource{t.Store}}, Policy: verify.Policy{PublicKey: f.pub, Gate: verify.GatePolicy{FailOn: gate.High}}})
}

func (f *fleet) options() rescan.Options {
	return rescan.Options{
		Images: f.images,
		Open: func(_ context.Context, im catalog.Image) (rescan.Target, error) {
			t, ok := f.targets[im.Name]
			if !ok {
				return rescan.Target{}, errors.New("no such image in the registry")
			}
			return t, nil
		},
		Verify: f.verifyImage,
		Scan:   scan.BatchOptions{DBDir: f.db, VEX: f.vex, Exceptions: f.exc},
		Gate:   gate.Policy{FailOn: gate.High},
		Signer: f.signer,
	}
}

// bundles counts the bundles of predicateType attached to d.
func (f *fleet) bundles(name string, d v1.Hash, predicateType string) int {
	f.t.Helper()
	stored, err := f.targets[name].Store.List(context.Background(), d)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, s := range stored {
		if s.PredicateType == predicateType {
			n++
		}
	}
	return n
}

func platformOf(t *testing.T, rep rescan.Report, image, platform string) rescan.Platform {
	t.Helper()
	for _, im := range rep.Images {
		if im.Name != image {
			continue
		}
		for _, p := range im.Platforms {
			if p.Platform == platform {
				return p
			}
		}
	}
	t.Fatalf("no %s %s in the report: %+v", image, platform, rep.Images)
	return rescan.Platform{}
}

func findingsJSON(t *testing.T, fs []scan.Finding) string {
	t.Helper()
	b, err := json.Marshal(fs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRescanAttachesVerifiedScans rescans three images (two share every
// package, one is an overlay on a Debian base): every platform gets a
// signed scan that verify then decides on, with the new advisory as a new
// finding; the findings are those a scan of each SBOM on its own gives;
// and the matchers ran once per distinct package.
func TestRescanAttachesVerifiedScans(t *testing.T) {
	closure := map[string]string{"amd64": "python-closure.spdx.json", "arm64": "python-closure.spdx.json"}
	f := newFleet(t,
		spec{name: "python:distroless", sboms: closure},
		spec{name: "python:slim", sboms: closure},
		spec{name: "python-debian:distroless", overlay: true, sboms: map[string]string{"amd64": "python-overlay.spdx.json"}})
	ctx := context.Background()
	rep, err := rescan.Run(ctx, f.options())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || rep.Rescanned != 3 || rep.Platforms != 5 || rep.Failed != 0 || rep.Mode != attest.ModeKey {
		t.Fatalf("report: passed=%v rescanned=%d platforms=%d failed=%d mode=%s\n%+v", rep.Passed, rep.Rescanned, rep.Platforms, rep.Failed, rep.Mode, rep.Images)
	}
	if strings.Join(rep.NewFindings, ",") != newAdvisory {
		t.Errorf("new findings %v, want [%s]", rep.NewFindings, newAdvisory)
	}
	info, err := vulndb.Describe(f.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range rep.Images {
		for _, p := range im.Platforms {
			d, _ := v1.NewHash(p.Digest)
			if p.Status != rescan.StatusRescanned || p.Gate == nil || !p.Gate.Pass {
				t.Errorf("%s %s: %+v", im.Name, p.Platform, p)
				continue
			}
			if p.DBBuiltAt == nil || !p.DBBuiltAt.Equal(info.Built) || p.PreviousScan == nil || !p.PreviousScan.Before(*p.ScanFinishedOn) {
				t.Errorf("%s %s: db built %v (want %v), previous scan %v, scan %v", im.Name, p.Platform, p.DBBuiltAt, info.Built, p.PreviousScan, p.ScanFinishedOn)
			}
			if strings.Join(p.NewFindings, ",") != newAdvisory {
				t.Errorf("%s %s: new findings %v", im.Name, p.Platform, p.NewFindings)
			}
			if p.Suppressed != 1 || p.Excepted != 1 || p.Active == 0 {
				t.Errorf("%s %s: active %d suppressed %d excepted %d", im.Name, p.Platform, p.Active, p.Suppressed, p.Excepted)
			}
			// VEX applied (glibc), so both statements were attached.
			if len(p.Attached) != 2 || p.Attached[0].PredicateType != attest.PredicateOpenVEX || p.Attached[1].PredicateType != attest.PredicateVulns {
				t.Errorf("%s %s: attached %+v", im.Name, p.Platform, p.Attached)
			}
			if n := f.bundles(im.Name, d, attest.PredicateVulns); n != 2 {
				t.Errorf("%s %s: %d scan bundles, want the build scan and the rescan", im.Name, p.Platform, n)
			}
			// Deduplicated matching gives what a scan of this SBOM alone gives.
			alone, err := scan.Run(ctx, scan.Options{SBOM: f.sboms[p.Digest], SBOMPath: p.Digest, Subject: scan.Subject{Name: im.Name, Digest: d},
				Overlay: f.overlay[p.Digest], DBDir: f.db, VEX: f.vex, Exceptions: f.exc})
			if err != nil {
				t.Fatal(err)
			}
			if g, w := findingsJSON(t, p.Findings), findingsJSON(t, alone.Findings); g != w {
				t.Errorf("%s %s: rescan findings differ from a scan of the SBOM alone:\nrescan: %s\nalone:  %s", im.Name, p.Platform, g, w)
			}
		}
	}
	if base := platformOf(t, rep, "python-debian:distroless", "linux/amd64"); !strings.Contains(findingsJSON(t, base.Findings), `"origin":"base"`) {
		t.Errorf("overlay findings have no base origin: %s", findingsJSON(t, base.Findings))
	}
	// Four platforms share every package: the matchers ran for the
	// distinct packages only.
	// (The overlay's packages differ from the others: its Debian
	// package gives all of them a distro, which matching reads.)
	w, sum := rep.Work, 0
	for _, im := range rep.Images {
		for _, p := range im.Platforms {
			sum += p.Packages
		}
	}
	if w.Scans != 5 || w.Packages != sum || w.UniquePackages*2 >= w.Packages || w.Lookups > w.UniquePackages || w.Reused == 0 {
		t.Errorf("work = %+v (packages of the platforms: %d)", w, sum)
	}

	// verify now decides the vulnerability channel on the rescan.
	for _, im := range f.images {
		vr, err := f.verifyImage(ctx, im, f.targets[im.Name])
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range vr.Channel(verify.ChannelVulnerabilities).Entries {
			p := platformOf(t, rep, im.Name, e.Arch)
			if e.Status != verify.StatusVerified || e.ScanTime == nil || !e.ScanTime.Equal(*p.ScanFinishedOn) {
				t.Errorf("%s %s: vulnerabilities entry %s, scan time %v, want the rescan's %v (%s)", im.Name, e.Arch, e.Status, e.ScanTime, p.ScanFinishedOn, e.Reason)
			}
			if !strings.Contains(string(e.Predicate), newAdvisory) {
				t.Errorf("%s %s: the verified scan predicate does not hold %s", im.Name, e.Arch, newAdvisory)
			}
		}
		if st := vr.Channel(verify.ChannelVEX).Status; st != verify.StatusVerified {
			t.Errorf("%s: VEX channel %s", im.Name, st)
		}
		// The index carries the verdict of its platforms' new scans.
		ri := imageOf(t, rep, im.Name)
		if len(ri.IndexAttached) != 1 || ri.IndexAttached[0].PredicateType != attest.PredicateVulns || ri.IndexError != "" {
			t.Errorf("%s: index attachments %+v (%s)", im.Name, ri.IndexAttached, ri.IndexError)
		}
		index, _ := v1.NewHash(im.IndexDigest)
		stored, err := f.targets[im.Name].Store.List(ctx, index)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, sb := range stored {
			if sb.Digest == ri.IndexAttached[0].Artifact {
				found = sb.PredicateType == attest.PredicateVulns && sb.Err == nil
			}
		}
		if !found {
			t.Errorf("%s: the index vulnerability statement is not stored on %s", im.Name, index)
		}
	}

	// A second rescan against the same database finds nothing new.
	again, err := rescan.Run(ctx, f.options())
	if err != nil {
		t.Fatal(err)
	}
	if !again.Passed || len(again.NewFindings) != 0 {
		t.Errorf("second rescan: passed=%v new=%v", again.Passed, again.NewFindings)
	}
}

// TestRescanFailsClosed: a platform whose SBOM is signed by another key or
// missing is not rescanned and gets nothing attached; an image the catalog
// describes wrongly, or that cannot be opened, fails whole; the rest of
// the fleet is still rescanned.
func imageOf(t *testing.T, rep rescan.Report, name string) rescan.Image {
	t.Helper()
	for _, im := range rep.Images {
		if im.Name == name {
			return im
		}
	}
	t.Fatalf("no image %s in the report", name)
	return rescan.Image{}
}

func TestRescanFailsClosed(t *testing.T) {
	closure := map[string]string{"amd64": "python-closure.spdx.json", "arm64": "python-closure.spdx.json"}
	f := newFleet(t,
		spec{name: "python:distroless", sboms: map[string]string{"amd64": "python-closure.spdx.json", "arm64": ""}},
		spec{name: "python:slim", sboms: map[string]string{"amd64": "", "arm64": "python-closure.spdx.json"}},
		spec{name: "python:dev", sboms: closure},
		spec{name: "static:distroless", sboms: closure},
		spec{name: "node:distroless", sboms: closure})
	ctx := context.Background()
	// python:distroless arm64: its only SBOM is signed by another key.
	forged := f.desc("python:distroless", "arm64")
	other, err := attest.LoadOrCreateKey(filepath.Join(t.TempDir(), "other.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	st, err := attest.WrapPredicate("python:distroless", forged.Digest, attest.PredicateSPDX,
		sbomFor(t, "python-closure.spdx.json", "python:distroless", forged.Digest))
	if err != nil {
		t.Fatal(err)
	}
	f.attach(f.targets["python:distroless"].Store, forged, st, attest.PredicateSPDX, other)
	// python:dev: the catalog names a platform the index does not hold.
	for i := range f.images {
		if f.images[i].Name == "python:dev" {
			f.images[i].Platforms = append(f.images[i].Platforms, catalog.Platform{Platform: "linux/riscv64", Digest: "sha256:" + strings.Repeat("c", 64)})
		}
	}
	// static:distroless cannot be opened.
	delete(f.targets, "static:distroless")

	rep, err := rescan.Run(ctx, f.options())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed || rep.Rescanned != 1 {
		t.Fatalf("passed=%v rescanned=%d, want false and 1 (node:distroless)", rep.Passed, rep.Rescanned)
	}
	// Only the index whose every platform was rescanned gets a new verdict.
	for _, im := range rep.Images {
		if n := len(im.IndexAttached); (im.Name == "node:distroless") != (n == 1) {
			t.Errorf("%s: %d index statements attached", im.Name, n)
		}
	}
	want := map[string]string{
		"python:distroless linux/amd64": "",
		"python:distroless linux/arm64": "SBOM not verified (failed)",
		"python:slim linux/amd64":       "SBOM not verified (missing)",
		"python:slim linux/arm64":       "",
		"python:dev linux/amd64":        "which the index does not hold",
		"python:dev linux/riscv64":      "which the index does not hold",
		"static:distroless linux/amd64": "no such image in the registry",
		"node:distroless linux/amd64":   "",
		"node:distroless linux/arm64":   "",
	}
	got := 0
	for _, im := range rep.Images {
		for _, p := range im.Platforms {
			got++
			k := im.Name + " " + p.Platform
			reason, ok := want[k]
			if !ok {
				continue
			}
			if reason == "" {
				if p.Status != rescan.StatusRescanned {
					t.Errorf("%s: %s (%s), want rescanned", k, p.Status, p.Reason)
				}
				continue
			}
			if p.Status != rescan.StatusFailed || !strings.Contains(p.Reason, reason) || len(p.Attached) != 0 {
				t.Errorf("%s: %s (%s), attached %v; want failed with %q", k, p.Status, p.Reason, p.Attached, reason)
			}
		}
	}
	if got != 11 || rep.Failed != 7 {
		t.Errorf("%d platforms reported, %d failed; want 11 and 7", got, rep.Failed)
	}
	// Nothing was attached where the SBOM did not verify.
	if n := f.bundles("python:distroless", forged.Digest, attest.PredicateVulns); n != 0 {
		t.Errorf("%d scan bundles attached to the platform with a forged SBOM", n)
	}
	if n := f.bundles("python:slim", f.desc("python:slim", "amd64").Digest, attest.PredicateVulns); n != 0 {
		t.Errorf("python:slim amd64 has %d scan bundles, want none", n)
	}
	if n := f.bundles("python:slim", f.desc("python:slim", "arm64").Digest, attest.PredicateVulns); n != 2 {
		t.Errorf("python:slim arm64 has %d scan bundles, want the build scan and the rescan", n)
	}
}

func TestRescanRefusals(t *testing.T) {
	f := newFleet(t, spec{name: "python:distroless", sboms: map[string]string{"amd64": "python-closure.spdx.json"}})
	ctx := context.Background()
	d, _ := v1.NewHash(f.images[0].Platforms[0].Digest)

	t.Run("a stale database attaches nothing", func(t *testing.T) {
		o := f.options()
		o.Scan.DBDir = buildDB(t, time.Now().Add(-10*24*time.Hour))
		if _, err := rescan.Run(ctx, o); !errors.Is(err, scan.ErrStaleDB) {
			t.Fatalf("err = %v, want ErrStaleDB", err)
		}
		if n := f.bundles("python:distroless", d, attest.PredicateVulns); n != 1 {
			t.Fatalf("%d scan bundles after a refused rescan", n)
		}
	})
	t.Run("a fatal verification error stops the rescan", func(t *testing.T) {
		o := f.options()
		bad := errors.New("bad trusted root")
		o.Verify = func(context.Context, catalog.Image, rescan.Target) (verify.Report, error) {
			return verify.Report{}, rescan.FatalError{Err: bad}
		}
		if _, err := rescan.Run(ctx, o); !errors.Is(err, bad) {
			t.Fatalf("err = %v, want %v", err, bad)
		}
	})
	t.Run("a verify report about another index is refused", func(t *testing.T) {
		o := f.options()
		o.Verify = func(ctx context.Context, im catalog.Image, tg rescan.Target) (verify.Report, error) {
			r, err := f.verifyImage(ctx, im, tg)
			r.Digest = "sha256:" + strings.Repeat("d", 64)
			return r, err
		}
		rep, err := rescan.Run(ctx, o)
		if err != nil || rep.Passed || !strings.Contains(rep.Images[0].Error, "verify reported on") {
			t.Fatalf("err=%v report=%+v", err, rep.Images)
		}
	})
	t.Run("a failed gate fails the rescan but the scan is attached", func(t *testing.T) {
		o := f.options()
		o.Gate = gate.Policy{FailOn: gate.Unknown}
		rep, err := rescan.Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		p := rep.Images[0].Platforms[0]
		if rep.Passed || p.Status != rescan.StatusRescanned || p.Gate.Pass || !strings.Contains(p.Reason, "gate failed") {
			t.Fatalf("passed=%v platform=%+v", rep.Passed, p)
		}
		if n := f.bundles("python:distroless", d, attest.PredicateVulns); n != 2 {
			t.Fatalf("%d scan bundles, want the build scan and the rescan", n)
		}
	})
}

// recordingStore lists the fleet's bundles but keeps what is attached to
// itself: each attachment is named by the digest of its statement, and
// the statements are recorded in the order the rescan attached them per
// subject.
type recordingStore struct {
	attest.Store
	mu       sync.Mutex
	attached map[string][]string // subject digest → predicate type and statement
}

func (s *recordingStore) Attach(_ context.Context, subject v1.Descriptor, bundleJSON []byte, predicateType string) (v1.Hash, error) {
	st, err := bundleStatement(bundleJSON)
	if err != nil {
		return v1.Hash{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attached[subject.Digest.String()] = append(s.attached[subject.Digest.String()], predicateType+"\n"+string(st))
	h, _, err := v1.SHA256(bytes.NewReader(st))
	return h, err
}

// bundleStatement is the in-toto statement a Sigstore bundle signs.
func bundleStatement(bundleJSON []byte) ([]byte, error) {
	var b struct {
		DSSEEnvelope struct {
			Payload []byte `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(bundleJSON, &b); err != nil {
		return nil, err
	}
	if len(b.DSSEEnvelope.Payload) == 0 {
		return nil, errors.New("the bundle has no DSSE payload")
	}
	return b.DSSEEnvelope.Payload, nil
}

// TestRescanSameForAnyWorkers rescans one fleet with one worker and with
// several: the reports, in their order, and every statement attached are
// the same.
func TestRescanSameForAnyWorkers(t *testing.T) {
	closure := map[string]string{"amd64": "python-closure.spdx.json", "arm64": "python-closure.spdx.json"}
	f := newFleet(t,
		spec{name: "python:distroless", sboms: closure},
		spec{name: "python:slim", sboms: closure},
		spec{name: "python-debian:distroless", overlay: true, sboms: map[string]string{"amd64": "python-overlay.spdx.json", "arm64": "python-overlay.spdx.json"}},
		spec{name: "python:dev", sboms: map[string]string{"amd64": "python-closure.spdx.json"}},
		spec{name: "python:unsigned", sboms: map[string]string{"amd64": ""}},
	)
	now := time.Now().UTC().Truncate(time.Second)
	run := func(workers int) (string, map[string][]string) {
		t.Helper()
		o := f.options()
		o.Workers = workers
		o.Scan.Now, o.Scan.Clock = now, func() time.Time { return now }
		stores := map[string]*recordingStore{}
		for name, tg := range f.targets {
			stores[name] = &recordingStore{Store: tg.Store, attached: map[string][]string{}}
		}
		o.Open = func(_ context.Context, im catalog.Image) (rescan.Target, error) {
			tg := f.targets[im.Name]
			return rescan.Target{Index: tg.Index, Store: stores[im.Name]}, nil
		}
		var events []string
		o.Progress = func(e rescan.Event) { events = append(events, fmt.Sprint(e)) }
		rep, err := rescan.Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 {
			t.Error("no progress events")
		}
		js, err := json.MarshalIndent(rep, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		attached := map[string][]string{}
		for _, s := range stores {
			for d, sts := range s.attached {
				attached[d] = sts
			}
		}
		return string(js), attached
	}
	one, oneAttached := run(1)
	for _, workers := range []int{3, 8} {
		got, gotAttached := run(workers)
		if got != one {
			t.Errorf("%d workers: the report differs from one worker's:\n%s\none worker:\n%s", workers, got, one)
		}
		if !reflect.DeepEqual(gotAttached, oneAttached) {
			t.Errorf("%d workers: the statements attached differ from one worker's", workers)
		}
	}
	if len(oneAttached) != 7+4 {
		t.Errorf("statements attached to %d digests, want 7 platforms and 4 indexes", len(oneAttached))
	}
}
