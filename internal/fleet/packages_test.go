package fleet

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCheckAttributes: an attribute the package set lacks, or cannot
// evaluate, on a system of the fleet is reported at the field of
// clearcutt.yaml that names it, with the systems; one present everywhere,
// or left out of the evaluation, is not.
func TestCheckAttributes(t *testing.T) {
	src := strings.Replace(valid, "    nix: {attribute: python3}", "    nix: {attribute: pyhton3, devPackages: [gcc, removedTool]}", 1)
	f, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Systems(), []string{"x86_64-linux", "aarch64-linux"}; !cmp.Equal(got, want) {
		t.Errorf("Systems() = %v, want %v", got, want)
	}
	wantUses := []AttrUse{
		{"tiers.slim.packages[0]", "busybox"},
		{"tiers.dev.packages[0]", "bashInteractive"},
		{"runtimes[0].nix.attribute", "pyhton3"},
		{"runtimes[0].nix.devPackages[0]", "gcc"},
		{"runtimes[0].nix.devPackages[1]", "removedTool"},
	}
	if diff := cmp.Diff(wantUses, f.Attributes()); diff != "" {
		t.Errorf("Attributes() (-want +got):\n%s", diff)
	}
	ok := map[string]string{"busybox": AttrPresent, "bashInteractive": AttrPresent, "gcc": AttrPresent}
	states := map[string]map[string]string{
		"x86_64-linux":  {"pyhton3": AttrMissing, "removedTool": AttrFails},
		"aarch64-linux": {"pyhton3": AttrMissing, "removedTool": AttrPresent, "gcc": AttrMissing},
	}
	for k, v := range ok {
		states["x86_64-linux"][k] = v
		if _, set := states["aarch64-linux"][k]; !set {
			states["aarch64-linux"][k] = v
		}
	}
	err = f.CheckAttributes(states, "the set")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want an invalid fleet file", err)
	}
	want := strings.Join([]string{
		`f.yaml:20:22: runtimes[0].nix.attribute: the package set (the set) has no attribute "pyhton3" on x86_64-linux, aarch64-linux`,
		`f.yaml:20:45: runtimes[0].nix.devPackages[0]: the package set (the set) has no attribute "gcc" on aarch64-linux`,
		`f.yaml:20:50: runtimes[0].nix.devPackages[1]: the package set (the set) has the attribute "removedTool", but evaluating it fails on x86_64-linux (a removed package's alias, or a broken or insecure package)`,
	}, "\n")
	if err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
	if err := f.CheckAttributes(map[string]map[string]string{}, "the set"); err != nil {
		t.Errorf("attributes the evaluation left out are reported: %v", err)
	}
}

// TestStatesExpr evaluates the package-set function with nix against a
// small set: a present attribute, a nested one, a missing one, one missing
// below an attribute that is no set, and one whose evaluation throws.
