package verify

import (
	"fmt"
	"time"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gate"
)

// Provenance generator defaults: slsa-github-generator's container
// workflow, whose certificate SAN is also the provenance builder id.
const (
	DefaultProvenanceSignerURI = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0"
	DefaultMaxScanAge          = 24 * time.Hour
	// DefaultMaxDBAge is the oldest database a scan may have used, at
	// scan time.
	DefaultMaxDBAge = 120 * time.Hour
)

// GatePolicy is the vulnerability gate verify applies to the findings of
// every verified scan (clearcutt.yaml vulnerabilities). The zero value
// fails on any active finding.
type GatePolicy struct {
	// FailOn is the lowest severity that fails; gate.Unknown fails on any.
	FailOn gate.Severity `json:"failOn"`
	// OnlyFixable restricts failures to findings with a known fix.
	OnlyFixable bool `json:"onlyFixable"`
}

// Identity is a keyless signer identity. Empty optional fields are not checked.
type Identity struct {
	// Issuer is the OIDC issuer (required).
	Issuer string `json:"issuer"`
	// SAN is the exact certificate subject alternative name; for GitHub
	// workflows the Build Signer URI (required).
	SAN string `json:"san"`
	// SourceRepositoryURI and SourceRepositoryRef name the repository and
	// ref of the run (required for ClearCutt evidence).
	SourceRepositoryURI string `json:"sourceRepositoryURI"`
	SourceRepositoryRef string `json:"sourceRepositoryRef,omitempty"`
	// BuildSignerDigest pins the commit of the signing workflow (optional).
	BuildSignerDigest string `json:"buildSignerDigest,omitempty"`
}

func (i Identity) validate(what string) error {
	switch {
	case i.Issuer == "":
		return fmt.Errorf("%w: %s identity has no issuer", ErrIncompleteIdentity, what)
	case i.SAN == "":
		return fmt.Errorf("%w: %s identity has no build signer URI", ErrIncompleteIdentity, what)
	case i.SourceRepositoryURI == "":
		return fmt.Errorf("%w: %s identity has no source repository URI", ErrIncompleteIdentity, what)
	}
	return nil
}

// Policy says who must have signed what, and how fresh scans must be.
type Policy struct {
	// Signer is the identity of ClearCutt's own evidence (signatures, SBOM,
	// tests, vulnerabilities, VEX).
	Signer Identity `json:"signer"`
	// Rescan, when set, is a second identity trusted for the
	// vulnerabilities and VEX channels only: the nightly rescan workflow,
	// which attaches fresh scans without rebuilding. It can never sign an
	// image, its SBOM or its test results.
	Rescan *Identity `json:"rescan,omitempty"`
	// Provenance is the identity of the SLSA provenance generator; its
	// SourceRepositoryURI is the fleet repository.
	Provenance Identity `json:"provenance"`
	// ProvenanceBuilderID, when set, must equal the provenance predicate's
	// builder id.
	ProvenanceBuilderID string `json:"provenanceBuilderID,omitempty"`
	// PublicKey (PEM) switches to key mode: every bundle must verify with
	// this key, and no certificate identity is involved.
	PublicKey []byte `json:"-"`
	// MaxScanAge is how old a vulnerability scan may be (default DefaultMaxScanAge).
	MaxScanAge time.Duration `json:"maxScanAge"`
	// MaxDBAge is how old the database of a scan may have been when it
	// ran (default DefaultMaxDBAge).
	MaxDBAge time.Duration `json:"maxDBAge"`
	// Gate is the vulnerability gate applied to every verified scan.
	Gate GatePolicy `json:"gate"`
	// RequiredChannels must all be verified for the image to pass
	// (default: every channel).
	RequiredChannels []Channel `json:"requiredChannels"`
}

// FleetPolicyOptions adjusts PolicyFromFleet; each field set is the
// option of NewPolicy of the same name.
type FleetPolicyOptions struct {
	// ProvenanceSignerURI defaults to DefaultProvenanceSignerURI
	// (WithProvenanceSigner).
	ProvenanceSignerURI string
	// BuildSignerDigest pins the signing workflow's commit when set
	// (WithBuildSignerDigest).
	BuildSignerDigest string
	// NoRescan trusts the publishing workflow alone, also for scans
	// (WithoutRescanIdentity).
	NoRescan         bool
	MaxScanAge       time.Duration
	MaxDBAge         time.Duration
	Gate             GatePolicy
	RequiredChannels []Channel
}

// PolicyFromFleet is the keyless policy of the fleet's evidence that
// clearcutt.yaml's identity id names: NewPolicy(FleetEvidence(id), ...)
// with the options o sets. The Build Signer URI is
// https://github.com/<workflowRepository>/<workflow>@<workflowRef> (a full
// git ref, or the 40-hex commit of a workflow called by commit), the
// Source Repository URI https://github.com/<repository>, the Source
// Repository Ref <ref>. Provenance comes from the generator called by the
// same run.
func PolicyFromFleet(id fleet.Identity, o FleetPolicyOptions) (Policy, error) {
	opts := []PolicyOption{
		WithProvenanceSigner(o.ProvenanceSignerURI), WithBuildSignerDigest(o.BuildSignerDigest),
		WithMaxScanAge(o.MaxScanAge), WithMaxDBAge(o.MaxDBAge), WithGate(o.Gate), WithRequiredChannels(o.RequiredChannels...),
	}
	if o.NoRescan {
		opts = append(opts, WithoutRescanIdentity())
	}
	return NewPolicy(FleetEvidence(id), opts...)
}

// Validate checks that the policy pins enough to be meaningful.
func (p Policy) Validate() error {
	if p.MaxScanAge < 0 {
		return fmt.Errorf("%w: negative maximum scan age", ErrInvalidOptions)
	}
	if p.MaxDBAge < 0 {
		return fmt.Errorf("%w: negative maximum database age", ErrInvalidOptions)
	}
	for _, c := range p.RequiredChannels {
		if !c.valid() {
			return fmt.Errorf("%w: unknown channel %q", ErrInvalidOptions, c)
		}
	}
	if len(p.PublicKey) > 0 {
		return nil
	}
	if err := p.Signer.validate("signer"); err != nil {
		return err
	}
	if p.Rescan != nil {
		if err := p.Rescan.validate("rescan"); err != nil {
			return err
		}
	}
	return p.Provenance.validate("provenance")
}

func (p Policy) maxScanAge() time.Duration {
	if p.MaxScanAge == 0 {
		return DefaultMaxScanAge
	}
	return p.MaxScanAge
}

func (p Policy) maxDBAge() time.Duration {
	if p.MaxDBAge == 0 {
		return DefaultMaxDBAge
	}
	return p.MaxDBAge
}

func (p Policy) required() []Channel {
	if len(p.RequiredChannels) == 0 {
		return AllChannels()
	}
	return p.RequiredChannels
}

// identities are the identities evidence of channel c may be signed by.
func (p Policy) identities(c Channel) []Identity {
	switch {
	case c == ChannelProvenance:
		return []Identity{p.Provenance}
	case (c == ChannelVulnerabilities || c == ChannelVEX) && p.Rescan != nil:
		return []Identity{p.Signer, *p.Rescan}
	}
	return []Identity{p.Signer}
}
