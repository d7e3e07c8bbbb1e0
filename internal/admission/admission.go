// Package admission generates Kubernetes admission policies from
// clearcutt.yaml: a Kyverno ClusterPolicy (kyverno.io/v1) and sigstore
// policy-controller ClusterImagePolicies (policy.sigstore.dev/v1beta1) that
// admit an image of the fleet only when it carries the evidence ClearCutt
// publishes — the signature of the fleet identity, an SPDX SBOM, passing test
// results and (keyless) SLSA provenance from slsa-github-generator about the
// fleet repository — and that keep non-deployable tiers out of production
// namespaces.
//
// The identities are the ones verify pins (verify.PolicyFromFleet): the
// issuer, the exact Build Signer URI and the fleet repository and ref, never
// patterns. Generate is pure: it renders YAML and never touches a cluster, a
// registry or the file system.
package admission

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// ErrInvalidOptions marks options Generate refuses.
var ErrInvalidOptions = errors.New("invalid admission options")

// reFleetName is metadata.name: the policies' names start with it.
var reFleetName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Engine is an admission controller policies are generated for.
type Engine string

// Engines.
const (
	EngineKyverno          Engine = "kyverno"
	EnginePolicyController Engine = "policy-controller"
)

// AllEngines in output order.
func AllEngines() []Engine { return []Engine{EngineKyverno, EnginePolicyController} }

// Profile says what happens to an image that fails a rule.
type Profile string

// Profiles.
const (
	// ProfileAudit reports violations and admits the workload (Kyverno
	// failureAction Audit, policy-controller mode warn).
	ProfileAudit Profile = "audit"
	// ProfileEnforce rejects the workload (Kyverno failureAction Enforce,
	// policy-controller mode enforce).
	ProfileEnforce Profile = "enforce"
)

// Signing modes of the generated policies.
const (
	ModeKeyless = "keyless"
	ModeKey     = "key"
)

// Predicate types the policies require.
const (
	PredicateSignature  = verify.PredicateSignature
	PredicateSBOM       = verify.PredicateSBOM
	PredicateTestResult = verify.PredicateTestResult
	// PredicateProvenance is what slsa-github-generator's container
	// workflow writes (cosign attest --type slsaprovenance).
	PredicateProvenance = verify.PredicateSLSAv02
	// PredicateVulns is the vulnerability scan: an in-toto vulns/v0.2
	// statement whose predicate carries the gate decision the scan reached
	// (GateField).
	PredicateVulns = verify.PredicateVulns
)

// The test results the generated policies admit: PASSED, and WARNED (every
// check that ran passed; a check that applies could not run where the
// image was tested). FAILED is refused.
const (
	TestPassed = "PASSED"
	TestWarned = "WARNED"
)

// The gate object of a vulnerability statement's predicate: the scan's
// verdict, and whether a database older than the fleet's maximum age was
// accepted unsafely. Admission requires pass true and staleDBAccepted
// absent or false.
const (
	GateField           = "gate"
	GatePass            = "pass"
	GateStaleDBAccepted = "staleDBAccepted"
)

// LabelTier is the image-config label that names an image's tier.
const LabelTier = "dev.clearcutt.tier"

// DefaultProductionNamespaces selects the namespaces the tier rule guards
// when no --production-namespaces is given.
const DefaultProductionNamespaces = "environment=production"

// Options adjust Generate. The zero value generates every engine, the
// enforce profile, keyless identities and DefaultProductionNamespaces.
type Options struct {
	// Engines to generate for (default: AllEngines).
	Engines []Engine
	// Profile defaults to ProfileEnforce.
	Profile Profile
	// ProductionNamespaces is a label selector ("environment=production",
	// "tier in (prod,critical)") or a comma-separated list of namespace
	// names; see ParseNamespaces. Default DefaultProductionNamespaces.
	ProductionNamespaces string
	// PublicKeyPEM switches to key mode: evidence must verify with this
	// ECDSA public key (the local signer of offline fleets) and the
	// transparency log is not consulted. Key mode has no provenance rule:
	// slsa-github-generator signs keyless only.
	PublicKeyPEM []byte
	// ProvenanceSignerURI defaults to verify.DefaultProvenanceSignerURI.
	ProvenanceSignerURI string
}

