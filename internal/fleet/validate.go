package fleet

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/clearcutt/clearcutt/internal/gate"
)

// Problem is one semantic error, located by field path.
type Problem struct {
	Path string
	Msg  string
}

// Defaults applied by SetDefaults.
const (
	DefaultLayerBudget = 40
	DefaultUID         = 65532
	DefaultUserName    = "nonroot"
	DefaultFlake       = "nix"
	// DefaultRescanWorkflow is the nightly rescan's reusable workflow.
	DefaultRescanWorkflow = ".github/workflows/rescan.yml"
	// Vulnerability gate defaults.
	DefaultFailOn     = "high"
	DefaultMaxDBAge   = "120h"
	DefaultMaxScanAge = "24h"
)

// DefaultTags is used when registry.tags is empty.
var DefaultTags = []string{"{version}-{tier}", "{tier}"}

// AllTiers is the closed set of tiers, in build order.
var AllTiers = []string{"distroless", "slim", "dev"}

// SetDefaults fills optional fields.
func (f *Fleet) SetDefaults() {
	if f.Build.LayerBudget == 0 {
		f.Build.LayerBudget = DefaultLayerBudget
	}
	if f.Build.User.Name == "" {
		f.Build.User.Name = DefaultUserName
	}
	if f.Build.User.UID == 0 {
		f.Build.User.UID = DefaultUID
	}
	if f.Build.User.GID == 0 {
		f.Build.User.GID = f.Build.User.UID
	}
	if f.Nix.Flake == "" {
		f.Nix.Flake = DefaultFlake
	}
	if len(f.Registry.Tags) == 0 {
		f.Registry.Tags = slices.Clone(DefaultTags)
	}
	if f.Identity.WorkflowRepository == "" {
		f.Identity.WorkflowRepository = f.Identity.Repository
	}
	if f.Identity.WorkflowRef == "" {
		f.Identity.WorkflowRef = f.Identity.Ref
	}
	if f.Identity.RescanWorkflow == "" {
		f.Identity.RescanWorkflow = DefaultRescanWorkflow
	}
	if f.Vulnerabilities.FailOn == "" {
		f.Vulnerabilities.FailOn = DefaultFailOn
	}
	if f.Vulnerabilities.MaxDBAge == "" {
		f.Vulnerabilities.MaxDBAge = DefaultMaxDBAge
	}
	if f.Vulnerabilities.MaxScanAge == "" {
		f.Vulnerabilities.MaxScanAge = DefaultMaxScanAge
	}
	for i := range f.Runtimes {
		if len(f.Runtimes[i].Tiers) == 0 {
			f.Runtimes[i].Tiers = slices.Clone(AllTiers)
		}
	}
}

// explicitZeros refuses an optional field written with its zero value.
// SetDefaults fills a field that is absent; one that is present says what
// its author meant, and the default would silently say something else —
// "uid: 0" asks for root and "tiers: []" for no tier — so it is an error,
// named at the field, never a default.
func (f *File) explicitZeros() []Problem {
	var ps []Problem
	check := func(path string, zero bool, format string, args ...any) {
		if _, present := f.pos[path]; present && zero {
			ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
		}
	}
	b, id, v := f.Build, f.Identity, f.Vulnerabilities
	check("build.layerBudget", b.LayerBudget == 0, "is 0; a layer budget is between 2 and 127 (omit the field for the default %d)", DefaultLayerBudget)
	check("build.user.name", b.User.Name == "", "is empty; omit the field for the default %s", DefaultUserName)
	check("build.user.uid", b.User.UID == 0, "is 0, the root user: images run as a non-root user (omit the field for the default %d)", DefaultUID)
	check("build.user.gid", b.User.GID == 0, "is 0, the root group: images run with a non-root group (omit the field for the default, the uid)")
	check("nix.flake", f.Nix.Flake == "", "is empty; omit the field for the default %s", DefaultFlake)
	check("registry.tags", len(f.Registry.Tags) == 0, "is empty; omit the field for the default tags %s", strings.Join(DefaultTags, ", "))
	check("identity.workflowRepository", id.WorkflowRepository == "", "is empty; omit the field for the default, identity.repository")
	check("identity.workflowRef", id.WorkflowRef == "", "is empty; omit the field for the default, identity.ref")
	check("identity.rescanWorkflow", id.RescanWorkflow == "", "is empty; omit the field for the default %s", DefaultRescanWorkflow)
	check("vulnerabilities.failOn", v.FailOn == "", "is empty; omit the field for the default %s", DefaultFailOn)
	check("vulnerabilities.maxDBAge", v.MaxDBAge == "", "is empty; omit the field for the default %s", DefaultMaxDBAge)
	check("vulnerabilities.maxScanAge", v.MaxScanAge == "", "is empty; omit the field for the default %s", DefaultMaxScanAge)
	for i, r := range f.Runtimes {
		check(fmt.Sprintf("runtimes[%d].tiers", i), len(r.Tiers) == 0, "is empty; omit the field to build the runtime in every tier (%s)", strings.Join(AllTiers, ", "))
	}
	return ps
}

