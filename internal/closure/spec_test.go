package closure

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testFleet() *NixFleet {
	return &NixFleet{
		User: NixUser{Name: "nonroot", UID: 65532, GID: 65532},
		Tiers: map[string]NixTier{
			"distroless": {},
			"slim":       {Packages: []string{"busybox"}},
			"dev":        {Packages: []string{"bashInteractive", "coreutils", "gnumake"}, CredentialHelper: true},
		},
		Runtimes: map[string]NixRuntime{
			"python": {Attribute: "python3", Tiers: []string{"distroless", "slim", "dev"}, DevPackages: []string{"gcc"}},
			"nodejs": {Attribute: "nodejs-slim_24", Tiers: []string{"distroless", "dev"}, DevPackages: []string{"nodejs_24"}},
			"java":   {Attribute: "jdk17_headless", Tiers: []string{"distroless"}},
			"static": {Attribute: "tzdata", Tiers: []string{"distroless"}},
		},
	}
}

func TestWriteFleetJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fleet.json")
	if err := WriteFleetJSON(p, testFleet()); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	var back map[string]any
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back["schema"] != FleetSchema {
		t.Errorf("schema = %v", back["schema"])
	}
	// Nix maps over these lists: they must be [] rather than null.
	if s := string(raw); strings.Contains(s, "null") {
		t.Errorf("fleet.json holds null:\n%s", s)
	}
}

func TestFleetValidate(t *testing.T) {
	for _, c := range []struct {
		want   string
		mutate func(f *NixFleet)
	}{
		{"tiers.slim.credentialHelper", func(f *NixFleet) { f.Tiers["slim"] = NixTier{CredentialHelper: true} }},
		{"tiers.distroless.packages", func(f *NixFleet) { f.Tiers["distroless"] = NixTier{Packages: []string{"busybox"}} }},
		{"tiers.gold", func(f *NixFleet) { f.Tiers["gold"] = NixTier{} }},
		{"runtimes.python.attribute", func(f *NixFleet) {
			f.Runtimes["python"] = NixRuntime{Attribute: "python3; rm -rf /", Tiers: []string{"dev"}}
		}},
		{"runtimes.java.tiers[0]", func(f *NixFleet) {
			f.Runtimes["java"] = NixRuntime{Attribute: "jdk17_headless", Tiers: []string{"fat"}}
		}},
		{"user", func(f *NixFleet) { f.User.UID = 0 }},
		{"schema", func(f *NixFleet) { f.Schema = "clearcutt.dev/nix-fleet/v0" }},
	} {
		f := testFleet()
		c.mutate(f)
		err := f.Validate()
		if !errors.Is(err, ErrFleet) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want ErrFleet naming %s", err, c.want)
		}
	}
	if err := (&NixFleet{User: NixUser{Name: "nonroot", UID: 1, GID: 1}, Runtimes: map[string]NixRuntime{
		"pip": {Attribute: "python3Packages.pip", Tiers: []string{"dev"}}}, Tiers: map[string]NixTier{"dev": {}}}).Validate(); err != nil {
		t.Errorf("dotted attribute refused: %v", err)
	}
}
