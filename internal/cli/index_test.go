package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/stage"
)

func assembleJSON(t *testing.T, args ...string) stage.AssembleReport {
	t.Helper()
	code, out, errs := run(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("assemble %v: exit %d: %s", args, code, errs)
	}
	var r stage.AssembleReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestIndexCombinesPerArchitectureImages plays the native-runner flow: each
// architecture is built, assembled alone, tested and published by digest on
// its own; 'clearcutt index' then combines the platform images into the same
// index 'assemble' of both architectures makes, and refuses a missing
// architecture, a mislabelled image and an untested one.
func TestIndexCombinesPerArchitectureImages(t *testing.T) {
	repo := needPipelineTools(t)
	dir := t.TempDir()
	fleetFile := filepath.Join(repo, "clearcutt.yaml")
	closures, cache, ev := filepath.Join(dir, "closures"), filepath.Join(dir, "cache"), filepath.Join(dir, "evidence")
	archs := []string{"amd64", "arm64"}
	for _, arch := range archs {
		if code, _, errs := run(t, "-f", fleetFile, "build", "--runtime", "static", "--tier", "distroless", "--arch", arch,
			"--nixpkgs", filepath.Join(repo, "nix/fixtures"), "--out", closures); code != 0 {
			t.Fatalf("build %s: %s", arch, errs)
		}
	}
	common := []string{"-f", fleetFile, "assemble", "--runtime", "static", "--tier", "distroless", "--closures", closures, "--cache", cache, "--revision", "0123abcd"}
	both := assembleJSON(t, append(common, "--stage", filepath.Join(dir, "stage-both"))...)
	if len(both.Platforms) != 2 {
		t.Fatalf("assemble of both: %+v", both)
	}

	host := ocitest.StartDistribution(t)
	var platformRefs []string
	for i, arch := range archs {
		one := assembleJSON(t, append(common, "--arch", arch, "--stage", filepath.Join(dir, "stage-"+arch))...)
		if len(one.Platforms) != 1 || one.Platforms[0].Arch != arch {
			t.Fatalf("assemble --arch %s: %+v", arch, one.Platforms)
		}
		if one.Platforms[0].Digest != both.Platforms[i].Digest {
			t.Fatalf("%s: platform digest %s alone, %s with the other architecture", arch, one.Platforms[0].Digest, both.Platforms[i].Digest)
		}
		if code, _, errs := run(t, "-f", fleetFile, "test", one.Reference, "--evidence", ev, "--no-smoke"); code != 0 {
			t.Fatalf("test %s: %s", arch, errs)
		}
		if code, _, errs := run(t, "-f", fleetFile, "publish", one.Reference, "--to", host+"/fleet", "--evidence", ev, "--digest-only"); code != 0 {
			t.Fatalf("publish %s: %s", arch, errs)
		}
		// amd64 by its one-platform index, arm64 by its image manifest.
		d := one.Digest
		if arch == "arm64" {
			d = one.Platforms[0].Digest
		}
		platformRefs = append(platformRefs, host+"/fleet/static@"+d)
	}
	// Published by digest only: stored, but no tag moved.
	for _, r := range platformRefs {
		if _, err := remote.Head(mustDigestRef(t, r)); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
	}
	for _, tag := range []string{"distroless", "3.11-distroless", "latest"} {
		if _, err := remote.Head(mustTag(t, host+"/fleet/static:"+tag)); err == nil {
			t.Fatalf("tag %s moved by a digest-only publish", tag)
		}
	}

	index := func(args ...string) (int, stage.IndexReport, string) {
		t.Helper()
		code, out, errs := run(t, append([]string{"-f", fleetFile, "index", "--json"}, args...)...)
		var r stage.IndexReport
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
		}
		return code, r, errs
	}
	withPlatforms := func(refs []string, args ...string) []string {
		for _, r := range refs {
			args = append(args, "--platform", r)
		}
		return args
	}

	// A release holds the tags back: first by digest only...
	code, held, errs := index(withPlatforms(platformRefs, "--runtime", "static", "--tier", "distroless", "--to", host+"/fleet", "--evidence", ev, "--digest-only")...)
	if code != 0 || held.Digest != both.Digest {
		t.Fatalf("index --digest-only: exit %d %+v: %s", code, held, errs)
	}
	if _, err := remote.Head(mustTag(t, host+"/fleet/static:distroless")); err == nil {
		t.Fatal("index --digest-only moved a tag")
	}
	// ...then, once signed and verified, the tags move to exactly that
	// digest; another expected digest writes nothing.
	other := "sha256:" + strings.Repeat("0", 64)
	code, _, errs = index(withPlatforms(platformRefs, "--runtime", "static", "--tier", "distroless", "--to", host+"/fleet", "--evidence", ev, "--expect-digest", other)...)
	if code != ExitFailed || !strings.Contains(errs, "not the expected "+other) {
		t.Fatalf("index --expect-digest (wrong): exit %d: %s", code, errs)
	}
	if _, err := remote.Head(mustTag(t, host+"/fleet/static:distroless")); err == nil {
		t.Fatal("a refused --expect-digest moved a tag")
	}
	code, rep, errs := index(withPlatforms(platformRefs, "--runtime", "static", "--tier", "distroless", "--to", host+"/fleet", "--evidence", ev, "--expect-digest", held.Digest)...)
	if code != 0 {
		t.Fatalf("index: exit %d: %s", code, errs)
	}
	if rep.Digest != both.Digest {
		t.Fatalf("index over the published platform images is %s, assemble of both gave %s", rep.Digest, both.Digest)
	}
	if rep.Platforms["linux/amd64"] != both.Platforms[0].Digest || rep.Platforms["linux/arm64/v8"] != both.Platforms[1].Digest {
		t.Errorf("platforms %v", rep.Platforms)
	}
	tag, err := name.NewTag(host+"/fleet/static:distroless", name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	if desc, err := remote.Head(tag); err != nil || desc.Digest.String() != both.Digest {
		t.Fatalf("tag %s: %v %v, want %s", tag, desc, err, both.Digest)
	}

	// A missing architecture is named; nothing is written.
	layoutDest := filepath.Join(dir, "published")
	code, _, errs = index(withPlatforms(platformRefs[:1], "--runtime", "static", "--tier", "distroless", "--to", "oci:"+layoutDest, "--evidence", ev)...)
	if code != ExitUsage || !strings.Contains(errs, "architecture arm64") {
		t.Fatalf("index without arm64: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(layoutDest); !os.IsNotExist(err) {
		t.Errorf("destination written for a partial index")
	}
	// Unless explicitly allowed: the index then is the one-platform index.
	code, rep, errs = index(withPlatforms(platformRefs[:1], "--runtime", "static", "--tier", "distroless", "--to", "oci:"+layoutDest, "--evidence", ev, "--allow-partial-unsafe")...)
	if code != 0 || len(rep.Missing) != 1 || rep.Missing[0] != "arm64" || len(rep.Platforms) != 1 {
		t.Fatalf("partial index: exit %d %+v: %s", code, rep, errs)
	}
	if want := strings.TrimPrefix(platformRefs[0], host+"/fleet/static@"); rep.Digest != want {
		t.Errorf("partial index %s, want the one-platform index %s", rep.Digest, want)
	}

	// The images say static/distroless: they cannot become python's index.
	code, _, errs = index(withPlatforms(platformRefs, "--runtime", "python", "--tier", "distroless", "--to", host+"/fleet", "--evidence", ev)...)
	if code != ExitUsage || !strings.Contains(errs, `dev.clearcutt.runtime="static", want "python"`) {
		t.Fatalf("mislabelled platform: exit %d: %s", code, errs)
	}
	// Two images of one architecture.
	code, _, errs = index(withPlatforms([]string{platformRefs[0], platformRefs[0]}, "--runtime", "static", "--tier", "distroless", "--to", host+"/fleet", "--evidence", ev)...)
	if code != ExitUsage || !strings.Contains(errs, "are both amd64") {
		t.Fatalf("duplicate architecture: exit %d: %s", code, errs)
	}
	// Without test evidence the gate fails.
	code, _, errs = index(withPlatforms(platformRefs, "--runtime", "static", "--tier", "distroless", "--to", host+"/other", "--evidence", t.TempDir())...)
	if code != ExitFailed || !strings.Contains(errs, "no passing test result") {
		t.Fatalf("untested platforms: exit %d: %s", code, errs)
	}
	if _, err := remote.Head(mustTag(t, host+"/other/static:distroless")); err == nil {
		t.Errorf("an ungated index was tagged")
	}
	// assemble --arch refuses an architecture the fleet does not build.
	if code, _, errs := run(t, append(common, "--arch", "riscv64", "--stage", filepath.Join(dir, "stage-x"))...); code != ExitUsage || !strings.Contains(errs, `"riscv64"`) {
		t.Fatalf("assemble --arch riscv64: exit %d: %s", code, errs)
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func mustDigestRef(t *testing.T, s string) name.Digest {
	t.Helper()
	r, err := name.NewDigest(s, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
