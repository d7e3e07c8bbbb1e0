// Package catalog describes the published fleet as clearcutt verify
// observes it in the registry: one record per image index, per-architecture
// facts read from the images themselves, and the status of every evidence
// channel on its own. Content (package counts, vulnerability findings) is
// taken only from evidence whose signature and identity verified.
//
// The catalog is versioned JSON (APIVersion, schema in
// schemas/catalog.v1alpha1.schema.json); the static site and the rescan
// read it, and remediation plans from it.
package catalog

import (
	"time"

	"github.com/clearcutt/clearcutt/internal/closure"
)

// APIVersion is the catalog format this package reads and writes.
const APIVersion = "catalog.clearcutt.dev/v1alpha1"

// FileName is the catalog's file name inside a catalog directory.
const FileName = "catalog.json"

// Status is the state of one evidence channel, as clearcutt verify reports it.
type Status string

// Channel statuses.
const (
	StatusVerified      Status = "verified"
	StatusFailed        Status = "failed"
	StatusMissing       Status = "missing"
	StatusPending       Status = "pending"
	StatusNotApplicable Status = "not_applicable"
)

// Channel names, as clearcutt verify names them.
const (
	ChannelSignature       = "signature"
	ChannelSBOM            = "sbom"
	ChannelProvenance      = "provenance"
	ChannelTests           = "tests"
	ChannelVulnerabilities = "vulnerabilities"
	ChannelVEX             = "vex"
)

// Catalog is the whole fleet.
type Catalog struct {
	APIVersion string `json:"apiVersion"`
	// GeneratedAt is when the registry was last observed.
	GeneratedAt time.Time `json:"generatedAt"`
	Fleet       Fleet     `json:"fleet"`
	// Images are sorted by runtime, then tier.
	Images []Image `json:"images"`
}

// Fleet says who publishes the fleet and how a consumer checks it.
type Fleet struct {
	// Name is the fleet's name from clearcutt.yaml.
	Name string `json:"name"`
	// Repository is the fleet's source repository, owner/name.
	Repository string `json:"repository"`
	// Registry is where the images are published (registry/repository
	// prefix, or oci:DIR for a local layout).
	Registry string `json:"registry"`
	// Identity is what every signature must carry. In key mode it is
	// empty and PublicKey names the key file verification used (a path on
	// the machine that wrote the catalog).
	Identity  *Identity `json:"identity,omitempty"`
	PublicKey string    `json:"publicKey,omitempty"`
	// PublicKeyPEM is that key itself, PEM-encoded (key mode only; absent
	// in catalogs written before it was recorded).
	PublicKeyPEM string `json:"publicKeyPEM,omitempty"`
	// ProvenanceBuilderID is the SLSA builder id provenance must name.
	ProvenanceBuilderID string `json:"provenanceBuilderID,omitempty"`
	// RequiredChannels are the channels an image needs to pass.
	RequiredChannels []string `json:"requiredChannels"`
}

// Identity is a keyless signer identity (exact values, no patterns).
type Identity struct {
	Issuer string `json:"issuer"`
	// BuildSignerURI is the certificate SAN: the signing workflow at its ref.
	BuildSignerURI      string `json:"buildSignerURI"`
	SourceRepositoryURI string `json:"sourceRepositoryURI"`
	SourceRepositoryRef string `json:"sourceRepositoryRef"`
	// RescanSignerURI is the Build Signer URI of the nightly rescan,
	// trusted for scans and VEX only (empty: none trusted).
	RescanSignerURI string `json:"rescanSignerURI,omitempty"`
}

