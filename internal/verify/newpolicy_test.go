package verify_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// composeFleet is a clearcutt.yaml identity whose fleet calls the kit's
// reusable workflows at a release tag, with a rescan workflow.
var composeFleet = fleet.Identity{
	Issuer: sigtest.GitHubIssuer, Repository: "acme/base-images", Ref: "refs/heads/main",
	WorkflowRepository: "clearcutt/clearcutt", WorkflowRef: "refs/tags/v1.2.0",
	Workflow: ".github/workflows/publish.yml", RescanWorkflow: ".github/workflows/rescan.yml",
}

const (
	composeSAN    = "https://github.com/clearcutt/clearcutt/.github/workflows/publish.yml@refs/tags/v1.2.0"
	composeRescan = "https://github.com/clearcutt/clearcutt/.github/workflows/rescan.yml@refs/tags/v1.2.0"
	composeRepo   = "https://github.com/acme/base-images"
	otherIssuer   = "https://oidc.ci.example"
	otherSAN      = "https://github.com/other/fleet/.github/workflows/release.yml@refs/heads/main"
	otherRepo     = "https://github.com/other/fleet"
	otherRef      = "refs/heads/release"
	otherRescan   = "https://github.com/other/fleet/.github/workflows/nightly.yml@refs/heads/main"
	otherProv     = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v9.9.9"
	signerCommit  = "0123456789abcdef0123456789abcdef01234567"
)

func publicKeyPEM(t *testing.T) []byte {
	t.Helper()
	k, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKeyPEM()
}

// identities is a keyless policy with these identities, everything else
// zero: provenance from the generator prov, in the signer's repository.
func identities(signer verify.Identity, rescan *verify.Identity, prov string) verify.Policy {
	return verify.Policy{
		Signer: signer, Rescan: rescan, ProvenanceBuilderID: prov,
		Provenance: verify.Identity{Issuer: signer.Issuer, SAN: prov, SourceRepositoryURI: signer.SourceRepositoryURI, SourceRepositoryRef: signer.SourceRepositoryRef},
	}
}

