package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/verify"
)

func TestAllChannelsVerified(t *testing.T) {
	f := newFixture(t)
	f.complete()
	rep := f.run()
	for _, cr := range rep.Channels {
		if cr.Status != verify.StatusVerified {
			t.Errorf("channel %s = %s: %+v", cr.Channel, cr.Status, cr.Entries)
		}
	}
	if !rep.Passed() || rep.ExitCode() != verify.ExitPassed {
		t.Fatalf("Passed=%v ExitCode=%d", rep.Passed(), rep.ExitCode())
	}
	if got := len(rep.Channel(verify.ChannelSignature).Entries); got != 3 {
		t.Errorf("signature entries = %d, want index + 2 platforms", got)
	}
	sig := entry(t, rep, verify.ChannelSignature, "linux/arm64")
	if sig.Signer != signerID.BuildSignerURI() || sig.Issuer != sigtest.GitHubIssuer || sig.SignedAt == nil {
		t.Errorf("signature entry = %+v", sig)
	}
	prov := entry(t, rep, verify.ChannelProvenance, "index")
	if prov.Source != "legacy" || prov.Signer != verify.DefaultProvenanceSignerURI {
		t.Errorf("provenance entry = %+v", prov)
	}
	scan := entry(t, rep, verify.ChannelVulnerabilities, "linux/amd64")
	if scan.ScanTime == nil || scan.DBBuiltAt == nil {
		t.Errorf("scan entry lacks times: %+v", scan)
	}
	if scan.Signer != signerID.BuildSignerURI() || scan.SignedAt == nil {
		t.Errorf("scan entry lacks its signer: %+v", scan)
	}
	if !json.Valid(scan.Predicate) || !strings.Contains(string(scan.Predicate), `"scanner"`) {
		t.Errorf("scan entry predicate = %s, want the verified vulns predicate", scan.Predicate)
	}
	if sig.Predicate != nil {
		t.Errorf("signature entry carries a predicate: %s", sig.Predicate)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
}

func TestIdentityMismatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		id     func(sigtest.GitHubIdentity) sigtest.GitHubIdentity
		policy func(*verify.Policy)
		field  string
	}{
		{name: "SAN (another workflow)", field: verify.FieldSAN,
			id: func(g sigtest.GitHubIdentity) sigtest.GitHubIdentity {
				g.Workflow = ".github/workflows/other.yml"
				return g
			}},
		{name: "issuer", field: verify.FieldIssuer,
			id: func(g sigtest.GitHubIdentity) sigtest.GitHubIdentity { g.Issuer = "https://issuer.example"; return g }},
		{name: "source repository", field: verify.FieldSourceRepositoryURI,
			// A fork calling the fleet's reusable workflow: same Build Signer URI.
			id: func(g sigtest.GitHubIdentity) sigtest.GitHubIdentity {
				g.WorkflowRepository = g.Repository
				g.Repository = "mallory/base-images"
				return g
			}},
		{name: "ref", field: verify.FieldSourceRepositoryRef,
			id: func(g sigtest.GitHubIdentity) sigtest.GitHubIdentity {
				g.WorkflowRef = g.Ref
				g.Ref = "refs/heads/feature"
				return g
			}},
		{name: "signer digest", field: verify.FieldBuildSignerDigest,
			id: func(g sigtest.GitHubIdentity) sigtest.GitHubIdentity {
				g.SignerDigest = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
				return g
			},
			policy: func(p *verify.Policy) { p.Signer.BuildSignerDigest = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.policy != nil {
				tc.policy(&f.policy)
			}
			f.attachAs(tc.id(signerID), f.indexHash, f.indexHash, verify.PredicateSignature, map[string]any{})
			rep := f.run()
			e := entry(t, rep, verify.ChannelSignature, "index")
			t.Log(e.Reason)
			var ie *verify.IdentityError
			if e.Status != verify.StatusFailed || !errors.Is(e.Err, verify.ErrIdentityMismatch) || !errors.As(e.Err, &ie) {
				t.Fatalf("entry = %+v, err %v", e, e.Err)
			}
			if ie.Field != tc.field {
				t.Errorf("field = %q, want %q (%v)", ie.Field, tc.field, ie)
			}
			if rep.Channel(verify.ChannelSignature).Status != verify.StatusFailed || rep.ExitCode() != verify.ExitFailed {
				t.Errorf("channel %s, exit %d", rep.Channel(verify.ChannelSignature).Status, rep.ExitCode())
			}
		})
	}
	t.Run("pinned signer digest matches", func(t *testing.T) {
		f := newFixture(t)
		f.policy.Signer.BuildSignerDigest = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		f.attach(f.indexHash, verify.PredicateSignature, map[string]any{})
		if e := entry(t, f.run(), verify.ChannelSignature, "index"); e.Status != verify.StatusVerified {
			t.Fatalf("entry = %+v", e)
		}
	})
}