// Image is one published image index (one runtime × tier).
type Image struct {
	// Name is <runtime>:<tier>, unique in the catalog.
	Name    string `json:"name"`
	Runtime string `json:"runtime"`
	Version string `json:"version"`
	Tier    string `json:"tier"`
	// Description says in one line what the runtime's images are for, as
	// clearcutt.yaml describes the runtime (absent: the runtime has no
	// description).
	Description string `json:"description,omitempty"`
	// Reference is the index by digest (repository@sha256:…). It and
	// IndexDigest are absent when no release of the image is served (see
	// Release).
	Reference   string `json:"reference,omitempty"`
	IndexDigest string `json:"indexDigest,omitempty"`
	// Tags are the tags that point at the index (empty when no release of
	// the image is served).
	Tags []string `json:"tags"`
	// VerifiedAt is when clearcutt verify observed the evidence (absent
	// when no release of the image is served: there was nothing to verify).
	VerifiedAt time.Time `json:"verifiedAt,omitzero"`
	// Status is verified when every required channel is, else the worst
	// status of a required channel. An image of which no release is served
	// is missing.
	Status Status `json:"status"`
	// Release is set when the fleet's latest release of the image failed
	// (absent: the image was released, or the catalog records no release).
	// The image is then not passing, whatever its status: the tags still
	// point at the release described here, an earlier one, or at nothing.
	Release *Release `json:"release,omitempty"`
	// Channels are the image-level channel results, one per channel, in
	// channel order: the status clearcutt verify gives the channel over the
	// index and every platform, with the details of the entry that decided
	// it (for provenance, and for the signature unless a platform's is
	// worse, the index's own). Empty when no release of the image is
	// served.
	Channels []ChannelStatus `json:"channels"`
	// Config is how a container of the image runs (entrypoint, cmd, user,
	// environment, working directory), read from the platform images'
	// configs. It is absent when no release is served, when the catalog
	// predates the field, or when the architectures disagree; then each
	// platform carries its own.
	Config *ImageConfig `json:"config,omitempty"`
	// Platforms are the index's architectures (empty when no release of the
	// image is served).
	Platforms []Platform `json:"platforms"`
	// History is one point per scan or rescan observed, oldest first; it
	// is carried over from the previous catalog and feeds the trend chart.
	History []ScanPoint `json:"history"`
}

// Release is a release of the image that failed: its build, gate, index,
// attestation or verification did not pass, so its tags were not moved.
type Release struct {
	// Failed is true: the release did not happen.
	Failed bool `json:"failed"`
	// Reason is why, as the publishing workflow recorded it.
	Reason string `json:"reason"`
	// RecordedAt is when the catalog recorded the failure, in the run of
	// the release that failed; a rescan rewriting the catalog keeps it.
	RecordedAt time.Time `json:"recordedAt"`
}

// ReleaseFailed reports whether the image's latest release failed.
func (im Image) ReleaseFailed() bool { return im.Release != nil && im.Release.Failed }

// Passed reports whether the image is verified and its latest release did
// not fail.
func (im Image) Passed() bool { return im.Status == StatusVerified && !im.ReleaseFailed() }

// Served reports whether a release of the image is served: its tags name
// an index the catalog observed.
func (im Image) Served() bool { return im.Reference != "" }

// Platform is one architecture's image.
type Platform struct {
	// Platform is os/arch[/variant].
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
	// Size is the bytes a pull transfers: manifest, config and compressed layers.
	Size   int64 `json:"size"`
	Layers int   `json:"layers"`
	// Config is this architecture's run configuration, set only when the
	// architectures disagree (else it is the image's Config).
	Config *ImageConfig `json:"config,omitempty"`
	// Packages is the package count of the verified SBOM (nil: no verified SBOM).
	Packages *int `json:"packages"`
	// PackageList is every package the verified SBOM lists but the image
	// itself, as the SBOM states it, sorted by name then version; Packages
	// counts them. It is absent without a verified SBOM (a package is never
	// taken from an SBOM that did not verify), when the SBOM lists none,
	// and in catalogs that predate the field.
	PackageList []Package `json:"packageList,omitempty"`
	// ClosureSize is the uncompressed size of the files under /nix/store.
	ClosureSize int64 `json:"closureSize"`
	// PruningCandidates are paths that ship but are rarely needed at run
	// time (headers, static libraries, documentation), largest first.
	PruningCandidates []PruningCandidate `json:"pruningCandidates"`
	// Scrub is what was removed from the runtime's closure for this
	// deployable tier, and why, as the image's own report says (nil: the
	// runtime is carried unchanged, as in dev).
	Scrub *closure.Scrub `json:"scrub,omitempty"`
	// Channels are this architecture's channel results, one per channel,
	// in channel order (signature, sbom, provenance, tests,
	// vulnerabilities, vex); provenance is index-level and repeated here.
	Channels []ChannelStatus `json:"channels"`
	// SBOM is the path, relative to the catalog directory, of the verified
	// SPDX document (empty without a verified SBOM).
	SBOM string `json:"sbom,omitempty"`
	// Vulnerabilities summarise the verified scan (nil: no verified or
	// pending scan to read).
	Vulnerabilities *Vulnerabilities `json:"vulnerabilities"`
}