// File is one generated YAML file.
type File struct {
	// Name is the file name inside the output directory.
	Name   string `json:"name"`
	Engine Engine `json:"engine"`
	// Kind and Policies name the objects in the file.
	Kind     string   `json:"kind"`
	Policies []string `json:"policies"`
	Content  string   `json:"content"`
}

// Rule is one requirement of a generated policy, for reports.
type Rule struct {
	Engine Engine `json:"engine"`
	Policy string `json:"policy"`
	Rule   string `json:"rule,omitempty"`
	// Enforces says what the rule requires, in one sentence.
	Enforces string `json:"enforces"`
}

// Result is what Generate produced.
type Result struct {
	Fleet      string   `json:"fleet"`
	Mode       string   `json:"mode"`
	Profile    Profile  `json:"profile"`
	Engines    []Engine `json:"engines"`
	Repository string   `json:"repository"`
	// Signer and Issuer are the fleet identity (keyless mode).
	Signer string `json:"signer,omitempty"`
	Issuer string `json:"issuer,omitempty"`
	// ProductionNamespaces is the selector of the tier rule, as given.
	ProductionNamespaces string `json:"productionNamespaces"`
	// DeniedTiers are the tiers kept out of production namespaces.
	DeniedTiers []string `json:"deniedTiers"`
	Files       []File   `json:"files"`
	Rules       []Rule   `json:"rules"`
}

// spec is everything the renderers need, derived once from the fleet.
type spec struct {
	fleetName  string
	fleetPath  string // base name, for comments
	repository string // registry.repository
	profile    Profile
	keyPEM     string
	signer     verify.Identity
	provenance verify.Identity
	// rescan is the nightly rescan's identity (identity.rescanWorkflow),
	// trusted besides the signer for vulnerability scans only; nil when
	// the fleet has none.
	rescan *verify.Identity
	// githubRepository and githubRef are identity.repository and
	// identity.ref: the values of the legacy GitHub certificate extensions
	// (1.3.6.1.4.1.57264.1.5 and .6) of the fleet's runs.
	githubRepository string
	githubRef        string
	namespaces       Namespaces
	namespacesText   string
	deniedTiers      []string
	// deniedTags are the tag references of the images of denied tiers.
	deniedTags []string
}

func (s spec) keyless() bool { return s.keyPEM == "" }

// Generate renders the admission policies of the fleet f.
func Generate(f *fleet.File, o Options) (Result, error) {
	s, err := newSpec(f, o)
	if err != nil {
		return Result{}, err
	}
	engines := o.Engines
	if len(engines) == 0 {
		engines = AllEngines()
	}
	for _, e := range engines {
		if !slices.Contains(AllEngines(), e) {
			return Result{}, fmt.Errorf("%w: unknown engine %q (kyverno, policy-controller)", ErrInvalidOptions, e)
		}
	}
	res := Result{
		Fleet: f.Path, Profile: s.profile, Repository: s.repository,
		ProductionNamespaces: s.namespacesText, DeniedTiers: s.deniedTiers,
		Mode: ModeKeyless,
	}
	if s.keyless() {
		res.Signer, res.Issuer = s.signer.SAN, s.signer.Issuer
	} else {
		res.Mode = ModeKey
	}
	for _, e := range AllEngines() {
		if !slices.Contains(engines, e) {
			continue
		}
		var (
			file  File
			rules []Rule
			err   error
		)
		switch e {
		case EngineKyverno:
			file, rules, err = renderKyverno(s)
		case EnginePolicyController:
			if !s.keyless() {
				return Result{}, fmt.Errorf("%w: policy-controller cannot verify key-signed Sigstore bundles "+
					"(its signatureFormat \"bundle\" accepts keyless authorities only): generate key-mode policies with --engine kyverno", ErrInvalidOptions)
			}
			file, rules, err = renderPolicyController(s)
		}
		if err != nil {
			return Result{}, err
		}
		res.Engines = append(res.Engines, e)
		res.Files = append(res.Files, file)
		res.Rules = append(res.Rules, rules...)
	}
	return res, nil
}