func TestTamperedPayload(t *testing.T) {
	f := newFixture(t)
	d := f.platforms["amd64"]
	b, err := f.ss.SignStatement(context.Background(), signerID, f.statement(d, verify.PredicateTestResult, testsPassed()))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	// Swap the payload for a statement saying something else.
	forged := f.statement(d, verify.PredicateTestResult, map[string]any{"result": "PASSED", "passedTests": []string{"forged"}})
	m["dsseEnvelope"].(map[string]any)["payload"] = forged
	tampered, _ := json.Marshal(m)
	f.store(d, verify.PredicateTestResult, tampered)
	e := entry(t, f.run(), verify.ChannelTests, "linux/amd64")
	t.Log(e.Reason)
	if e.Status != verify.StatusFailed || !errors.Is(e.Err, verify.ErrSignature) {
		t.Fatalf("entry = %+v (err %v)", e, e.Err)
	}
}

func TestStatementOverAnotherDigest(t *testing.T) {
	f := newFixture(t)
	// A genuine signature by the right identity, but over arm64, attached to amd64.
	f.attachAs(signerID, f.platforms["amd64"], f.platforms["arm64"], verify.PredicateSignature, map[string]any{})
	e := entry(t, f.run(), verify.ChannelSignature, "linux/amd64")
	t.Log(e.Reason)
	if e.Status != verify.StatusFailed || !errors.Is(e.Err, verify.ErrDigestMismatch) {
		t.Fatalf("entry = %+v (err %v)", e, e.Err)
	}
}

func TestMissingChannel(t *testing.T) {
	f := newFixture(t)
	f.complete()
	// Drop the arm64 SBOM.
	arm := f.platforms["arm64"]
	var kept []verify.StoredBundle
	for _, b := range f.bundles[arm] {
		if b.PredicateType != verify.PredicateSBOM {
			kept = append(kept, b)
		}
	}
	f.bundles[arm] = kept
	rep := f.run()
	if st := rep.Channel(verify.ChannelSBOM).Status; st != verify.StatusMissing {
		t.Fatalf("sbom channel = %s", st)
	}
	e := entry(t, rep, verify.ChannelSBOM, "linux/arm64")
	if e.Status != verify.StatusMissing || !errors.Is(e.Err, verify.ErrMissing) {
		t.Fatalf("entry = %+v", e)
	}
	if entry(t, rep, verify.ChannelSBOM, "linux/amd64").Status != verify.StatusVerified {
		t.Error("amd64 SBOM should still verify on its own")
	}
	if rep.Passed() || rep.ExitCode() != verify.ExitFailed {
		t.Fatal("a missing required channel must fail")
	}
	if !rep.Passed(verify.ChannelSignature, verify.ChannelTests) {
		t.Error("the other channels are independent and verified")
	}
}

