package closure

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"

	"github.com/clearcutt/clearcutt/internal/fsutil"
)

// FleetSchema is the schema identifier of fleet.json, the fleet as
// nix/flake.nix reads it. The CLI writes it from clearcutt.yaml into a
// staged copy of nix/ before every build, so the fleet is declared once.
const FleetSchema = "clearcutt.dev/nix-fleet/v1"

// NixFleet is fleet.json.
type NixFleet struct {
	Schema   string                `json:"schema"`
	User     NixUser               `json:"user"`
	Tiers    map[string]NixTier    `json:"tiers"`
	Runtimes map[string]NixRuntime `json:"runtimes"`
}

// NixUser is the unprivileged account every image carries.
type NixUser struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

// NixTier lists the package-set attributes a tier adds. CredentialHelper
// adds the transient registry credential helper (dev only).
type NixTier struct {
	Packages         []string `json:"packages"`
	CredentialHelper bool     `json:"credentialHelper,omitempty"`
}

// NixRuntime names the runtime's package-set attribute (a dotted path such
// as "python3" or "python3Packages.pip"), the tiers it is built in, and
// packages added only to its dev tier.
type NixRuntime struct {
	Attribute   string   `json:"attribute"`
	Tiers       []string `json:"tiers"`
	DevPackages []string `json:"devPackages"`
}

var (
	idRe   = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	attrRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*$`)
	// Tiers is the set of tier names nix/lib knows.
	knownTiers = map[string]bool{"distroless": true, "slim": true, "dev": true}
)

// Validate checks names, attributes and tier references.
func (f *NixFleet) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrFleet, fmt.Sprintf(format, a...))
	}
	if f.Schema != "" && f.Schema != FleetSchema {
		return bad("schema is %q, want %q", f.Schema, FleetSchema)
	}
	if f.User.Name == "" || !idRe.MatchString(f.User.Name) || f.User.UID <= 0 || f.User.GID <= 0 {
		return bad("user: want a lower-case name and a non-zero uid and gid, got %+v", f.User)
	}
	for name, t := range f.Tiers {
		if !knownTiers[name] {
			return bad("tiers.%s: unknown tier (want distroless, slim or dev)", name)
		}
		if t.CredentialHelper && name != "dev" {
			return bad("tiers.%s.credentialHelper: only the dev tier may carry the credential helper", name)
		}
		if name == "distroless" && len(t.Packages) > 0 {
			return bad("tiers.distroless.packages: the distroless tier takes no packages")
		}
		for i, a := range t.Packages {
			if !attrRe.MatchString(a) {
				return bad("tiers.%s.packages[%d]: %q is not an attribute path", name, i, a)
			}
		}
	}
	if len(f.Runtimes) == 0 {
		return bad("runtimes is empty")
	}
	for id, r := range f.Runtimes {
		if !idRe.MatchString(id) {
			return bad("runtimes: %q is not a valid runtime id", id)
		}
		if !attrRe.MatchString(r.Attribute) {
			return bad("runtimes.%s.attribute: %q is not an attribute path", id, r.Attribute)
		}
		if len(r.Tiers) == 0 {
			return bad("runtimes.%s.tiers is empty", id)
		}
		for i, t := range r.Tiers {
			if _, ok := f.Tiers[t]; !ok {
				return bad("runtimes.%s.tiers[%d]: tier %q is not declared under tiers", id, i, t)
			}
		}
		for i, a := range r.DevPackages {
			if !attrRe.MatchString(a) {
				return bad("runtimes.%s.devPackages[%d]: %q is not an attribute path", id, i, a)
			}
		}
	}
	return nil
}

// MarshalFleet validates f and returns fleet.json's bytes. Nil lists are
// written as [] (Nix maps over them).
func MarshalFleet(f *NixFleet) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	c := NixFleet{Schema: FleetSchema, User: f.User, Tiers: map[string]NixTier{}, Runtimes: map[string]NixRuntime{}}
	for k, t := range f.Tiers {
		t.Packages = nonNil(t.Packages)
		c.Tiers[k] = t
	}
	for k, r := range f.Runtimes {
		r.Tiers = nonNil(r.Tiers)
		r.DevPackages = nonNil(r.DevPackages)
		c.Runtimes[k] = r
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// WriteFleetJSON validates f and writes it to path atomically.
func WriteFleetJSON(path string, f *NixFleet) error {
	data, err := MarshalFleet(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return fsutil.WriteFileAtomic(path, data, 0o644)
}

// RuntimeIDs returns the fleet's runtime ids, sorted.
func (f *NixFleet) RuntimeIDs() []string {
	ids := make([]string, 0, len(f.Runtimes))
	for id := range f.Runtimes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
