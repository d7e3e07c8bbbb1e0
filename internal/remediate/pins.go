package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Paths inside the fleet's flake directory.
const (
	// PinsFile is the overlay data `remediate draft --strategy pin` edits.
	PinsFile = "overlays/pins.nix"
	// OverlayFile applies PinsFile to the package set.
	OverlayFile = "overlays/default.nix"
	// LockFile is the flake's lock file `--strategy lock` edits.
	LockFile = "flake.lock"
)

// ErrInvalidPins is wrapped by every error about the pins file.
var ErrInvalidPins = errors.New("invalid pins file")

// Pin is one entry of nix/overlays/pins.nix: the attribute is taken from
// the package set of Flake, which must have it at Version.
type Pin struct {
	Attribute string   `json:"attribute"`
	Flake     string   `json:"flake"`
	Version   string   `json:"version"`
	Fixes     []string `json:"fixes"`
}

// topAttrRE is a top-level attribute name: a pin replaces one.
var topAttrRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_'-]*$`)

// ReadPins evaluates the pins file at path with nix and checks every
// entry. A missing file holds no pins.
func (n Nix) ReadPins(ctx context.Context, path string) ([]Pin, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	out, err := n.run(ctx, "", "eval", "--json", "--file", path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidPins, path, err)
	}
	return parsePins(path, out)
}

func parsePins(path string, data []byte) ([]Pin, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %s: want an attribute set of pins: %v", ErrInvalidPins, path, err)
	}
	var pins []Pin
	for attr, v := range raw {
		var e struct {
			Flake   *string  `json:"flake"`
			Version *string  `json:"version"`
			Fixes   []string `json:"fixes"`
		}
		dec := json.NewDecoder(strings.NewReader(string(v)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%w: %s: %s: want { flake, version, fixes }: %v", ErrInvalidPins, path, attr, err)
		}
		p := Pin{Attribute: attr, Fixes: e.Fixes}
		if e.Flake != nil {
			p.Flake = *e.Flake
		}
		if e.Version != nil {
			p.Version = *e.Version
		}
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidPins, path, err)
		}
		pins = append(pins, p)
	}
	sort.Slice(pins, func(i, j int) bool { return pins[i].Attribute < pins[j].Attribute })
	return pins, nil
}

func (p Pin) validate() error {
	switch {
	case !topAttrRE.MatchString(p.Attribute):
		return fmt.Errorf("%q: a pin replaces a top-level attribute of the package set", p.Attribute)
	case p.Flake == "":
		return fmt.Errorf("%s: no flake", p.Attribute)
	case !strings.Contains(p.Flake, "narHash="):
		return fmt.Errorf("%s: flake %q is not locked (no narHash): nix evaluates only locked references", p.Attribute, p.Flake)
	case p.Version == "":
		return fmt.Errorf("%s: no version", p.Attribute)
	}
	return nil
}

// pinsHeader starts the pins file.
const pinsHeader = `# Version pins. Each entry takes one attribute of the fleet's package set
# from another, locked package set, usually a newer nixpkgs revision that
# carries a fix the locked nixpkgs (nix/flake.lock) lacks; default.nix here
# applies them (docs/remediation.md). ` + "`clearcutt remediate draft --strategy" + `
# pin` + "`" + ` adds entries. Remove an entry once nix/flake.lock carries the version.
#
#   <attribute> = {
#     flake = "<locked flake reference, with its narHash>";
#     version = "<the attribute's version there, checked on evaluation>";
#     fixes = [ "<vulnerability id>" ];
#   };
`

// RenderPins is the pins file holding pins, sorted by attribute.
func RenderPins(pins []Pin) ([]byte, error) {
	sorted := append([]Pin(nil), pins...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Attribute < sorted[j].Attribute })
	var b strings.Builder
	b.WriteString(pinsHeader)
	if len(sorted) == 0 {
		b.WriteString("{ }\n")
		return []byte(b.String()), nil
	}
	b.WriteString("{\n")
	for i, p := range sorted {
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidPins, err)
		}
		if i > 0 && sorted[i-1].Attribute == p.Attribute {
			return nil, fmt.Errorf("%w: %s is pinned twice", ErrInvalidPins, p.Attribute)
		}
		fmt.Fprintf(&b, "  %s = {\n", p.Attribute)
		fmt.Fprintf(&b, "    flake = %s;\n", nixString(p.Flake))
		fmt.Fprintf(&b, "    version = %s;\n", nixString(p.Version))
		fmt.Fprintf(&b, "    fixes = %s;\n", nixList(p.Fixes))
		b.WriteString("  };\n")
	}
	b.WriteString("}\n")
	return []byte(b.String()), nil
}

// WithPin returns pins with p added, replacing a pin of the same attribute.
func WithPin(pins []Pin, p Pin) []Pin {
	out := []Pin{p}
	for _, q := range pins {
		if q.Attribute != p.Attribute {
			out = append(out, q)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attribute < out[j].Attribute })
	return out
}