func TestStaleScanIsPending(t *testing.T) {
	f := newFixture(t)
	f.policy.MaxScanAge = 24 * time.Hour
	f.attach(f.platforms["amd64"], verify.PredicateVulns, scanAt(time.Now().Add(-time.Hour), true))
	f.attach(f.platforms["arm64"], verify.PredicateVulns, scanAt(time.Now().Add(-72*time.Hour), true))
	rep := f.run()
	if st := rep.Channel(verify.ChannelVulnerabilities).Status; st != verify.StatusPending {
		t.Fatalf("vulnerabilities = %s, want pending", st)
	}
	if e := entry(t, rep, verify.ChannelVulnerabilities, "linux/arm64"); e.Status != verify.StatusPending || !errors.Is(e.Err, verify.ErrStale) {
		t.Fatalf("arm64 entry = %+v", e)
	}
	if e := entry(t, rep, verify.ChannelVulnerabilities, "linux/amd64"); e.Status != verify.StatusVerified {
		t.Fatalf("amd64 entry = %+v", e)
	}
	// A fresh rescan of arm64 makes the channel verified.
	f.attach(f.platforms["arm64"], verify.PredicateVulns, scanAt(time.Now().Add(-time.Minute), true))
	if st := f.run().Channel(verify.ChannelVulnerabilities).Status; st != verify.StatusVerified {
		t.Fatalf("after rescan: %s", st)
	}
}