// Package is one package of a verified SPDX SBOM.
type Package struct {
	// Name is the package's name (SPDX name).
	Name string `json:"name"`
	// Version is its version (SPDX versionInfo; empty: the SBOM states
	// none).
	Version string `json:"version,omitempty"`
	// License is the license the SBOM concluded for the package, else the
	// one it declares, as an SPDX license expression (empty: the SBOM
	// states none, or NOASSERTION).
	License string `json:"license,omitempty"`
	// PURL is its package URL, the first the SBOM gives (empty: none).
	PURL string `json:"purl,omitempty"`
}

// ImageConfig is the run configuration of an image, as its OCI config
// records it. Empty fields are not set in the image.
type ImageConfig struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	// User is user[:group], by name or id (empty: root).
	User string   `json:"user,omitempty"`
	Env  []string `json:"env,omitempty"`
	// WorkingDir is the working directory (empty: /).
	WorkingDir string `json:"workingDir,omitempty"`
}

// PruningCandidate is a path that could be dropped from the closure.
type PruningCandidate struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	Size   int64  `json:"size"`
}

// ChannelStatus is one channel for one digest.
type ChannelStatus struct {
	Channel string `json:"channel"`
	Status  Status `json:"status"`
	// Required says whether this channel decides the image's status.
	Required bool   `json:"required"`
	Reason   string `json:"reason,omitempty"`
	// Digest is the subject the evidence is about.
	Digest        string     `json:"digest"`
	Signer        string     `json:"signer,omitempty"`
	Issuer        string     `json:"issuer,omitempty"`
	PredicateType string     `json:"predicateType,omitempty"`
	Source        string     `json:"source,omitempty"`
	SignedAt      *time.Time `json:"signedAt,omitempty"`
	ScanTime      *time.Time `json:"scanTime,omitempty"`
	DBBuiltAt     *time.Time `json:"dbBuiltAt,omitempty"`
}

// Severities counts findings by severity.
type Severities struct {
	Critical   int `json:"critical"`
	High       int `json:"high"`
	Medium     int `json:"medium"`
	Low        int `json:"low"`
	Negligible int `json:"negligible"`
	Unknown    int `json:"unknown"`
}

// Vulnerabilities is one architecture's scan: active findings, and those a
// VEX statement suppressed or an exception covers, counted apart.
type Vulnerabilities struct {
	ScanTime   time.Time  `json:"scanTime"`
	DBBuiltAt  *time.Time `json:"dbBuiltAt,omitempty"`
	Active     Severities `json:"active"`
	Suppressed Severities `json:"suppressed"`
	Excepted   Severities `json:"excepted"`
	// Findings are every result of the scan, sorted by severity then id.
	Findings []Finding `json:"findings"`
}

// Finding is one vulnerability result, as the verified vulns/v0.2
// predicate records it.
type Finding struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases,omitempty"`
	Severity string   `json:"severity"`
	Package  string   `json:"package"`
	Version  string   `json:"version"`
	Type     string   `json:"type,omitempty"`
	PURL     string   `json:"purl,omitempty"`
	// Origin is "closure" (a Nix store path), "base" (the base of an
	// overlay image) or "image" (outside the store, no base).
	Origin string `json:"origin,omitempty"`
	// Status is active, suppressed (VEX) or excepted.
	Status   string   `json:"status"`
	FixState string   `json:"fixState,omitempty"`
	FixedIn  []string `json:"fixedIn,omitempty"`
	// VEXStatus and VEXJustification are set when a VEX statement applied.
	VEXStatus        string `json:"vexStatus,omitempty"`
	VEXJustification string `json:"vexJustification,omitempty"`
	// ExceptionOwner and ExceptionExpires are set when an exception applied.
	ExceptionOwner   string `json:"exceptionOwner,omitempty"`
	ExceptionExpires string `json:"exceptionExpires,omitempty"`
}

// ScanPoint is the image's vulnerability state at one scan: unique finding
// ids over all architectures, by severity.
type ScanPoint struct {
	ScanTime   time.Time  `json:"scanTime"`
	DBBuiltAt  *time.Time `json:"dbBuiltAt,omitempty"`
	Active     Severities `json:"active"`
	Suppressed int        `json:"suppressed"`
	Excepted   int        `json:"excepted"`
}
