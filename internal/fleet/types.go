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
	APIVersion string   `yaml:"apiVersion" json:"apiVersion" jsonschema:"enum=clearcutt.dev/v1alpha1"`
	Kind       string   `yaml:"kind" json:"kind" jsonschema:"enum=Fleet"`
	Metadata   Metadata `yaml:"metadata" json:"metadata"`
	Registry   Registry `yaml:"registry" json:"registry"`
	Identity   Identity `yaml:"identity" json:"identity"`
	Build      Build    `yaml:"build" json:"build"`
	Nix        Nix      `yaml:"nix" json:"nix"`
	Tiers      Tiers    `yaml:"tiers" json:"tiers"`
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
	Name        string `yaml:"name" json:"name" jsonschema:"pattern=^[a-z0-9][a-z0-9-]*$"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Source is the repository URL recorded in org.opencontainers.image.source.
	Source string `yaml:"source,omitempty" json:"source,omitempty" jsonschema:"format=uri"`
}

// Registry says where images are published and how they are named.
type Registry struct {
	// Repository is the registry repository prefix; an image is published as
	// <repository>/<runtime id>.
	Repository string `yaml:"repository" json:"repository"`
	// Tags are templates expanded per image; placeholders {runtime},
	// {version} and {tier}. Tags move only after the whole index is stored.
	Tags []string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// Identity is the publishing identity: the GitHub Actions workflow whose
// OIDC token signs the fleet. Verification pins exactly these values.
type Identity struct {
	// Issuer is the OIDC issuer, https://token.actions.githubusercontent.com on GitHub.
	Issuer string `yaml:"issuer" json:"issuer" jsonschema:"format=uri,pattern=^https://[^\\s*?\\[\\]{}$\\\\]+$"`
	// Repository is the fleet repository, owner/name.
	Repository string `yaml:"repository" json:"repository" jsonschema:"pattern=^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$"`
	// Workflow is the path of the signing workflow inside WorkflowRepository.
	Workflow string `yaml:"workflow" json:"workflow" jsonschema:"pattern=^\\.github/workflows/[^/\\s*?\\[\\]{}$\\\\]+\\.ya?ml$"`
	// WorkflowRepository holds the reusable workflow that signs (the Build
	// Signer URI names it); defaults to Repository.
	WorkflowRepository string `yaml:"workflowRepository,omitempty" json:"workflowRepository,omitempty" jsonschema:"pattern=^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$"`
	// Ref is the git ref of the fleet repository that publishes, e.g.
	// refs/heads/main (the certificate's Source Repository Ref).
	Ref string `yaml:"ref" json:"ref" jsonschema:"pattern=^refs/(heads|tags)/[^\\s*?\\[\\]{}$\\\\]+$"`
	// WorkflowRef is the ref the signing workflow is called at when it is a
	// reusable workflow in WorkflowRepository (the ref in the Build Signer
	// URI): a full git ref such as refs/tags/v1.2.0, or the full 40-hex
	// commit SHA when the caller pins the workflow by commit
	// (uses: ...publish.yml@<sha>); defaults to Ref.
	WorkflowRef string `yaml:"workflowRef,omitempty" json:"workflowRef,omitempty" jsonschema:"pattern=^(refs/(heads|tags)/[^\\s*?\\[\\]{}$\\\\]+|[0-9a-f]{40})$"`
	// RescanWorkflow is the path, inside WorkflowRepository at WorkflowRef,
	// of the workflow that attaches fresh vulnerability scans without
	// rebuilding (default .github/workflows/rescan.yml). Its signatures are
	// trusted for the vulnerabilities and VEX channels only.
	RescanWorkflow string `yaml:"rescanWorkflow,omitempty" json:"rescanWorkflow,omitempty" jsonschema:"pattern=^\\.github/workflows/[^/\\s*?\\[\\]{}$\\\\]+\\.ya?ml$"`
}

// Build holds fleet-wide build settings.
type Build struct {
	Architectures []string `yaml:"architectures" json:"architectures" jsonschema:"minItems=1,uniqueItems=true,enum=amd64,enum=arm64"`
	// LayerBudget caps the layers of one image (default 40).
	LayerBudget int `yaml:"layerBudget,omitempty" json:"layerBudget,omitempty" jsonschema:"minimum=2,maximum=127"`
	// SourceDateEpoch fixes every timestamp in the images (default 0).
	SourceDateEpoch int64 `yaml:"sourceDateEpoch,omitempty" json:"sourceDateEpoch,omitempty" jsonschema:"minimum=0"`
	User            User  `yaml:"user,omitempty" json:"user,omitempty"`
}

// User is the non-root account every image runs as.
type User struct {
	Name string `yaml:"name,omitempty" json:"name,omitempty" jsonschema:"pattern=^[a-z_][a-z0-9_-]*$"`
	UID  int    `yaml:"uid,omitempty" json:"uid,omitempty" jsonschema:"minimum=1,maximum=2147483647"`
	GID  int    `yaml:"gid,omitempty" json:"gid,omitempty" jsonschema:"minimum=1,maximum=2147483647"`
}

// Nix locates the flake that builds the fleet.
type Nix struct {
	// Flake is the directory of the fleet flake, relative to clearcutt.yaml.
	Flake string `yaml:"flake" json:"flake"`
}

// Tiers holds the rules of the three tiers. The set is closed: every image
// is distroless, slim or dev.
type Tiers struct {
	Distroless Tier `yaml:"distroless" json:"distroless"`
	Slim       Tier `yaml:"slim" json:"slim"`
	Dev        Tier `yaml:"dev" json:"dev"`
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
	// Packages are Nix attributes added to every image of the tier.
	Packages       []string `yaml:"packages,omitempty" json:"packages,omitempty"`
	Shell          Policy   `yaml:"shell" json:"shell" jsonschema:"enum=forbidden,enum=allowed,enum=required"`
	PackageManager Policy   `yaml:"packageManager" json:"packageManager" jsonschema:"enum=forbidden,enum=allowed,enum=required"`
	Coreutils      Policy   `yaml:"coreutils" json:"coreutils" jsonschema:"enum=forbidden,enum=allowed,enum=required"`
	// CredentialHelper adds the transient credential helper (dev only).
	CredentialHelper bool `yaml:"credentialHelper,omitempty" json:"credentialHelper,omitempty"`
	// Deployable is false for build-time tiers; admission policies deny them.
	Deployable bool `yaml:"deployable" json:"deployable"`
}

// Vulnerabilities is the fleet's vulnerability gate. Scans record the
// verdict they reached; verify applies the same policy to the findings of
// every verified scan, so a signed scan cannot pass an image this policy
// fails.
type Vulnerabilities struct {
	// FailOn is the lowest severity that fails the gate (default high).
	FailOn string `yaml:"failOn,omitempty" json:"failOn,omitempty" jsonschema:"enum=critical,enum=high,enum=medium,enum=low,enum=negligible,enum=any"`
	// OnlyFixable restricts failures to findings with a known fix.
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
	ID      string     `yaml:"id" json:"id" jsonschema:"pattern=^[a-z][a-z0-9-]*$"`
	Version string     `yaml:"version" json:"version" jsonschema:"minLength=1"`
	Nix     RuntimeNix `yaml:"nix" json:"nix"`
	// Tiers lists the tiers built for this runtime (default: all three).
	Tiers      []string          `yaml:"tiers,omitempty" json:"tiers,omitempty" jsonschema:"uniqueItems=true,enum=distroless,enum=slim,enum=dev"`
	Entrypoint []string          `yaml:"entrypoint,omitempty" json:"entrypoint,omitempty"`
	Cmd        []string          `yaml:"cmd,omitempty" json:"cmd,omitempty"`
	Env        map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	WorkingDir string            `yaml:"workingDir,omitempty" json:"workingDir,omitempty"`
	Smoke      *Smoke            `yaml:"smoke,omitempty" json:"smoke,omitempty"`
	// Base turns the runtime into an overlay: the closure layers go on top
	// of this base image instead of scratch.
	Base *Base `yaml:"base,omitempty" json:"base,omitempty"`
}

// RuntimeNix names the Nix attributes that provide a runtime.
type RuntimeNix struct {
	// Attribute is the attribute path in the package set, e.g. python3.
	Attribute string `yaml:"attribute" json:"attribute" jsonschema:"pattern=^[A-Za-z_][A-Za-z0-9_'-]*(\\.[A-Za-z_][A-Za-z0-9_'-]*)*$"`
	// DevPackages are extra attributes for the dev tier (the toolchain).
	DevPackages []string `yaml:"devPackages,omitempty" json:"devPackages,omitempty"`
}

// Smoke is a command run inside the image (read-only root, non-root, no
// network) whose output must match Expect.
type Smoke struct {
	Command []string `yaml:"command" json:"command" jsonschema:"minItems=1"`
	// Expect is a regular expression matched against stdout and stderr.
	Expect string `yaml:"expect,omitempty" json:"expect,omitempty"`
}

// Base is the image an overlay runtime builds on, pinned by digest.
type Base struct {
	// Image is REF@sha256:<digest>, or oci:DIR@sha256:<digest> for an OCI
	// layout (a relative DIR is resolved against clearcutt.yaml).
	Image string `yaml:"image" json:"image"`
}