// TestNewPolicy: the policies NewPolicy composes, whole.
func TestNewPolicy(t *testing.T) {
	pem := publicKeyPEM(t)
	fleetSigner := verify.Identity{Issuer: sigtest.GitHubIssuer, SAN: composeSAN, SourceRepositoryURI: composeRepo, SourceRepositoryRef: "refs/heads/main"}
	fleetRescan := &verify.Identity{Issuer: sigtest.GitHubIssuer, SAN: composeRescan, SourceRepositoryURI: composeRepo, SourceRepositoryRef: "refs/heads/main"}
	otherSigner := verify.Identity{Issuer: otherIssuer, SAN: otherSAN, SourceRepositoryURI: otherRepo, SourceRepositoryRef: otherRef}
	withoutProvenance := []verify.Channel{verify.ChannelSignature, verify.ChannelSBOM, verify.ChannelTests, verify.ChannelVulnerabilities, verify.ChannelVEX}
	gp := verify.GatePolicy{FailOn: gate.Critical, OnlyFixable: true}

	for _, tc := range []struct {
		name string
		ev   verify.Evidence
		opts []verify.PolicyOption
		want verify.Policy
	}{
		{
			name: "the fleet's identities, from clearcutt.yaml",
			ev:   verify.FleetEvidence(composeFleet),
			want: identities(fleetSigner, fleetRescan, verify.DefaultProvenanceSignerURI),
		},
		{
			name: "without identity.rescanWorkflow, no rescan identity",
			ev: verify.FleetEvidence(fleet.Identity{Issuer: sigtest.GitHubIssuer, Repository: "acme/base-images", Ref: "refs/heads/main",
				WorkflowRepository: "clearcutt/clearcutt", WorkflowRef: "refs/tags/v1.2.0", Workflow: ".github/workflows/publish.yml"}),
			want: identities(fleetSigner, nil, verify.DefaultProvenanceSignerURI),
		},
		{
			name: "every value replaced: the options win over the fleet, the rescan workflow and provenance follow",
			ev:   verify.FleetEvidence(composeFleet),
			opts: []verify.PolicyOption{verify.WithIssuer(otherIssuer), verify.WithBuildSignerURI(otherSAN), verify.WithSourceRepository(otherRepo),
				verify.WithSourceRef(otherRef), verify.WithBuildSignerDigest(signerCommit), verify.WithProvenanceSigner(otherProv)},
			want: func() verify.Policy {
				s := otherSigner
				s.BuildSignerDigest = signerCommit
				// The digest pins the publishing workflow only.
				return identities(s, &verify.Identity{Issuer: otherIssuer, SAN: composeRescan, SourceRepositoryURI: otherRepo, SourceRepositoryRef: otherRef}, otherProv)
			}(),
		},
		{
			name: "one value replaced, the rest from clearcutt.yaml",
			ev:   verify.FleetEvidence(composeFleet),
			opts: []verify.PolicyOption{verify.WithSourceRef(otherRef)},
			want: func() verify.Policy {
				s, r := fleetSigner, *fleetRescan
				s.SourceRepositoryRef, r.SourceRepositoryRef = otherRef, otherRef
				return identities(s, &r, verify.DefaultProvenanceSignerURI)
			}(),
		},
		{
			name: "empty values change nothing",
			ev:   verify.FleetEvidence(composeFleet),
			opts: []verify.PolicyOption{verify.WithIssuer(""), verify.WithBuildSignerURI(""), verify.WithSourceRepository(""), verify.WithSourceRef(""),
				verify.WithBuildSignerDigest(""), verify.WithProvenanceSigner(""), verify.WithRescanIdentity(""), verify.WithMaxScanAge(0),
				verify.WithMaxDBAge(0), verify.WithRequiredChannels()},
			want: identities(fleetSigner, fleetRescan, verify.DefaultProvenanceSignerURI),
		},
		{
			name: "a rescan identity named replaces the derived one",
			ev:   verify.FleetEvidence(composeFleet),
			opts: []verify.PolicyOption{verify.WithRescanIdentity(otherRescan)},
			want: identities(fleetSigner, &verify.Identity{Issuer: sigtest.GitHubIssuer, SAN: otherRescan, SourceRepositoryURI: composeRepo, SourceRepositoryRef: "refs/heads/main"},
				verify.DefaultProvenanceSignerURI),
		},
		{
			name: "no rescan identity",
			ev:   verify.FleetEvidence(composeFleet),
			opts: []verify.PolicyOption{verify.WithoutRescanIdentity()},
			want: identities(fleetSigner, nil, verify.DefaultProvenanceSignerURI),
		},
		{
			name: "without clearcutt.yaml: the signer named whole, no rescan identity",
			ev:   verify.PinnedFleetEvidence(),
			opts: []verify.PolicyOption{verify.WithBuildSignerURI(otherSAN), verify.WithIssuer(otherIssuer), verify.WithSourceRepository(otherRepo), verify.WithSourceRef(otherRef)},
			want: identities(otherSigner, nil, verify.DefaultProvenanceSignerURI),
		},
		{
			name: "without clearcutt.yaml, a rescan identity named",
			ev:   verify.PinnedFleetEvidence(),
			opts: []verify.PolicyOption{verify.WithBuildSignerURI(otherSAN), verify.WithIssuer(otherIssuer), verify.WithSourceRepository(otherRepo),
				verify.WithSourceRef(otherRef), verify.WithRescanIdentity(otherRescan)},
			want: identities(otherSigner, &verify.Identity{Issuer: otherIssuer, SAN: otherRescan, SourceRepositoryURI: otherRepo, SourceRepositoryRef: otherRef},
				verify.DefaultProvenanceSignerURI),
		},
		{
			name: "the gate, the ages and the channels",
			ev:   verify.FleetEvidence(composeFleet),
			opts: []verify.PolicyOption{verify.WithGate(gp), verify.WithMaxScanAge(time.Hour), verify.WithMaxDBAge(48 * time.Hour),
				verify.WithRequiredChannels(verify.ChannelSignature, verify.ChannelSBOM)},
			want: func() verify.Policy {
				p := identities(fleetSigner, fleetRescan, verify.DefaultProvenanceSignerURI)
				p.Gate, p.MaxScanAge, p.MaxDBAge, p.RequiredChannels = gp, time.Hour, 48*time.Hour, []verify.Channel{verify.ChannelSignature, verify.ChannelSBOM}
				return p
			}(),
		},
		{
			name: "key mode: no identity, every channel but provenance",
			ev:   verify.FleetEvidence(composeFleet),
			opts: []verify.PolicyOption{verify.WithKey(pem), verify.WithGate(gp)},
			want: verify.Policy{PublicKey: pem, ProvenanceBuilderID: verify.DefaultProvenanceSignerURI, Gate: gp, RequiredChannels: withoutProvenance},
		},
		{
			name: "key mode without clearcutt.yaml",
			ev:   verify.PinnedFleetEvidence(),
			opts: []verify.PolicyOption{verify.WithKey(pem), verify.WithProvenanceSigner(otherProv), verify.WithoutRescanIdentity()},
			want: verify.Policy{PublicKey: pem, ProvenanceBuilderID: otherProv, RequiredChannels: withoutProvenance},
		},
		{
			name: "key mode, the channels named",
			ev:   verify.FleetEvidence(composeFleet),
			opts: []verify.PolicyOption{verify.WithKey(pem), verify.WithRequiredChannels(verify.AllChannels()...)},
			want: verify.Policy{PublicKey: pem, ProvenanceBuilderID: verify.DefaultProvenanceSignerURI, RequiredChannels: verify.AllChannels()},
		},
		{
			name: "an application's keyless signer, the default issuer",
			ev:   verify.ApplicationSignature(sigtest.GitHubIssuer),
			opts: []verify.PolicyOption{verify.WithBuildSignerURI(otherSAN), verify.WithSourceRepository(otherRepo)},
			want: func() verify.Policy {
				id := verify.Identity{Issuer: sigtest.GitHubIssuer, SAN: otherSAN, SourceRepositoryURI: otherRepo}
				return verify.Policy{Signer: id, Provenance: id, RequiredChannels: []verify.Channel{verify.ChannelSignature}}
			}(),
		},
		{
			name: "an application's keyless signer, named whole",
			ev:   verify.ApplicationSignature(sigtest.GitHubIssuer),
			opts: []verify.PolicyOption{verify.WithBuildSignerURI(otherSAN), verify.WithSourceRepository(otherRepo), verify.WithIssuer(otherIssuer),
				verify.WithSourceRef(otherRef)},
			want: verify.Policy{Signer: otherSigner, Provenance: otherSigner, RequiredChannels: []verify.Channel{verify.ChannelSignature}},
		},
		{
			name: "an application's key",
			ev:   verify.ApplicationSignature(sigtest.GitHubIssuer),
			opts: []verify.PolicyOption{verify.WithKey(pem)},
			want: verify.Policy{PublicKey: pem, RequiredChannels: []verify.Channel{verify.ChannelSignature}},
		},
		{
			name: "the same value twice",
			ev:   verify.FleetEvidence(composeFleet),
			opts: []verify.PolicyOption{verify.WithSourceRef(otherRef), verify.WithSourceRef(otherRef), verify.WithGate(gp), verify.WithGate(gp)},
			want: func() verify.Policy {
				p, err := verify.NewPolicy(verify.FleetEvidence(composeFleet), verify.WithSourceRef(otherRef), verify.WithGate(gp))
				if err != nil {
					t.Fatal(err)
				}
				return p
			}(),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := verify.NewPolicy(tc.ev, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("policy (-want +got):\n%s", d)
			}
		})
	}
}