func TestFailedContent(t *testing.T) {
	expired := scanAt(time.Now().Add(-time.Hour), true)
	expired["scanner"].(map[string]any)["result"] = []any{map[string]any{
		"id": "CVE-2023-40217", "severity": []any{map[string]any{"method": "CVSSv31", "score": "5.3"}},
		"annotations": []any{map[string]any{verify.AnnotationExceptionExpired: true, "status": "active"}},
	}}
	for _, tc := range []struct {
		name      string
		channel   verify.Channel
		predType  string
		predicate any
	}{
		{"FAILED test result", verify.ChannelTests, verify.PredicateTestResult,
			map[string]any{"result": "FAILED", "failedTests": []string{"no-shell"}}},
		{"vulnerability gate failed", verify.ChannelVulnerabilities, verify.PredicateVulns, scanAt(time.Now().Add(-time.Hour), false)},
		{"expired exception", verify.ChannelVulnerabilities, verify.PredicateVulns, expired},
		{"SBOM of another image", verify.ChannelSBOM, verify.PredicateSBOM, sbomOf(fakeHash())},
		{"not SPDX 2.3", verify.ChannelSBOM, verify.PredicateSBOM, map[string]any{"bomFormat": "CycloneDX"}},
		{"VEX without OpenVEX context", verify.ChannelVEX, verify.PredicateVEX, map[string]any{"statements": []any{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.attach(f.platforms["amd64"], tc.predType, tc.predicate)
			rep := f.run()
			e := entry(t, rep, tc.channel, "linux/amd64")
			t.Log(e.Reason)
			if e.Status != verify.StatusFailed || !errors.Is(e.Err, verify.ErrContent) {
				t.Fatalf("entry = %+v (err %v)", e, e.Err)
			}
			if rep.Channel(tc.channel).Status != verify.StatusFailed {
				t.Errorf("channel = %s", rep.Channel(tc.channel).Status)
			}
		})
	}
}

func TestProvenanceIdentity(t *testing.T) {
	t.Run("generator called from another repository", func(t *testing.T) {
		f := newFixture(t)
		f.pushLegacyProvenance(sigtest.SLSAGenerator("mallory/base-images", fleetIdentity.Ref), provenance())
		e := entry(t, f.run(), verify.ChannelProvenance, "index")
		t.Log(e.Reason)
		var ie *verify.IdentityError
		if e.Status != verify.StatusFailed || !errors.As(e.Err, &ie) || ie.Field != verify.FieldSourceRepositoryURI {
			t.Fatalf("entry = %+v (err %v)", e, e.Err)
		}
	})
	t.Run("provenance signed by the fleet workflow, not the generator", func(t *testing.T) {
		f := newFixture(t)
		f.pushLegacyProvenance(signerID, provenance())
		e := entry(t, f.run(), verify.ChannelProvenance, "index")
		t.Log(e.Reason)
		if e.Status != verify.StatusFailed || !errors.Is(e.Err, verify.ErrIdentityMismatch) {
			t.Fatalf("entry = %+v (err %v)", e, e.Err)
		}
	})
	t.Run("bundle provenance from the generator", func(t *testing.T) {
		f := newFixture(t)
		f.attachAs(sigtest.SLSAGenerator(fleetIdentity.Repository, fleetIdentity.Ref), f.indexHash, f.indexHash,
			verify.PredicateSLSAv1, map[string]any{"buildDefinition": map[string]any{},
				"runDetails": map[string]any{"builder": map[string]any{"id": verify.DefaultProvenanceSignerURI}}})
		e := entry(t, f.run(), verify.ChannelProvenance, "index")
		t.Log(e.Reason)
		if e.Status != verify.StatusVerified || e.Source != "bundle" {
			t.Fatalf("entry = %+v (err %v)", e, e.Err)
		}
	})
	t.Run("another builder id", func(t *testing.T) {
		f := newFixture(t)
		p := provenance()
		p["builder"] = map[string]any{"id": "https://example.com/builder"}
		f.pushLegacyProvenance(sigtest.SLSAGenerator(fleetIdentity.Repository, fleetIdentity.Ref), p)
		e := entry(t, f.run(), verify.ChannelProvenance, "index")
		t.Log(e.Reason)
		var ie *verify.IdentityError
		if e.Status != verify.StatusFailed || !errors.As(e.Err, &ie) || ie.Field != verify.FieldBuilderID {
			t.Fatalf("entry = %+v (err %v)", e, e.Err)
		}
	})
}

func TestSCTRequiredByDefault(t *testing.T) {
	f := newFixture(t)
	f.attach(f.indexHash, verify.PredicateSignature, map[string]any{})
	o := f.options()
	o.WithoutSCTUnsafe = false
	rep, err := verify.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	e := entry(t, rep, verify.ChannelSignature, "index")
	t.Log(e.Reason)
	if e.Status != verify.StatusFailed || !errors.Is(e.Err, verify.ErrSignature) {
		t.Fatalf("a certificate without SCT verified by default: %+v", e)
	}
}

func TestKeyMode(t *testing.T) {
	signer, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	other, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  []byte
		want verify.Status
	}{
		{"right key", signer.PublicKeyPEM(), verify.StatusVerified},
		{"another key", other.PublicKeyPEM(), verify.StatusFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.policy = verify.Policy{PublicKey: tc.key}
			b, err := signer.SignStatement(context.Background(), f.statement(f.indexHash, verify.PredicateSignature, map[string]any{}))
			if err != nil {
				t.Fatal(err)
			}
			f.store(f.indexHash, verify.PredicateSignature, b)
			o := f.options()
			o.Trusted = nil
			rep, err := verify.Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			e := entry(t, rep, verify.ChannelSignature, "index")
			t.Log(e.Reason)
			if e.Status != tc.want {
				t.Fatalf("entry = %+v (err %v)", e, e.Err)
			}
			if tc.want == verify.StatusFailed && !errors.Is(e.Err, verify.ErrSignature) {
				t.Fatalf("err = %v", e.Err)
			}
			if !rep.KeyMode {
				t.Error("report does not say key mode")
			}
		})
	}
}

func TestRunCouldNotRun(t *testing.T) {
	f := newFixture(t)
	o := f.options()
	o.IndexDigest = fakeHash()
	if _, err := verify.Run(context.Background(), o); !errors.Is(err, verify.ErrInvalidOptions) {
		t.Fatalf("wrong index digest: %v", err)
	}
	o = f.options()
	o.Policy = verify.Policy{}
	if _, err := verify.Run(context.Background(), o); !errors.Is(err, verify.ErrInvalidOptions) {
		t.Fatalf("empty policy: %v", err)
	}
}

