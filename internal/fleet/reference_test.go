package fleet

import (
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
)

const referenceFile = "../../docs/fleet-reference.md"

func TestReferenceHasNotDrifted(t *testing.T) {
	got, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(referenceFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatalf("%v (generate it with: go test ./internal/fleet -run HasNotDrifted -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the Go types; regenerate with: go test ./internal/fleet -run HasNotDrifted -update", referenceFile)
	}
}

// TestEveryFieldIsDescribed: every property of the schema, and so every
// field of the reference, has a description from its Go doc comment.
func TestEveryFieldIsDescribed(t *testing.T) {
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]struct {
			Description string `json:"description"`
		} `json:"properties"`
		Defs map[string]struct {
			Description string `json:"description"`
			Properties  map[string]struct {
				Description string `json:"description"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for name, p := range s.Properties {
		if p.Description == "" {
			missing = append(missing, "Fleet."+name)
		}
	}
	for def, d := range s.Defs {
		if d.Description == "" {
			missing = append(missing, def)
		}
		for name, p := range d.Properties {
			if p.Description == "" {
				missing = append(missing, def+"."+name)
			}
		}
	}
	if len(s.Properties) == 0 || len(s.Defs) == 0 {
		t.Fatalf("schema has no properties or $defs: %s", b)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("fields without a description (add a doc comment in types.go): %s", strings.Join(missing, ", "))
	}
}

// TestReferenceListsEveryField: the reference names fields by YAML path,
// lists nested ones, and documents every tag placeholder.
func TestReferenceListsEveryField(t *testing.T) {
	b, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	ref := string(b)
	for _, want := range []string{
		"### `registry.tags`", "### `runtimes[].smoke.expect`", "### `build.layerBudget`",
		"### `tiers.dev.credentialHelper`", "### `tiers.slim.packageManager`", "### `runtimes[].base.image`",
		"- Default: `40`", "- Default: `{version}-{tier}`, `{tier}`", "- Allowed: 2 to 127",
		"- Allowed: one of `forbidden`, `allowed`, `required`",
	} {
		if !strings.Contains(ref, want) {
			t.Errorf("reference lacks %q", want)
		}
	}
	for _, p := range TagPlaceholders {
		if !strings.Contains(ref, "| `"+p.Name+"` |") {
			t.Errorf("reference does not document placeholder %s", p.Name)
		}
	}
	// The gid follows the uid: no constant default is claimed for it.
	_, gid, ok := strings.Cut(ref, "### `build.user.gid`")
	gid, _, _ = strings.Cut(gid, "\n### ")
	if !ok || strings.Contains(gid, "Default:") {
		t.Errorf("build.user.gid is missing or shows a constant default:%s", gid)
	}
}

// TestDefaultedFieldsAreOptional: a field SetDefaults fills is optional in
// the schema, so the schema, the reference and the decoder agree.
func TestDefaultedFieldsAreOptional(t *testing.T) {
	_, fields, err := referenceFields()
	if err != nil {
		t.Fatal(err)
	}
	defaults := derivedDefaults()
	seen := map[string]bool{}
	for _, f := range fields {
		seen[f.path] = true
		if _, ok := defaults[f.path]; ok && f.required {
			t.Errorf("%s has a default but the schema requires it (add omitempty to its tags)", f.path)
		}
	}
	for p := range defaults {
		if !seen[p] {
			t.Errorf("default for %s, which is not a field of the schema", p)
		}
	}
}

// TestNixMayBeLeftOut: nix and nix.flake have a default, so a fleet file
// without them loads with the default flake directory.
func TestNixMayBeLeftOut(t *testing.T) {
	const line = "nix: {flake: nix}\n"
	if !strings.Contains(valid, line) {
		t.Fatal("the test fleet no longer has the nix line this test removes")
	}
	f, err := Parse("clearcutt.yaml", []byte(strings.Replace(valid, line, "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Nix.Flake != DefaultFlake {
		t.Fatalf("nix.flake = %q, want the default %q", f.Nix.Flake, DefaultFlake)
	}
}