// TestPolicyFromFleetIsNewPolicy: PolicyFromFleet composes what NewPolicy
// composes from FleetEvidence with the same options.
func TestPolicyFromFleetIsNewPolicy(t *testing.T) {
	o := verify.FleetPolicyOptions{ProvenanceSignerURI: otherProv, BuildSignerDigest: signerCommit, NoRescan: true,
		MaxScanAge: time.Hour, MaxDBAge: time.Minute, Gate: verify.GatePolicy{FailOn: gate.High}, RequiredChannels: []verify.Channel{verify.ChannelTests}}
	got, err := verify.PolicyFromFleet(composeFleet, o)
	if err != nil {
		t.Fatal(err)
	}
	want, err := verify.NewPolicy(verify.FleetEvidence(composeFleet), verify.WithProvenanceSigner(otherProv), verify.WithBuildSignerDigest(signerCommit),
		verify.WithoutRescanIdentity(), verify.WithMaxScanAge(time.Hour), verify.WithMaxDBAge(time.Minute),
		verify.WithGate(verify.GatePolicy{FailOn: gate.High}), verify.WithRequiredChannels(verify.ChannelTests))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("PolicyFromFleet (-NewPolicy +PolicyFromFleet):\n%s", d)
	}
}

// TestNewPolicyRefuses: every conflict, repetition and gap is refused with
// its sentinel, which is also ErrInvalidOptions.
func TestNewPolicyRefuses(t *testing.T) {
	pem, otherPEM := publicKeyPEM(t), publicKeyPEM(t)
	whole := []verify.PolicyOption{verify.WithBuildSignerURI(otherSAN), verify.WithIssuer(otherIssuer), verify.WithSourceRepository(otherRepo), verify.WithSourceRef(otherRef)}
	fleetEv, pinned, app := verify.FleetEvidence(composeFleet), verify.PinnedFleetEvidence(), verify.ApplicationSignature(sigtest.GitHubIssuer)
	for _, tc := range []struct {
		name string
		ev   verify.Evidence
		opts []verify.PolicyOption
		want error
	}{
		{"a key and a Build Signer URI", fleetEv, []verify.PolicyOption{verify.WithKey(pem), verify.WithBuildSignerURI(otherSAN)}, verify.ErrConflictingOptions},
		{"a key and an issuer", fleetEv, []verify.PolicyOption{verify.WithIssuer(otherIssuer), verify.WithKey(pem)}, verify.ErrConflictingOptions},
		{"a key and a source repository", pinned, []verify.PolicyOption{verify.WithKey(pem), verify.WithSourceRepository(otherRepo)}, verify.ErrConflictingOptions},
		{"a key and a source ref", pinned, []verify.PolicyOption{verify.WithKey(pem), verify.WithSourceRef(otherRef)}, verify.ErrConflictingOptions},
		{"a key and a Build Signer Digest", fleetEv, []verify.PolicyOption{verify.WithKey(pem), verify.WithBuildSignerDigest(signerCommit)}, verify.ErrConflictingOptions},
		{"a key and a rescan identity", fleetEv, []verify.PolicyOption{verify.WithKey(pem), verify.WithRescanIdentity(otherRescan)}, verify.ErrConflictingOptions},
		{"an application's key and its keyless identity", app, []verify.PolicyOption{verify.WithKey(pem), verify.WithBuildSignerURI(otherSAN), verify.WithSourceRepository(otherRepo)}, verify.ErrConflictingOptions},
		{"an application's key and an issuer", app, []verify.PolicyOption{verify.WithKey(pem), verify.WithIssuer(otherIssuer)}, verify.ErrConflictingOptions},
		{"a rescan identity and none", fleetEv, []verify.PolicyOption{verify.WithRescanIdentity(otherRescan), verify.WithoutRescanIdentity()}, verify.ErrConflictingOptions},
		{"an application's rescan identity", app, append(whole[:2:2], verify.WithSourceRepository(otherRepo), verify.WithRescanIdentity(otherRescan)), verify.ErrConflictingOptions},
		{"an application's provenance signer", app, append(whole[:2:2], verify.WithSourceRepository(otherRepo), verify.WithProvenanceSigner(otherProv)), verify.ErrConflictingOptions},

		{"two Build Signer URIs", fleetEv, []verify.PolicyOption{verify.WithBuildSignerURI(otherSAN), verify.WithBuildSignerURI(composeSAN)}, verify.ErrRepeatedOption},
		{"two issuers", fleetEv, []verify.PolicyOption{verify.WithIssuer(otherIssuer), verify.WithIssuer(sigtest.GitHubIssuer)}, verify.ErrRepeatedOption},
		{"two source repositories", fleetEv, []verify.PolicyOption{verify.WithSourceRepository(otherRepo), verify.WithSourceRepository(composeRepo)}, verify.ErrRepeatedOption},
		{"two source refs", fleetEv, []verify.PolicyOption{verify.WithSourceRef(otherRef), verify.WithSourceRef("refs/heads/main")}, verify.ErrRepeatedOption},
		{"two rescan identities", fleetEv, []verify.PolicyOption{verify.WithRescanIdentity(otherRescan), verify.WithRescanIdentity(composeRescan)}, verify.ErrRepeatedOption},
		{"two provenance signers", fleetEv, []verify.PolicyOption{verify.WithProvenanceSigner(otherProv), verify.WithProvenanceSigner(verify.DefaultProvenanceSignerURI)}, verify.ErrRepeatedOption},
		{"two keys", fleetEv, []verify.PolicyOption{verify.WithKey(pem), verify.WithKey(otherPEM)}, verify.ErrRepeatedOption},
		{"two gates", fleetEv, []verify.PolicyOption{verify.WithGate(verify.GatePolicy{FailOn: gate.High}), verify.WithGate(verify.GatePolicy{FailOn: gate.Low})}, verify.ErrRepeatedOption},
		{"two scan ages", fleetEv, []verify.PolicyOption{verify.WithMaxScanAge(time.Hour), verify.WithMaxScanAge(time.Minute)}, verify.ErrRepeatedOption},
		{"two database ages", fleetEv, []verify.PolicyOption{verify.WithMaxDBAge(time.Hour), verify.WithMaxDBAge(time.Minute)}, verify.ErrRepeatedOption},
		{"two channel lists", fleetEv, []verify.PolicyOption{verify.WithRequiredChannels(verify.ChannelSBOM), verify.WithRequiredChannels(verify.ChannelTests)}, verify.ErrRepeatedOption},

		{"an issuer without an identity", pinned, []verify.PolicyOption{verify.WithIssuer(otherIssuer)}, verify.ErrIncompleteIdentity},
		{"a source repository and ref without an identity", pinned, []verify.PolicyOption{verify.WithSourceRepository(otherRepo), verify.WithSourceRef(otherRef)}, verify.ErrIncompleteIdentity},
		{"a rescan identity without an identity", pinned, []verify.PolicyOption{verify.WithRescanIdentity(otherRescan)}, verify.ErrIncompleteIdentity},
		{"an application's issuer without an identity", app, []verify.PolicyOption{verify.WithIssuer(otherIssuer)}, verify.ErrIncompleteIdentity},
		{"without clearcutt.yaml, no source ref", pinned, whole[:3], verify.ErrIncompleteIdentity},
		{"without clearcutt.yaml, nothing", pinned, nil, verify.ErrIncompleteIdentity},
		{"an application without a signer", app, nil, verify.ErrIncompleteIdentity},
		{"an application without a source repository", app, []verify.PolicyOption{verify.WithBuildSignerURI(otherSAN)}, verify.ErrIncompleteIdentity},
		{"an application keyless without an issuer", verify.ApplicationSignature(""), []verify.PolicyOption{verify.WithBuildSignerURI(otherSAN), verify.WithSourceRepository(otherRepo)}, verify.ErrIncompleteIdentity},
		{"an incomplete clearcutt.yaml identity", verify.FleetEvidence(fleet.Identity{Repository: "acme/x"}), nil, verify.ErrIncompleteIdentity},

		{"a key that is not PEM", fleetEv, []verify.PolicyOption{verify.WithKey([]byte("not a key"))}, verify.ErrInvalidOptions},
		{"an empty key", fleetEv, []verify.PolicyOption{verify.WithKey(nil)}, verify.ErrInvalidOptions},
		{"a negative scan age", fleetEv, []verify.PolicyOption{verify.WithMaxScanAge(-time.Hour)}, verify.ErrInvalidOptions},
		{"a negative database age", fleetEv, []verify.PolicyOption{verify.WithMaxDBAge(-time.Hour)}, verify.ErrInvalidOptions},
		{"an unknown channel", fleetEv, []verify.PolicyOption{verify.WithRequiredChannels("bogus")}, verify.ErrInvalidOptions},
		{"no evidence", verify.Evidence{}, whole, verify.ErrInvalidOptions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := verify.NewPolicy(tc.ev, tc.opts...)
			if !errors.Is(err, tc.want) || !errors.Is(err, verify.ErrInvalidOptions) {
				t.Fatalf("NewPolicy = %+v, %v; want %v", p, err, tc.want)
			}
			t.Log(err)
			for _, other := range []error{verify.ErrConflictingOptions, verify.ErrRepeatedOption, verify.ErrIncompleteIdentity} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("%v is also %v", err, other)
				}
			}
		})
	}
}

// TestCheckSigner: evidence signed with a key verifies under that key only,
// keyless evidence under a keyless policy only.
func TestCheckSigner(t *testing.T) {
	pem, otherPEM := publicKeyPEM(t), publicKeyPEM(t)
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	other, err := cryptoutils.UnmarshalPEMToPublicKey(otherPEM)
	if err != nil {
		t.Fatal(err)
	}
	keyPolicy, err := verify.NewPolicy(verify.FleetEvidence(composeFleet), verify.WithKey(pem))
	if err != nil {
		t.Fatal(err)
	}
	keyless, err := verify.NewPolicy(verify.FleetEvidence(composeFleet))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		p      verify.Policy
		signer any
		ok     bool
	}{
		{"the policy's key", keyPolicy, pub, true},
		{"another key", keyPolicy, other, false},
		{"keyless under a key", keyPolicy, nil, false},
		{"a key under a keyless policy", keyless, pub, false},
		{"keyless under a keyless policy", keyless, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.CheckSigner(tc.signer)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, verify.ErrSignerMismatch)) {
				t.Errorf("CheckSigner = %v", err)
			}
		})
	}
}