// TestRescanIdentityIsTrustedForScansOnly: the nightly rescan signs under
// its own workflow; its scans and VEX verify, anything else it signs fails.
func TestRescanIdentityIsTrustedForScansOnly(t *testing.T) {
	id := fleetIdentity
	id.RescanWorkflow = ".github/workflows/rescan.yml"
	rescanID := signerID
	rescanID.Workflow = id.RescanWorkflow

	f := newFixture(t)
	var err error
	if f.policy, err = verify.PolicyFromFleet(id, verify.FleetPolicyOptions{}); err != nil {
		t.Fatal(err)
	}
	if f.policy.Rescan == nil || f.policy.Rescan.SAN != rescanID.BuildSignerURI() {
		t.Fatalf("rescan identity %+v, want SAN %s", f.policy.Rescan, rescanID.BuildSignerURI())
	}
	amd64 := f.platforms["amd64"]
	f.attachAs(rescanID, amd64, amd64, verify.PredicateVulns, scanAt(time.Now().Add(-time.Minute), true))
	f.attachAs(rescanID, amd64, amd64, verify.PredicateVEX, vexDoc(amd64))
	f.attachAs(rescanID, amd64, amd64, verify.PredicateSBOM, sbomOf(amd64))
	f.attachAs(rescanID, amd64, amd64, verify.PredicateTestResult, testsPassed())
	f.attachAs(rescanID, f.indexHash, f.indexHash, verify.PredicateSignature, map[string]any{})
	rep := f.run()
	for c, want := range map[verify.Channel]verify.Status{
		verify.ChannelVulnerabilities: verify.StatusVerified,
		verify.ChannelVEX:             verify.StatusVerified,
		verify.ChannelSBOM:            verify.StatusFailed,
		verify.ChannelTests:           verify.StatusFailed,
	} {
		e := entry(t, rep, c, "linux/amd64")
		if e.Status != want {
			t.Errorf("%s signed by the rescan workflow: %s (%s), want %s", c, e.Status, e.Reason, want)
		}
		if want == verify.StatusVerified && e.Signer != rescanID.BuildSignerURI() {
			t.Errorf("%s signer %q", c, e.Signer)
		}
		if want == verify.StatusFailed && !errors.Is(e.Err, verify.ErrIdentityMismatch) {
			t.Errorf("%s: %v, want an identity mismatch", c, e.Err)
		}
	}
	if e := entry(t, rep, verify.ChannelSignature, "index"); e.Status != verify.StatusFailed {
		t.Errorf("index signature by the rescan workflow: %s", e.Status)
	}

	// Without a rescan identity, its scans are not trusted either.
	if f.policy, err = verify.PolicyFromFleet(id, verify.FleetPolicyOptions{NoRescan: true}); err != nil {
		t.Fatal(err)
	}
	if e := entry(t, f.run(), verify.ChannelVulnerabilities, "linux/amd64"); e.Status != verify.StatusFailed {
		t.Errorf("scan by the rescan workflow with NoRescan: %s", e.Status)
	}
}

