// Package fleet holds the clearcutt.yaml schema: the Go types below are its
// single source (the JSON Schema in schemas/ is generated from them), a strict
// decoder that names file:line and the field path of every problem, semantic
// validation, and the expansion of a fleet into its build matrix.
package fleet

// APIVersion and Kind identify a fleet file.
const (
	APIVersion = "clearcutt.dev/v1alpha1"
	Kind       = "Fleet"
)

// Fleet is the root of clearcutt.yaml.
type Fleet struct {
	// APIVersion is the version of the fleet file format; clearcutt.dev/v1alpha1.
	APIVersion string `yaml:"apiVersion" json:"apiVersion" jsonschema:"enum=clearcutt.dev/v1alpha1"`
	// Kind is always Fleet.
	Kind string `yaml:"kind" json:"kind" jsonschema:"enum=Fleet"`
	// Metadata names and describes the fleet.
	Metadata Metadata `yaml:"metadata" json:"metadata"`
	// Registry says where the images are published and how they are tagged.
	Registry Registry `yaml:"registry" json:"registry"`
	// Identity is the GitHub Actions workflow whose OIDC token signs the
	// fleet; verification and admission policies pin exactly these values.
	Identity Identity `yaml:"identity" json:"identity"`
	// Build holds the fleet-wide build settings.
	Build Build `yaml:"build" json:"build"`
	// Nix locates the flake that builds the fleet.
	Nix Nix `yaml:"nix,omitempty" json:"nix,omitempty"`
	// Tiers holds the rules of the distroless, slim and dev tiers.
	Tiers Tiers `yaml:"tiers" json:"tiers"`
	// Vulnerabilities is the vulnerability gate scan, rescan, verify and
	// the catalog apply (defaults: fail on high, any fix state, database at
	// most 120h old, scan at most 24h old).
	Vulnerabilities Vulnerabilities `yaml:"vulnerabilities,omitempty" json:"vulnerabilities,omitempty"`
	// Runtimes are the images of the fleet; each is built in every tier it
	// lists and for every architecture of the fleet.
	Runtimes []Runtime `yaml:"runtimes" json:"runtimes" jsonschema:"minItems=1"`
}

// Metadata names the fleet.
type Metadata struct {
	// Name is the fleet's name: lowercase letters, digits and hyphens,
	// starting with a letter or digit.
	Name string `yaml:"name" json:"name" jsonschema:"pattern=^[a-z0-9][a-z0-9-]*$"`
	// Description is a free-text description of the fleet.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Source is the repository URL recorded in org.opencontainers.image.source;
	// an https URL.
	Source string `yaml:"source,omitempty" json:"source,omitempty" jsonschema:"format=uri"`
}

