package verify

import (
	"cmp"
	"crypto"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/clearcutt/clearcutt/internal/fleet"
)

// Evidence is the first argument of NewPolicy: which evidence the policy
// judges, and where the identities of its signers come from. The zero
// Evidence judges nothing; NewPolicy refuses it.
type Evidence struct {
	kind  evidenceKind
	fleet fleet.Identity
	// issuer is the OIDC issuer of an application's keyless signer named
	// without WithIssuer.
	issuer string
}

type evidenceKind int

const (
	_ evidenceKind = iota
	fleetEvidence
	pinnedFleetEvidence
	applicationSignature
)

// FleetEvidence is every evidence channel of the fleet's images, signed by
// the identities clearcutt.yaml names (id, see fleet.Identity.Signer):
//   - the publishing workflow: issuer identity.issuer, Build Signer URI
//     https://github.com/<workflowRepository>/<workflow>@<workflowRef>,
//     Source Repository URI https://github.com/<repository>, Source
//     Repository Ref <ref>;
//   - the rescan workflow, when identity.rescanWorkflow is set: the same,
//     with rescanWorkflow for workflow, trusted for the vulnerabilities
//     and VEX channels only;
//   - the provenance generator called by the publishing run: the same
//     issuer, repository and ref, Build Signer URI
//     DefaultProvenanceSignerURI (WithProvenanceSigner).
//
// WithIssuer, WithBuildSignerURI, WithSourceRepository and WithSourceRef
// replace single values of the publishing workflow; the rescan workflow
// and the provenance generator follow its issuer, repository and ref.
// Keyless, id must name an issuer, repository, workflow and ref.
func FleetEvidence(id fleet.Identity) Evidence {
	return Evidence{kind: fleetEvidence, fleet: id}
}

// PinnedFleetEvidence is every evidence channel of the fleet's images,
// verified without clearcutt.yaml: the options pin everything. Keyless,
// the publishing workflow is named whole (WithBuildSignerURI, WithIssuer,
// WithSourceRepository and WithSourceRef), the provenance generator
// follows its issuer, repository and ref, and no rescan workflow is
// trusted unless WithRescanIdentity names it.
func PinnedFleetEvidence() Evidence { return Evidence{kind: pinnedFleetEvidence} }

// ApplicationSignature is an application image's own signature (by
// default the signature channel alone), by the application repository's
// signer: WithKey, or keyless WithBuildSignerURI and WithSourceRepository,
// with WithSourceRef and WithBuildSignerDigest pinning more when given. A
// keyless signer named without WithIssuer has the issuer defaultIssuer.
// An application's signature has no rescan workflow and no provenance
// generator.
func ApplicationSignature(defaultIssuer string) Evidence {
	return Evidence{kind: applicationSignature, issuer: defaultIssuer}
}

// PolicyOption is an option of NewPolicy. An option with an empty value
// (an empty string, a zero duration, no channels) leaves the policy as the
// evidence and the other options make it, so that settings left unset
// translate into options as they are. Giving an option twice with
// different values is an error (ErrRepeatedOption).
type PolicyOption func(*policyOptions) error

// policyOptions are the options given to NewPolicy; empty is not given.
type policyOptions struct {
	key              string // PEM
	issuer           string
	san              string
	sourceRepository string
	sourceRef        string
	signerDigest     string
	provenanceSigner string
	rescanSAN        string
	noRescan         bool
	maxScanAge       time.Duration
	maxDBAge         time.Duration
	gate             *GatePolicy
	required         []Channel
}

// setOnce sets *dst to v unless v is empty; a different value already set
// is ErrRepeatedOption.
func setOnce[T comparable](what string, dst *T, v T) error {
	var zero T
	switch {
	case v == zero:
		return nil
	case *dst != zero && *dst != v:
		return fmt.Errorf("%w: %s %v, then %v", ErrRepeatedOption, what, *dst, v)
	}
	*dst = v
	return nil
}

// WithKey switches to key mode: every bundle must verify with the public
// key pem (PEM), and no certificate identity is involved, so that no
// keyless value may be given with it (ErrConflictingOptions). Without
// WithRequiredChannels, the fleet's evidence is then required on every
// channel but provenance, which slsa-github-generator signs keyless only
// (it is reported, not required).
func WithKey(pem []byte) PolicyOption {
	return func(o *policyOptions) error {
		if _, err := cryptoutils.UnmarshalPEMToPublicKey(pem); err != nil {
			return fmt.Errorf("%w: not a PEM public key: %v", ErrInvalidOptions, err)
		}
		if o.key != "" && o.key != string(pem) {
			return fmt.Errorf("%w: two different public keys", ErrRepeatedOption)
		}
		o.key = string(pem)
		return nil
	}
}