// pinnedFleet is the identity of a clearcutt.yaml whose fleet calls
// acme/clearcutt's publish.yml by commit: workflowRef is that commit.
func pinnedFleet(t *testing.T, workflowRef string) fleet.Identity {
	t.Helper()
	src := `apiVersion: clearcutt.dev/v1alpha1
kind: Fleet
metadata: {name: t}
registry: {repository: ghcr.io/acme/images}
identity:
  issuer: ` + sigtest.GitHubIssuer + `
  repository: acme/base-images
  workflow: .github/workflows/publish.yml
  ref: refs/heads/main
  workflowRepository: acme/clearcutt
  workflowRef: "` + workflowRef + `"
build: {architectures: [amd64]}
nix: {flake: nix}
tiers:
  distroless: {shell: forbidden, packageManager: forbidden, coreutils: forbidden, deployable: true}
  slim: {shell: required, packageManager: forbidden, coreutils: allowed, deployable: true}
  dev: {shell: required, packageManager: allowed, coreutils: required, deployable: false}
runtimes:
  - {id: python, version: "3.11", nix: {attribute: python3}, entrypoint: [/bin/python3]}
`
	f, err := fleet.Parse("clearcutt.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f.Identity
}

// TestWorkflowPinnedByCommit: a fleet that calls the reusable workflow by
// commit signs with a Build Signer URI ending in @<commit>; verify accepts
// it when clearcutt.yaml names that commit, and only that one.
func TestWorkflowPinnedByCommit(t *testing.T) {
	const pinned = "0123456789abcdef0123456789abcdef01234567"
	const other = "fedcba9876543210fedcba9876543210fedcba98"
	signer := sigtest.GitHubIdentity{Repository: "acme/base-images", WorkflowRepository: "acme/clearcutt",
		Workflow: ".github/workflows/publish.yml", WorkflowRef: pinned, Ref: "refs/heads/main"}
	rescan := signer
	rescan.Workflow = ".github/workflows/rescan.yml"
	san := "https://github.com/acme/clearcutt/.github/workflows/publish.yml@" + pinned
	if signer.BuildSignerURI() != san {
		t.Fatalf("sigtest SAN %s, want %s", signer.BuildSignerURI(), san)
	}

	t.Run("the fleet names the commit", func(t *testing.T) {
		f := newFixture(t)
		var err error
		if f.policy, err = verify.PolicyFromFleet(pinnedFleet(t, pinned), verify.FleetPolicyOptions{}); err != nil {
			t.Fatal(err)
		}
		if f.policy.Signer.SAN != san || f.policy.Signer.SourceRepositoryRef != "refs/heads/main" {
			t.Fatalf("signer = %+v", f.policy.Signer)
		}
		if f.policy.Rescan == nil || f.policy.Rescan.SAN != rescan.BuildSignerURI() {
			t.Fatalf("rescan = %+v, want SAN %s", f.policy.Rescan, rescan.BuildSignerURI())
		}
		amd64 := f.platforms["amd64"]
		f.attachAs(signer, f.indexHash, f.indexHash, verify.PredicateSignature, map[string]any{})
		f.attachAs(rescan, amd64, amd64, verify.PredicateVulns, scanAt(time.Now().Add(-time.Minute), true))
		rep := f.run()
		if e := entry(t, rep, verify.ChannelSignature, "index"); e.Status != verify.StatusVerified || e.Signer != san {
			t.Errorf("index signature: %s (%s), signer %q", e.Status, e.Reason, e.Signer)
		}
		if e := entry(t, rep, verify.ChannelVulnerabilities, "linux/amd64"); e.Status != verify.StatusVerified || e.Signer != rescan.BuildSignerURI() {
			t.Errorf("scan by the rescan workflow: %s (%s), signer %q", e.Status, e.Reason, e.Signer)
		}
	})

	for name, ref := range map[string]string{
		"the fleet names another commit": other,
		"the fleet names a tag":          "refs/tags/v1.4.0",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			var err error
			if f.policy, err = verify.PolicyFromFleet(pinnedFleet(t, ref), verify.FleetPolicyOptions{}); err != nil {
				t.Fatal(err)
			}
			f.attachAs(signer, f.indexHash, f.indexHash, verify.PredicateSignature, map[string]any{})
			e := entry(t, f.run(), verify.ChannelSignature, "index")
			var ie *verify.IdentityError
			if e.Status != verify.StatusFailed || !errors.Is(e.Err, verify.ErrIdentityMismatch) || !errors.As(e.Err, &ie) {
				t.Fatalf("entry = %+v, err %v", e, e.Err)
			}
			if ie.Field != verify.FieldSAN {
				t.Errorf("field = %q, want %q (%v)", ie.Field, verify.FieldSAN, ie)
			}
		})
	}
}