// Registry says where images are published and how they are named.
type Registry struct {
	// Repository is the registry repository prefix, such as
	// ghcr.io/acme/images; an image is published as <repository>/<runtime
	// id>. It must be a literal repository name: admission policies match
	// <repository>/* and it may hold no pattern character of its own.
	Repository string `yaml:"repository" json:"repository"`
	// Tags are the tag templates expanded for every image (default
	// {version}-{tier} and {tier}); the placeholders {runtime}, {version}
	// and {tier} are replaced (see Tag placeholders), any other {...} is an
	// error, and every expanded tag must be a valid OCI tag. Tags move only
	// after the whole index is stored.
	Tags []string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// Identity is the publishing identity: the GitHub Actions workflow whose
// OIDC token signs the fleet. Verification pins exactly these values.
type Identity struct {
	// Issuer is the OIDC issuer, https://token.actions.githubusercontent.com
	// on GitHub; an https URL.
	Issuer string `yaml:"issuer" json:"issuer" jsonschema:"format=uri,pattern=^https://[^\\s*?\\[\\]{}$\\\\]+$"`
	// Repository is the fleet repository on GitHub, owner/name.
	Repository string `yaml:"repository" json:"repository" jsonschema:"pattern=^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$"`
	// Workflow is the path of the signing (publish) workflow inside
	// workflowRepository, such as .github/workflows/publish.yml.
	Workflow string `yaml:"workflow" json:"workflow" jsonschema:"pattern=^\\.github/workflows/[^/\\s*?\\[\\]{}$\\\\]+\\.ya?ml$"`
	// WorkflowRepository holds the reusable workflow that signs (the Build
	// Signer URI names it), owner/name; defaults to identity.repository.
	WorkflowRepository string `yaml:"workflowRepository,omitempty" json:"workflowRepository,omitempty" jsonschema:"pattern=^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$"`
	// Ref is the git ref of the fleet repository that publishes, e.g.
	// refs/heads/main (the certificate's Source Repository Ref).
	Ref string `yaml:"ref" json:"ref" jsonschema:"pattern=^refs/(heads|tags)/[^\\s*?\\[\\]{}$\\\\]+$"`
	// WorkflowRef is the ref the signing workflow is called at when it is a
	// reusable workflow in workflowRepository (the ref in the Build Signer
	// URI): a full git ref such as refs/tags/v1.2.0, or the full 40-hex
	// commit SHA when the caller pins the workflow by commit
	// (uses: ...publish.yml@<sha>); defaults to identity.ref.
	WorkflowRef string `yaml:"workflowRef,omitempty" json:"workflowRef,omitempty" jsonschema:"pattern=^(refs/(heads|tags)/[^\\s*?\\[\\]{}$\\\\]+|[0-9a-f]{40})$"`
	// RescanWorkflow is the path, inside workflowRepository at workflowRef,
	// of the workflow that attaches fresh vulnerability scans without
	// rebuilding (default .github/workflows/rescan.yml). Its signatures are
	// trusted for the vulnerabilities and VEX channels only, so it must
	// differ from identity.workflow.
	RescanWorkflow string `yaml:"rescanWorkflow,omitempty" json:"rescanWorkflow,omitempty" jsonschema:"pattern=^\\.github/workflows/[^/\\s*?\\[\\]{}$\\\\]+\\.ya?ml$"`
}

// Build holds fleet-wide build settings.
type Build struct {
	// Architectures are the CPU architectures every image is built for,
	// natively, behind one multi-architecture index: amd64, arm64 or both.
	Architectures []string `yaml:"architectures" json:"architectures" jsonschema:"minItems=1,uniqueItems=true,enum=amd64,enum=arm64"`
	// LayerBudget is the most layers the Nix closure of one image is split
	// into, 2 to 127 (default 40). Store paths that fit get a layer of
	// their own, shared byte for byte by every image holding them; the
	// rest go to a few hash buckets; the runtime's own path is the last
	// layer. An overlay adds these layers on top of its base's.
	LayerBudget int `yaml:"layerBudget,omitempty" json:"layerBudget,omitempty" jsonschema:"minimum=2,maximum=127"`
	// SourceDateEpoch fixes every timestamp in the images, in seconds since
	// 1970-01-01 UTC (default 0), so a rebuild is byte-identical.
	SourceDateEpoch int64 `yaml:"sourceDateEpoch,omitempty" json:"sourceDateEpoch,omitempty" jsonschema:"minimum=0"`
	// User is the non-root account every image runs as.
	User User `yaml:"user,omitempty" json:"user,omitempty"`
}

// User is the non-root account every image runs as.
type User struct {
	// Name is the user name written to /etc/passwd (default nonroot; root
	// is refused).
	Name string `yaml:"name,omitempty" json:"name,omitempty" jsonschema:"pattern=^[a-z_][a-z0-9_-]*$"`
	// UID is the numeric user id the images run as (default 65532; 0, root,
	// is refused).
	UID int `yaml:"uid,omitempty" json:"uid,omitempty" jsonschema:"minimum=1,maximum=2147483647"`
	// GID is the numeric group id the images run as (default: the uid; 0,
	// root, is refused).
	GID int `yaml:"gid,omitempty" json:"gid,omitempty" jsonschema:"minimum=1,maximum=2147483647"`
}

// Nix locates the flake that builds the fleet.
type Nix struct {
	// Flake is the directory of the fleet flake, relative to clearcutt.yaml
	// (default nix).
	Flake string `yaml:"flake,omitempty" json:"flake,omitempty"`
}

// Tiers holds the rules of the three tiers. The set is closed: every image
// is distroless, slim or dev.
type Tiers struct {
	// Distroless is the smallest tier: the runtime and CA certificates only.
	// Its shell, packageManager and coreutils must be forbidden and its
	// packages empty.
	Distroless Tier `yaml:"distroless" json:"distroless"`
	// Slim adds a few tools (such as busybox) to the runtime.
	Slim Tier `yaml:"slim" json:"slim"`
	// Dev is the build-time tier with the toolchain; it must not be
	// deployable.
	Dev Tier `yaml:"dev" json:"dev"`
}

// Policy says whether a class of tooling is forbidden, allowed or required.
type Policy string

// Policy values.
const (
	Forbidden Policy = "forbidden"
	Allowed   Policy = "allowed"
	Required  Policy = "required"
)

// Tier is the rule set of one tier.
type Tier struct {
	// Packages are Nix attribute paths (in the fleet flake's package set)
	// added to every image of the tier.
	Packages []string `yaml:"packages,omitempty" json:"packages,omitempty"`
	// Shell says whether the images of the tier may hold a shell: forbidden
	// is checked by no-shell, required by shell-present, allowed is not
	// checked.
	Shell Policy `yaml:"shell" json:"shell" jsonschema:"enum=forbidden,enum=allowed,enum=required"`
	// PackageManager says whether the images of the tier may hold a package
	// manager (a command such as apt-get or pip, or a package-manager module
	// a runtime could run with -m): forbidden is checked by
	// no-package-manager; allowed and required are not checked.
	PackageManager Policy `yaml:"packageManager" json:"packageManager" jsonschema:"enum=forbidden,enum=allowed,enum=required"`
	// Coreutils says whether the images of the tier may hold the core
	// utilities (ls, cp, cat, ...): forbidden is checked by no-coreutils;
	// allowed and required are not checked.
	Coreutils Policy `yaml:"coreutils" json:"coreutils" jsonschema:"enum=forbidden,enum=allowed,enum=required"`
	// CredentialHelper adds clearcutt-credential-helper, the transient
	// registry credential helper, to the images of the tier (and the test
	// requires it there; false forbids it). Only the dev tier may set it.
	CredentialHelper bool `yaml:"credentialHelper,omitempty" json:"credentialHelper,omitempty"`
	// Deployable says the tier's images are meant for production; false
	// marks a build-time tier, which admission policies deny. The dev tier
	// must be false.
	Deployable bool `yaml:"deployable" json:"deployable"`
}

// Vulnerabilities is the fleet's vulnerability gate. Scans record the
// verdict they reached; verify applies the same policy to the findings of
// every verified scan, so a signed scan cannot pass an image this policy
// fails.
type Vulnerabilities struct {
	// FailOn is the lowest severity that fails the gate (default high).
	FailOn string `yaml:"failOn,omitempty" json:"failOn,omitempty" jsonschema:"enum=critical,enum=high,enum=medium,enum=low,enum=negligible,enum=any"`
	// OnlyFixable restricts failures to findings with a known fix (default
	// false).
	OnlyFixable bool `yaml:"onlyFixable,omitempty" json:"onlyFixable,omitempty"`
	// MaxDBAge is the oldest vulnerability database a scan may use, as a
	// Go duration such as 120h (default 120h).
	MaxDBAge string `yaml:"maxDBAge,omitempty" json:"maxDBAge,omitempty" jsonschema:"pattern=^[0-9]+(\\.[0-9]+)?(h|m|s)([0-9]+(\\.[0-9]+)?(m|s))*$"`
	// MaxScanAge is how old the newest scan of an image may be before its
	// vulnerabilities channel is pending (default 24h).
	MaxScanAge string `yaml:"maxScanAge,omitempty" json:"maxScanAge,omitempty" jsonschema:"pattern=^[0-9]+(\\.[0-9]+)?(h|m|s)([0-9]+(\\.[0-9]+)?(m|s))*$"`
}

// Runtime is one image line of the fleet.
type Runtime struct {
	// ID names the runtime: the image is published as <registry.repository>/<id>
	// and {runtime} in a tag is this id. Lowercase letters, digits and
	// hyphens, starting with a letter; unique in the fleet.
	ID string `yaml:"id" json:"id" jsonschema:"pattern=^[a-z][a-z0-9-]*$"`
	// Version is the runtime's version as the tags show it ({version}); it
	// must itself be a valid OCI tag (letters, digits, '_', '.', '-').
	// Quote it in YAML ("3.10", not 3.10).
	Version string `yaml:"version" json:"version" jsonschema:"minLength=1"`
	// Description says in one plain line what the runtime's images are for,
	// for people choosing a base image; the catalog and the site show it
	// beside every image of the runtime. At most 160 characters, no line
	// breaks or other control characters.
	Description string `yaml:"description,omitempty" json:"description,omitempty" jsonschema:"maxLength=160"`
	// Nix names the Nix attributes that provide the runtime.
	Nix RuntimeNix `yaml:"nix" json:"nix"`
	// Tiers lists the tiers built for this runtime (default: all three).
	Tiers []string `yaml:"tiers,omitempty" json:"tiers,omitempty" jsonschema:"uniqueItems=true,enum=distroless,enum=slim,enum=dev"`
	// Entrypoint is the image's entrypoint; its first element must be an
	// absolute path inside the image.
	Entrypoint []string `yaml:"entrypoint,omitempty" json:"entrypoint,omitempty"`
	// Cmd is the image's default arguments (the OCI Cmd).
	Cmd []string `yaml:"cmd,omitempty" json:"cmd,omitempty"`
	// Env are environment variables set in the image. A name is letters,
	// digits and underscores, not starting with a digit; SSL_CERT_FILE and
	// PATH are set by ClearCutt and cannot be overridden.
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// WorkingDir is the image's working directory, an absolute path.
	WorkingDir string `yaml:"workingDir,omitempty" json:"workingDir,omitempty"`
	// Smoke is the command the test stage runs inside every image of the
	// runtime to prove the runtime works; without it no smoke test runs.
	Smoke *Smoke `yaml:"smoke,omitempty" json:"smoke,omitempty"`
	// Base turns the runtime into an overlay: the closure layers go on top
	// of this base image instead of scratch. Without it the image starts
	// from scratch.
	Base *Base `yaml:"base,omitempty" json:"base,omitempty"`
}

// RuntimeNix names the Nix attributes that provide a runtime.
type RuntimeNix struct {
	// Attribute is the attribute path of the runtime in the fleet flake's
	// package set, e.g. python311.
	Attribute string `yaml:"attribute" json:"attribute" jsonschema:"pattern=^[A-Za-z_][A-Za-z0-9_'-]*(\\.[A-Za-z_][A-Za-z0-9_'-]*)*$"`
	// DevPackages are extra attribute paths added to the dev tier of this
	// runtime only (its toolchain).
	DevPackages []string `yaml:"devPackages,omitempty" json:"devPackages,omitempty"`
}

// Smoke is a command run inside the image (read-only root, non-root, no
// network) whose output must match Expect.
type Smoke struct {
	// Command is the command and its arguments, run without a shell; it must
	// exit 0.
	Command []string `yaml:"command" json:"command" jsonschema:"minItems=1"`
	// Expect is a regular expression (Go RE2 syntax) that must match
	// somewhere in the command's combined stdout and stderr; empty matches
	// any output, so only the exit status counts.
	Expect string `yaml:"expect,omitempty" json:"expect,omitempty"`
}

// Base is the image an overlay runtime builds on, pinned by digest.
type Base struct {
	// Image is REF@sha256:<digest>, or oci:DIR@sha256:<digest> for an OCI
	// layout (a relative DIR is resolved against clearcutt.yaml). It must be
	// pinned by a sha256 digest (64 hex digits).
	Image string `yaml:"image" json:"image"`
}