// WithIssuer names the OIDC issuer of the keyless signer.
func WithIssuer(issuer string) PolicyOption {
	return func(o *policyOptions) error { return setOnce("OIDC issuer", &o.issuer, issuer) }
}

// WithBuildSignerURI names the exact Build Signer URI (the certificate's
// subject alternative name) of the keyless signer.
func WithBuildSignerURI(uri string) PolicyOption {
	return func(o *policyOptions) error { return setOnce("Build Signer URI", &o.san, uri) }
}

// WithSourceRepository names the exact Source Repository URI of the
// keyless signer, e.g. https://github.com/acme/fleet.
func WithSourceRepository(uri string) PolicyOption {
	return func(o *policyOptions) error { return setOnce("Source Repository URI", &o.sourceRepository, uri) }
}

// WithSourceRef names the exact Source Repository Ref of the keyless
// signer, e.g. refs/heads/main.
func WithSourceRef(ref string) PolicyOption {
	return func(o *policyOptions) error { return setOnce("Source Repository Ref", &o.sourceRef, ref) }
}

// WithBuildSignerDigest pins the Build Signer Digest (the commit of the
// signing workflow) of the keyless signer; the rescan workflow and the
// provenance generator are not pinned by it.
func WithBuildSignerDigest(digest string) PolicyOption {
	return func(o *policyOptions) error { return setOnce("Build Signer Digest", &o.signerDigest, digest) }
}

// WithProvenanceSigner names the Build Signer URI of the SLSA provenance
// generator, which is also the builder id its provenance must state
// (default DefaultProvenanceSignerURI).
func WithProvenanceSigner(uri string) PolicyOption {
	return func(o *policyOptions) error { return setOnce("provenance signer", &o.provenanceSigner, uri) }
}

// WithRescanIdentity names the exact Build Signer URI of the rescan
// workflow, trusted for the vulnerabilities and VEX channels only, with
// the issuer, repository and ref of the publishing workflow.
func WithRescanIdentity(uri string) PolicyOption {
	return func(o *policyOptions) error { return setOnce("rescan identity", &o.rescanSAN, uri) }
}

// WithoutRescanIdentity trusts the publishing workflow alone, also for
// scans and VEX.
func WithoutRescanIdentity() PolicyOption {
	return func(o *policyOptions) error { o.noRescan = true; return nil }
}

// WithMaxScanAge sets how old the newest passing scan may be (zero: the
// default, DefaultMaxScanAge).
func WithMaxScanAge(d time.Duration) PolicyOption {
	return func(o *policyOptions) error {
		if d < 0 {
			return fmt.Errorf("%w: negative maximum scan age %s", ErrInvalidOptions, d)
		}
		return setOnce("maximum scan age", &o.maxScanAge, d)
	}
}

// WithMaxDBAge sets how old a scan's database may have been when it ran
// (zero: the default, DefaultMaxDBAge).
func WithMaxDBAge(d time.Duration) PolicyOption {
	return func(o *policyOptions) error {
		if d < 0 {
			return fmt.Errorf("%w: negative maximum database age %s", ErrInvalidOptions, d)
		}
		return setOnce("maximum database age", &o.maxDBAge, d)
	}
}

// WithGate sets the vulnerability gate applied to every verified scan.
// Without it the gate is the zero GatePolicy, which fails on any active
// finding.
func WithGate(g GatePolicy) PolicyOption {
	return func(o *policyOptions) error {
		if o.gate != nil && *o.gate != g {
			return fmt.Errorf("%w: vulnerability gate %+v, then %+v", ErrRepeatedOption, *o.gate, g)
		}
		o.gate = &g
		return nil
	}
}

// WithRequiredChannels names the channels that must all verify for the
// image to pass (none: the evidence's default).
func WithRequiredChannels(cs ...Channel) PolicyOption {
	return func(o *policyOptions) error {
		for _, c := range cs {
			if !c.valid() {
				return fmt.Errorf("%w: unknown channel %q", ErrInvalidOptions, c)
			}
		}
		switch {
		case len(cs) == 0:
			return nil
		case o.required != nil && !slices.Equal(o.required, cs):
			return fmt.Errorf("%w: required channels %v, then %v", ErrRepeatedOption, o.required, cs)
		}
		o.required = slices.Clone(cs)
		return nil
	}
}