func newSpec(f *fleet.File, o Options) (spec, error) {
	s := spec{fleetName: f.Metadata.Name, fleetPath: filepath.Base(f.Path), profile: o.Profile, keyPEM: strings.TrimSpace(string(o.PublicKeyPEM))}
	switch s.profile {
	case "":
		s.profile = ProfileEnforce
	case ProfileAudit, ProfileEnforce:
	default:
		return spec{}, fmt.Errorf("%w: unknown profile %q (audit, enforce)", ErrInvalidOptions, o.Profile)
	}
	if !reFleetName.MatchString(s.fleetName) {
		return spec{}, fmt.Errorf("%w: %s: metadata.name %q is not a fleet name (lower-case letters, digits and -)", ErrInvalidOptions, f.Path, s.fleetName)
	}
	s.repository = strings.TrimSuffix(f.Registry.Repository, "/")
	if err := literal(f.Path, "registry.repository", f.Registry.Repository); err != nil {
		return spec{}, err
	}
	if !reRepository.MatchString(s.repository) {
		return spec{}, fmt.Errorf("%w: %s: registry.repository %q is not a repository prefix (registry host, port and path)", ErrInvalidOptions, f.Path, f.Registry.Repository)
	}
	if s.keyPEM != "" {
		if err := checkPublicKey([]byte(s.keyPEM)); err != nil {
			return spec{}, err
		}
	}
	id := f.Identity
	for _, v := range []struct{ field, value string }{
		{"identity.issuer", id.Issuer},
		{"identity.repository", id.Repository},
		{"identity.workflowRepository", id.WorkflowRepository},
		{"identity.workflow", id.Workflow},
		{"identity.rescanWorkflow", id.RescanWorkflow},
		{"identity.ref", id.Ref},
		{"identity.workflowRef", id.WorkflowRef},
	} {
		if err := literal(f.Path, v.field, v.value); err != nil {
			return spec{}, err
		}
	}
	if err := literal("--provenance-signer", "provenance signer", o.ProvenanceSignerURI); err != nil {
		return spec{}, err
	}
	pol, err := verify.PolicyFromFleet(id, verify.FleetPolicyOptions{ProvenanceSignerURI: o.ProvenanceSignerURI})
	if err != nil {
		return spec{}, fmt.Errorf("%w: %s: identity: %w", ErrInvalidOptions, f.Path, err)
	}
	s.signer, s.provenance, s.rescan = pol.Signer, pol.Provenance, pol.Rescan
	s.githubRepository, s.githubRef = id.Repository, id.Ref
	// The values the policies hold, as they are derived: checked again so
	// that no derivation can bring in a pattern character.
	derived := []struct{ field, value string }{
		{"signer subject", s.signer.SAN}, {"signer issuer", s.signer.Issuer},
		{"provenance subject", s.provenance.SAN}, {"provenance issuer", s.provenance.Issuer},
		{"provenance source", ConfigSourceURI(s.githubRepository, s.githubRef)},
	}
	if s.rescan != nil {
		derived = append(derived, struct{ field, value string }{"rescan subject", s.rescan.SAN}, struct{ field, value string }{"rescan issuer", s.rescan.Issuer})
	}
	for _, v := range derived {
		if err := literal(f.Path, v.field, v.value); err != nil {
			return spec{}, err
		}
	}

	s.namespacesText = o.ProductionNamespaces
	if s.namespacesText == "" {
		s.namespacesText = DefaultProductionNamespaces
	}
	s.namespaces, err = ParseNamespaces(s.namespacesText)
	if err != nil {
		return spec{}, err
	}
	for _, t := range fleet.AllTiers {
		if !f.Tier(t).Deployable {
			s.deniedTiers = append(s.deniedTiers, t)
		}
	}
	for _, img := range f.Images() {
		if img.Deployable {
			continue
		}
		for _, tag := range img.Tags {
			ref := img.Repository + ":" + tag
			if err := literal(f.Path, "registry.tags (image "+img.RefName+")", ref); err != nil {
				return spec{}, err
			}
			s.deniedTags = append(s.deniedTags, ref)
		}
	}
	return s, nil
}