var (
	reName      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	reID        = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	reRepo      = regexp.MustCompile(`^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$`)
	reWorkflow  = regexp.MustCompile(`^\.github/workflows/[^/]+\.ya?ml$`)
	reRef       = regexp.MustCompile(`^refs/(heads|tags)/[^\s]+$`)
	reCommit    = regexp.MustCompile(`^[0-9a-f]{40}$`)
	reAttr      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*$`)
	reEnvKey    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	reTag       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	reUser      = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)
	reDigestRef = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	rePlacehold = regexp.MustCompile(`\{[^}]*\}`)
)

// reservedEnv are set by the kit in every image and cannot be overridden.
var reservedEnv = []string{"SSL_CERT_FILE", "PATH"}

// Validate reports every semantic problem; it expects SetDefaults to have run.
func (f *Fleet) Validate() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if f.APIVersion != APIVersion {
		add("apiVersion", "must be %q, found %q", APIVersion, f.APIVersion)
	}
	if f.Kind != Kind {
		add("kind", "must be %q, found %q", Kind, f.Kind)
	}
	if !reName.MatchString(f.Metadata.Name) {
		add("metadata.name", "must match %s, found %q", reName, f.Metadata.Name)
	}
	if f.Metadata.Source != "" {
		if u, err := url.Parse(f.Metadata.Source); err != nil || u.Scheme != "https" || u.Host == "" {
			add("metadata.source", "must be an https URL, found %q", f.Metadata.Source)
		}
	}

	if p := LiteralProblem(f.Registry.Repository); p != "" {
		add("registry.repository", "%s; admission policies match <repository>/* and the repository must add no pattern of its own, found %q", p, f.Registry.Repository)
	} else if _, err := name.NewRepository(f.Registry.Repository, name.StrictValidation); err != nil || f.Registry.Repository == "" {
		add("registry.repository", "must be a registry repository such as ghcr.io/acme/images, found %q", f.Registry.Repository)
	}
	for i, t := range f.Registry.Tags {
		p := fmt.Sprintf("registry.tags[%d]", i)
		for _, ph := range rePlacehold.FindAllString(t, -1) {
			if !knownPlaceholder(ph) {
				add(p, "unknown placeholder %s (known: %s)", ph, placeholderNames())
			}
		}
		if x := expandTag(t, "r", "1.0", "slim"); !reTag.MatchString(x) {
			add(p, "expands to %q, which is not a valid tag", x)
		}
	}

	id := f.Identity
	// Every identity value reaches the admission policies verbatim: one
	// holding a pattern character is refused before its format is checked.
	// A defaulted field (workflowRepository, workflowRef) equal to its
	// source is reported once, at the source: its pattern characters here,
	// its format below.
	literal := map[string]bool{}
	for _, v := range []struct{ path, value, source string }{
		{"identity.issuer", id.Issuer, ""},
		{"identity.repository", id.Repository, ""},
		{"identity.workflowRepository", id.WorkflowRepository, id.Repository},
		{"identity.workflow", id.Workflow, ""},
		{"identity.rescanWorkflow", id.RescanWorkflow, ""},
		{"identity.ref", id.Ref, ""},
		{"identity.workflowRef", id.WorkflowRef, id.Ref},
	} {
		literal[v.path] = true
		if v.source != "" && v.value == v.source {
			literal[v.path] = LiteralProblem(v.source) == ""
			continue
		}
		if p := LiteralProblem(v.value); p != "" {
			add(v.path, "%s; an identity names exact values, found %q", p, v.value)
			literal[v.path] = false
		}
	}
	if u, err := url.Parse(id.Issuer); literal["identity.issuer"] && (err != nil || u.Scheme != "https" || u.Host == "") {
		add("identity.issuer", "must be an https URL, found %q", id.Issuer)
	}
	if literal["identity.repository"] && !reRepo.MatchString(id.Repository) {
		add("identity.repository", "must be owner/name, found %q", id.Repository)
	}
	if literal["identity.workflowRepository"] && id.WorkflowRepository != id.Repository && !reRepo.MatchString(id.WorkflowRepository) {
		add("identity.workflowRepository", "must be owner/name, found %q", id.WorkflowRepository)
	}
	if literal["identity.rescanWorkflow"] && id.RescanWorkflow != "" && !reWorkflow.MatchString(id.RescanWorkflow) {
		add("identity.rescanWorkflow", "must be a path like .github/workflows/rescan.yml, found %q", id.RescanWorkflow)
	}
	if id.RescanWorkflow != "" && id.RescanWorkflow == id.Workflow {
		add("identity.rescanWorkflow", "must differ from identity.workflow: the rescan identity may sign scans only")
	}
	if literal["identity.workflow"] && !reWorkflow.MatchString(id.Workflow) {
		add("identity.workflow", "must be a path like .github/workflows/publish.yml, found %q", id.Workflow)
	}
	if literal["identity.ref"] && !reRef.MatchString(id.Ref) {
		add("identity.ref", "must be a full git ref like refs/heads/main, found %q", id.Ref)
	}
	// A reusable workflow called by commit (uses: ...@<sha>) signs with
	// that full SHA as its ref; the caller's own ref (identity.ref) is
	// always a branch or tag.
	if literal["identity.workflowRef"] && id.WorkflowRef != id.Ref && !reRef.MatchString(id.WorkflowRef) && !reCommit.MatchString(id.WorkflowRef) {
		add("identity.workflowRef", "must be a full git ref like refs/tags/v1.0.0 or a 40-hex commit SHA, found %q", id.WorkflowRef)
	}

	b := f.Build
	if len(b.Architectures) == 0 {
		add("build.architectures", "must list at least one of amd64, arm64")
	}
	seen := map[string]bool{}
	for i, a := range b.Architectures {
		p := fmt.Sprintf("build.architectures[%d]", i)
		if _, ok := nixSystems[a]; !ok {
			add(p, "unsupported architecture %q (supported: amd64, arm64)", a)
		}
		if seen[a] {
			add(p, "duplicate architecture %q", a)
		}
		seen[a] = true
	}
	if b.LayerBudget < 2 || b.LayerBudget > 127 {
		add("build.layerBudget", "must be between 2 and 127, found %d", b.LayerBudget)
	}
	if b.SourceDateEpoch < 0 {
		add("build.sourceDateEpoch", "must not be negative, found %d", b.SourceDateEpoch)
	}
	if b.User.UID <= 0 {
		add("build.user.uid", "must be a non-root uid, found %d", b.User.UID)
	}
	// The gid defaults to the uid: a bad uid is reported once, at the uid.
	if b.User.GID <= 0 && b.User.GID != b.User.UID {
		add("build.user.gid", "must be a non-root gid, found %d", b.User.GID)
	}
	if !reUser.MatchString(b.User.Name) || b.User.Name == "root" {
		add("build.user.name", "must be a non-root user name, found %q", b.User.Name)
	}
	if strings.TrimSpace(f.Nix.Flake) == "" {
		add("nix.flake", "must name the fleet flake directory")
	}

	v := f.Vulnerabilities
	if _, err := gate.ParseFailOn(v.FailOn); err != nil {
		add("vulnerabilities.failOn", "must be critical, high, medium, low, negligible or any, found %q", v.FailOn)
	}
	for _, d := range []struct{ field, v string }{{"maxDBAge", v.MaxDBAge}, {"maxScanAge", v.MaxScanAge}} {
		if x, err := time.ParseDuration(d.v); err != nil || x <= 0 {
			add("vulnerabilities."+d.field, "must be a positive duration such as 24h, found %q", d.v)
		}
	}

	ps = append(ps, f.validateTiers()...)
	ps = append(ps, f.validateRuntimes()...)
	return ps
}

// GatePolicy is the vulnerability gate of the fleet (FailOn any is
// gate.Unknown: every active finding fails).
func (v Vulnerabilities) GatePolicy() (failOn gate.Severity, onlyFixable bool) {
	failOn, _ = gate.ParseFailOn(v.FailOn)
	return failOn, v.OnlyFixable
}

// Ages are the maximum database and scan ages (the defaults where unset or invalid).
func (v Vulnerabilities) Ages() (maxDBAge, maxScanAge time.Duration) {
	parse := func(s, def string) time.Duration {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			return d
		}
		d, _ := time.ParseDuration(def)
		return d
	}
	return parse(v.MaxDBAge, DefaultMaxDBAge), parse(v.MaxScanAge, DefaultMaxScanAge)
}

func (f *Fleet) validateTiers() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	for _, name := range AllTiers {
		t := f.Tier(name)
		p := "tiers." + name
		for field, v := range map[string]Policy{"shell": t.Shell, "packageManager": t.PackageManager, "coreutils": t.Coreutils} {
			if v != Forbidden && v != Allowed && v != Required {
				add(p+"."+field, "must be forbidden, allowed or required, found %q", v)
			}
		}
		for i, a := range t.Packages {
			if !reAttr.MatchString(a) {
				add(fmt.Sprintf("%s.packages[%d]", p, i), "not a Nix attribute path: %q", a)
			}
		}
		if t.CredentialHelper && name != "dev" {
			add(p+".credentialHelper", "only the dev tier may carry the credential helper")
		}
	}
	d := f.Tiers.Distroless
	for field, v := range map[string]Policy{"shell": d.Shell, "packageManager": d.PackageManager, "coreutils": d.Coreutils} {
		if v != Forbidden && v != "" {
			add("tiers.distroless."+field, "must be forbidden: a distroless image has no %s", field)
		}
	}
	if len(d.Packages) > 0 {
		add("tiers.distroless.packages", "must be empty: distroless holds the runtime and CA certificates only")
	}
	if f.Tiers.Dev.Deployable {
		add("tiers.dev.deployable", "must be false: the dev tier is build-time only")
	}
	return ps
}

func (f *Fleet) validateRuntimes() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if len(f.Runtimes) == 0 {
		add("runtimes", "must declare at least one runtime")
	}
	ids := map[string]int{}
	for i, r := range f.Runtimes {
		p := fmt.Sprintf("runtimes[%d]", i)
		if !reID.MatchString(r.ID) {
			add(p+".id", "must match %s, found %q", reID, r.ID)
		} else if j, dup := ids[r.ID]; dup {
			add(p+".id", "duplicate runtime id %q (also runtimes[%d])", r.ID, j)
		}
		ids[r.ID] = i
		if r.Version == "" || !reTag.MatchString(r.Version) {
			add(p+".version", "must be a non-empty version usable in a tag, found %q", r.Version)
		}
		if msg := descriptionProblem(r.Description); msg != "" {
			add(p+".description", "%s", msg)
		}
		if !reAttr.MatchString(r.Nix.Attribute) {
			add(p+".nix.attribute", "not a Nix attribute path: %q", r.Nix.Attribute)
		}
		for j, a := range r.Nix.DevPackages {
			if !reAttr.MatchString(a) {
				add(fmt.Sprintf("%s.nix.devPackages[%d]", p, j), "not a Nix attribute path: %q", a)
			}
		}
		seenTier := map[string]bool{}
		for j, t := range r.Tiers {
			tp := fmt.Sprintf("%s.tiers[%d]", p, j)
			if !slices.Contains(AllTiers, t) {
				add(tp, "unknown tier %q (tiers: distroless, slim, dev)", t)
			}
			if seenTier[t] {
				add(tp, "duplicate tier %q", t)
			}
			seenTier[t] = true
		}
		if len(r.Entrypoint) > 0 && !strings.HasPrefix(r.Entrypoint[0], "/") {
			add(p+".entrypoint[0]", "must be an absolute path inside the image, found %q", r.Entrypoint[0])
		}
		if r.WorkingDir != "" && !strings.HasPrefix(r.WorkingDir, "/") {
			add(p+".workingDir", "must be absolute, found %q", r.WorkingDir)
		}
		for k := range r.Env {
			if !reEnvKey.MatchString(k) {
				add(p+".env."+k, "not a valid environment variable name")
			}
			if slices.Contains(reservedEnv, k) {
				add(p+".env."+k, "is set by ClearCutt in every image and cannot be overridden")
			}
		}
		if r.Smoke != nil {
			if len(r.Smoke.Command) == 0 {
				add(p+".smoke.command", "must not be empty")
			}
			if _, err := regexp.Compile(r.Smoke.Expect); err != nil {
				add(p+".smoke.expect", "not a regular expression: %v", err)
			}
		}
		if r.Base != nil {
			if !reDigestRef.MatchString(r.Base.Image) {
				add(p+".base.image", "must be pinned by digest (REF@sha256:<64 hex>), found %q", r.Base.Image)
			} else if !strings.HasPrefix(r.Base.Image, "oci:") {
				if _, err := name.NewDigest(r.Base.Image); err != nil {
					add(p+".base.image", "not a valid image reference: %v", err)
				}
			}
		}
	}
	return ps
}

// MaxDescription is the longest runtime description, in characters: one
// line beside an image in the catalog site's table.
const MaxDescription = 160

// descriptionProblem is what is wrong with a runtime description, or "".
// It is one line of printable text: the site shows it beside each image.
func descriptionProblem(d string) string {
	if !utf8.ValidString(d) {
		return "must be valid UTF-8 text"
	}
	for _, r := range d {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Sprintf("must be one line of text without control characters, found %q", d)
		}
	}
	if n := utf8.RuneCountInString(d); n > MaxDescription {
		return fmt.Sprintf("is %d characters long; a description is one line of at most %d", n, MaxDescription)
	}
	if d != "" && strings.TrimSpace(d) == "" {
		return "is blank; omit the field or describe the runtime"
	}
	return ""
}

// Tier returns the rules of the named tier.
func (f *Fleet) Tier(name string) Tier {
	switch name {
	case "distroless":
		return f.Tiers.Distroless
	case "slim":
		return f.Tiers.Slim
	case "dev":
		return f.Tiers.Dev
	}
	return Tier{}
}

// Runtime returns the runtime with the given id.
func (f *Fleet) Runtime(id string) (Runtime, bool) {
	for _, r := range f.Runtimes {
		if r.ID == id {
			return r, true
		}
	}
	return Runtime{}, false
}

func expandTag(tmpl, runtime, version, tier string) string {
	return strings.NewReplacer("{runtime}", runtime, "{version}", version, "{tier}", tier).Replace(tmpl)
}