// NewPolicy composes the policy that judges ev: the identities ev derives,
// with single values replaced by the options. It refuses, wrapping one of
// the sentinels (each also an ErrInvalidOptions):
//   - ErrConflictingOptions: a public key with a keyless value (issuer,
//     Build Signer URI, source repository or ref, Build Signer Digest,
//     rescan identity); a rescan identity with WithoutRescanIdentity; a
//     rescan identity or provenance signer for an application's signature;
//   - ErrRepeatedOption: an option given twice with different values;
//   - ErrIncompleteIdentity: a keyless value with no identity for it to
//     replace a value of (an issuer, say, without a Build Signer URI or
//     clearcutt.yaml); a keyless signer missing a value it needs;
//
// and ErrInvalidOptions for a value that cannot be used (a key that is not
// a PEM public key, a negative age, an unknown channel). The result passes
// Policy.Validate.
func NewPolicy(ev Evidence, opts ...PolicyOption) (Policy, error) {
	var o policyOptions
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return Policy{}, err
		}
	}
	if err := o.conflicts(ev.kind); err != nil {
		return Policy{}, err
	}
	var p Policy
	var err error
	switch ev.kind {
	case fleetEvidence, pinnedFleetEvidence:
		p, err = o.fleetPolicy(ev)
	case applicationSignature:
		p, err = o.applicationPolicy(ev.issuer)
	default:
		return Policy{}, fmt.Errorf("%w: no evidence to judge: FleetEvidence, PinnedFleetEvidence or ApplicationSignature", ErrInvalidOptions)
	}
	if err != nil {
		return Policy{}, err
	}
	return p, p.Validate()
}

// keyless names the keyless values given.
func (o policyOptions) keyless() []string {
	var given []string
	for _, v := range []struct{ name, value string }{
		{"OIDC issuer", o.issuer}, {"Build Signer URI", o.san}, {"Source Repository URI", o.sourceRepository},
		{"Source Repository Ref", o.sourceRef}, {"Build Signer Digest", o.signerDigest}, {"rescan identity", o.rescanSAN},
	} {
		if v.value != "" {
			given = append(given, v.name)
		}
	}
	return given
}

func (o policyOptions) conflicts(kind evidenceKind) error {
	keyless := o.keyless()
	switch {
	case o.key != "" && len(keyless) > 0:
		return fmt.Errorf("%w: a public key and a keyless identity (%s): key-signed evidence has no certificate identity to check",
			ErrConflictingOptions, strings.Join(keyless, ", "))
	case o.rescanSAN != "" && o.noRescan:
		return fmt.Errorf("%w: a rescan identity, and no rescan identity", ErrConflictingOptions)
	case kind == applicationSignature && o.rescanSAN != "":
		return fmt.Errorf("%w: an application's signature has no rescan identity", ErrConflictingOptions)
	case kind == applicationSignature && o.provenanceSigner != "":
		return fmt.Errorf("%w: an application's signature has no provenance signer", ErrConflictingOptions)
	case kind != fleetEvidence && o.key == "" && o.san == "" && len(keyless) > 0:
		// Without clearcutt.yaml the Build Signer URI is what names the
		// signer: the other values only complete it.
		return fmt.Errorf("%w: %s without a Build Signer URI: no signer identity to apply to", ErrIncompleteIdentity, strings.Join(keyless, " and "))
	}
	return nil
}

// fleetPolicy composes FleetEvidence and PinnedFleetEvidence.
func (o policyOptions) fleetPolicy(ev Evidence) (Policy, error) {
	prov := cmp.Or(o.provenanceSigner, DefaultProvenanceSignerURI)
	p := o.common(Policy{ProvenanceBuilderID: prov})
	if o.key != "" {
		p.PublicKey = []byte(o.key)
		if len(p.RequiredChannels) == 0 {
			p.RequiredChannels = withoutChannel(AllChannels(), ChannelProvenance)
		}
		return p, nil
	}
	var rescan *Identity
	if ev.kind == fleetEvidence {
		id := ev.fleet
		if id.Issuer == "" || id.Repository == "" || id.Workflow == "" || id.Ref == "" {
			return Policy{}, fmt.Errorf("%w: clearcutt.yaml identity needs issuer, repository, workflow and ref", ErrIncompleteIdentity)
		}
		pub := id.Signer(fleet.PublishWorkflow)
		p.Signer = Identity{Issuer: pub.Issuer, SAN: pub.BuildSignerURI(), SourceRepositoryURI: pub.SourceRepositoryURI(), SourceRepositoryRef: pub.Ref}
		if id.RescanWorkflow != "" {
			rescan = &Identity{SAN: id.Signer(fleet.RescanWorkflow).BuildSignerURI()}
		}
	} else if missing := o.missing(true); len(missing) > 0 {
		return Policy{}, fmt.Errorf("%w: without clearcutt.yaml a keyless signer is named whole: no %s", ErrIncompleteIdentity, strings.Join(missing, ", no "))
	}
	s := &p.Signer
	s.Issuer = cmp.Or(o.issuer, s.Issuer)
	s.SAN = cmp.Or(o.san, s.SAN)
	s.SourceRepositoryURI = cmp.Or(o.sourceRepository, s.SourceRepositoryURI)
	s.SourceRepositoryRef = cmp.Or(o.sourceRef, s.SourceRepositoryRef)
	s.BuildSignerDigest = o.signerDigest
	switch {
	case o.noRescan:
		rescan = nil
	case o.rescanSAN != "":
		rescan = &Identity{SAN: o.rescanSAN}
	}
	if rescan != nil {
		// The rescan workflow runs in the publishing workflow's repository,
		// at its ref, under its issuer.
		rescan.Issuer, rescan.SourceRepositoryURI, rescan.SourceRepositoryRef = s.Issuer, s.SourceRepositoryURI, s.SourceRepositoryRef
		p.Rescan = rescan
	}
	// So does the provenance generator the publishing run calls.
	p.Provenance = Identity{Issuer: s.Issuer, SAN: prov, SourceRepositoryURI: s.SourceRepositoryURI, SourceRepositoryRef: s.SourceRepositoryRef}
	return p, nil
}

