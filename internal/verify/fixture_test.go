package verify_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// The fleet of the tests: clearcutt.yaml's identity block.
var fleetIdentity = fleet.Identity{
	Issuer:     sigtest.GitHubIssuer,
	Repository: "acme/base-images",
	Workflow:   ".github/workflows/publish.yml",
	Ref:        "refs/heads/main",
}

// signerID is the GitHub job that signs ClearCutt evidence for that fleet.
var signerID = sigtest.GitHubIdentity{
	Repository: fleetIdentity.Repository,
	Workflow:   fleetIdentity.Workflow,
	Ref:        fleetIdentity.Ref,
}

// memSource is a BundleSource over a map, standing in for the OCI store.
type memSource map[v1.Hash][]verify.StoredBundle

func (m memSource) List(_ context.Context, h v1.Hash) ([]verify.StoredBundle, error) {
	return m[h], nil
}

type fixture struct {
	t         *testing.T
	ss        *sigtest.Sigstore
	index     v1.ImageIndex
	indexHash v1.Hash
	platforms map[string]v1.Hash // arch → digest
	bundles   memSource
	repo      name.Repository // in-process registry repository for legacy tags
	policy    verify.Policy
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ss, err := sigtest.New()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ss: ss, bundles: memSource{}, platforms: map[string]v1.Hash{}}
	idx := v1.ImageIndex(empty.Index)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		f.platforms[arch] = d
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	f.index = idx
	f.indexHash, _ = idx.Digest()

	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	f.repo, err = name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/fleet/python")
	if err != nil {
		t.Fatal(err)
	}
	f.policy, err = verify.PolicyFromFleet(fleetIdentity, verify.FleetPolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) statement(subject v1.Hash, predicateType string, predicate any) []byte {
	f.t.Helper()
	st, err := sigtest.Statement("fleet/python", subject, predicateType, predicate)
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

// attach signs a statement about about as id and stores it as evidence of on.
func (f *fixture) attachAs(id sigtest.GitHubIdentity, on, about v1.Hash, predicateType string, predicate any) {
	f.t.Helper()
	b, err := f.ss.SignStatement(context.Background(), id, f.statement(about, predicateType, predicate))
	if err != nil {
		f.t.Fatal(err)
	}
	f.store(on, predicateType, b)
}

func (f *fixture) store(on v1.Hash, predicateType string, b []byte) {
	h, _, _ := v1.SHA256(strings.NewReader(string(b)))
	f.bundles[on] = append(f.bundles[on], verify.StoredBundle{Digest: h, PredicateType: predicateType, Bundle: b, Created: time.Now()})
}

func (f *fixture) attach(on v1.Hash, predicateType string, predicate any) {
	f.attachAs(signerID, on, on, predicateType, predicate)
}

func sbomOf(d v1.Hash) map[string]any {
	return map[string]any{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "dataLicense": "CC0-1.0",
		"name": "fleet/python:distroless@" + d.String(), "packages": []any{}}
}

func testsPassed() map[string]any {
	return map[string]any{"result": "PASSED", "passedTests": []string{"no-shell", "non-root"}}
}

func scanAt(at time.Time, gatePass bool) map[string]any {
	return map[string]any{
		"scanner": map[string]any{
			"uri": "pkg:golang/github.com/anchore/grype@v0.121.2", "version": "0.121.2",
			"db":     map[string]any{"uri": "file:testdata/vulndb", "version": "v6", "lastUpdate": at.Add(-3 * time.Hour).UTC().Format(time.RFC3339)},
			"result": []any{},
		},
		"metadata": map[string]any{"scanStartedOn": at.UTC().Format(time.RFC3339), "scanFinishedOn": at.UTC().Format(time.RFC3339)},
		"gate":     map[string]any{"pass": gatePass},
	}
}

// vexDoc is an OpenVEX document about the platform image d of fleet/python,
// shaped like the one clearcutt scan attests.
func vexDoc(d v1.Hash) map[string]any {
	return map[string]any{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://clearcutt.dev/vex/test",
		"author": "acme security", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
		"statements": []any{map[string]any{
			"vulnerability": map[string]any{"name": "CVE-2023-0286"},
			"products": []any{map[string]any{"@id": "pkg:oci/python@" + d.String() + "?tag=distroless",
				"subcomponents": []any{map[string]any{"@id": "pkg:nix/openssl@3.0.7"}}}},
			"status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
		}}}
}

func provenance() map[string]any {
	return map[string]any{"builder": map[string]any{"id": verify.DefaultProvenanceSignerURI},
		"buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1", "invocation": map[string]any{}}
}

// pushLegacyProvenance writes a cosign .att tag for the index, signed as id.
func (f *fixture) pushLegacyProvenance(id sigtest.GitHubIdentity, predicate any) {
	f.t.Helper()
	att, err := f.ss.SignLegacyAttestation(context.Background(), id, f.statement(f.indexHash, verify.PredicateSLSAv02, predicate))
	if err != nil {
		f.t.Fatal(err)
	}
	img, err := sigtest.LegacyAttestationImage(att)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := remote.Write(f.repo.Tag("sha256-"+f.indexHash.Hex+".att"), img); err != nil {
		f.t.Fatal(err)
	}
}

// complete attaches valid evidence on every channel.
func (f *fixture) complete() {
	f.attach(f.indexHash, verify.PredicateSignature, map[string]any{})
	for _, d := range f.platforms {
		f.attach(d, verify.PredicateSignature, map[string]any{})
		f.attach(d, verify.PredicateSBOM, sbomOf(d))
		f.attach(d, verify.PredicateTestResult, testsPassed())
		f.attach(d, verify.PredicateVulns, scanAt(time.Now().Add(-time.Hour), true))
		f.attach(d, verify.PredicateVEX, vexDoc(d))
	}
	f.pushLegacyProvenance(sigtest.SLSAGenerator(fleetIdentity.Repository, fleetIdentity.Ref), provenance())
}

func (f *fixture) options() verify.Options {
	return verify.Options{
		Image:       "fleet/python@" + f.indexHash.String(),
		Index:       f.index,
		IndexDigest: f.indexHash,
		Sources:     verify.Sources{Bundles: f.bundles, Legacy: verify.NewRegistryLegacyReader(f.repo)},
		Trusted:     f.ss.TrustedRoot(),
		Policy:      f.policy,
		// The in-process CA has no certificate transparency log.
		WithoutSCTUnsafe: true,
	}
}

func (f *fixture) run() verify.Report {
	f.t.Helper()
	rep, err := verify.Run(context.Background(), f.options())
	if err != nil {
		f.t.Fatalf("Run: %v", err)
	}
	return rep
}

// entry returns the report entry of channel c for arch.
func entry(t *testing.T, rep verify.Report, c verify.Channel, arch string) verify.Entry {
	t.Helper()
	for _, e := range rep.Channel(c).Entries {
		if e.Arch == arch {
			return e
		}
	}
	t.Fatalf("no %s entry for %s in %+v", c, arch, rep.Channel(c))
	return verify.Entry{}
}