// applicationPolicy composes ApplicationSignature.
func (o policyOptions) applicationPolicy(defaultIssuer string) (Policy, error) {
	p := o.common(Policy{})
	if len(p.RequiredChannels) == 0 {
		p.RequiredChannels = []Channel{ChannelSignature}
	}
	if o.key != "" {
		p.PublicKey = []byte(o.key)
		return p, nil
	}
	switch missing := o.missing(false); {
	case o.san == "":
		return Policy{}, fmt.Errorf("%w: the application's signer is named by neither a public key nor a Build Signer URI", ErrIncompleteIdentity)
	case len(missing) > 0:
		return Policy{}, fmt.Errorf("%w: the application's keyless signer has no %s", ErrIncompleteIdentity, strings.Join(missing, ", no "))
	}
	id := Identity{Issuer: cmp.Or(o.issuer, defaultIssuer), SAN: o.san, SourceRepositoryURI: o.sourceRepository,
		SourceRepositoryRef: o.sourceRef, BuildSignerDigest: o.signerDigest}
	// An application image has no provenance of its own to judge: the
	// provenance identity is the signer, so that the policy is complete.
	p.Signer, p.Provenance = id, id
	return p, nil
}

// common is p with the options every evidence takes: the scan ages, the
// vulnerability gate and the required channels.
func (o policyOptions) common(p Policy) Policy {
	p.MaxScanAge, p.MaxDBAge, p.RequiredChannels = o.maxScanAge, o.maxDBAge, o.required
	if o.gate != nil {
		p.Gate = *o.gate
	}
	return p
}

// missing names the values of a keyless signer not given: the Build
// Signer URI and Source Repository URI, and with whole the OIDC issuer and
// Source Repository Ref too.
func (o policyOptions) missing(whole bool) []string {
	var out []string
	for _, v := range []struct {
		name, value string
		needed      bool
	}{
		{"Build Signer URI", o.san, true}, {"OIDC issuer", o.issuer, whole},
		{"Source Repository URI", o.sourceRepository, true}, {"Source Repository Ref", o.sourceRef, whole},
	} {
		if v.needed && v.value == "" {
			out = append(out, v.name)
		}
	}
	return out
}

func withoutChannel(cs []Channel, drop Channel) []Channel {
	var out []Channel
	for _, c := range cs {
		if c != drop {
			out = append(out, c)
		}
	}
	return out
}

// CheckSigner says whether evidence a signer is about to sign would verify
// under p, as far as how it is signed decides: pub is the signer's public
// key, nil for a keyless signer. Key-signed evidence needs a policy in key
// mode with that key; keyless evidence needs a keyless policy (whether its
// certificate names a trusted identity is known once it is issued). A
// mismatch wraps ErrSignerMismatch.
func (p Policy) CheckSigner(pub crypto.PublicKey) error {
	switch {
	case pub != nil && len(p.PublicKey) == 0:
		return fmt.Errorf("%w: a key signature under a keyless policy", ErrSignerMismatch)
	case pub == nil && len(p.PublicKey) > 0:
		return fmt.Errorf("%w: a keyless signature under a policy of a public key", ErrSignerMismatch)
	case pub == nil:
		return nil
	}
	want, err := cryptoutils.UnmarshalPEMToPublicKey(p.PublicKey)
	if err != nil {
		return fmt.Errorf("%w: the policy's public key: %v", ErrInvalidOptions, err)
	}
	if eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(want) {
		return fmt.Errorf("%w: a signature by another key than the policy's", ErrSignerMismatch)
	}
	return nil
}
