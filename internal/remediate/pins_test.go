package remediate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

// The committed pins file is what RenderPins writes for no pins, so the
// first draft's diff holds only the new entry.
func TestCommittedPinsFileIsEmptyRendering(t *testing.T) {
	committed, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "nix", PinsFile))
	if err != nil {
		t.Fatal(err)
	}
	empty, err := RenderPins(nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(committed) != string(empty) {
		t.Fatalf("nix/%s differs from RenderPins(nil):\n%s\n---\n%s", PinsFile, committed, empty)
	}
}

// TestPinsRoundTripThroughNix writes pins, evaluates the file with nix
// and reads back the same pins.
func TestPinsRoundTripThroughNix(t *testing.T) {
	nx, _ := needNix(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pins.nix")
	if pins, err := nx.ReadPins(ctx, path); err != nil || pins != nil {
		t.Fatalf("missing file: %v, %v", pins, err)
	}
	want := []Pin{
		{Attribute: "openssl", Flake: "github:NixOS/nixpkgs/0123456789abcdef0123456789abcdef01234567?narHash=sha256-AAAA%2fBB%2bC%3d", Version: "3.0.8", Fixes: []string{"CVE-2023-0286"}},
		{Attribute: "libwebp", Flake: `path:/tmp/a "quoted" ${dir}?lastModified=0&narHash=sha256-x`, Version: "1.3.2", Fixes: []string{"CVE-2023-4863", "CVE-2023-1999"}},
	}
	data, err := RenderPins(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, data); err != nil {
		t.Fatal(err)
	}
	got, err := nx.ReadPins(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	sorted := []Pin{want[1], want[0]}
	if diff := cmp.Diff(sorted, got); diff != "" {
		t.Fatalf("read back (-want +got):\n%s", diff)
	}
	// Replacing a pin keeps one entry per attribute.
	next := WithPin(got, Pin{Attribute: "libwebp", Flake: "path:/x?narHash=sha256-y", Version: "1.3.3", Fixes: []string{"CVE-2099-1"}})
	if len(next) != 2 || next[0].Version != "1.3.3" || next[1].Attribute != "openssl" {
		t.Fatalf("WithPin = %+v", next)
	}

	for name, tc := range map[string]struct{ src, want string }{
		"unknown field": {`{ a = { flake = "path:/x?narHash=sha256-y"; version = "1"; fixes = [ ]; rev = "x"; }; }`, `unknown field "rev"`},
		"unlocked":      {`{ a = { flake = "github:NixOS/nixpkgs"; version = "1"; fixes = [ ]; }; }`, "not locked"},
		"no version":    {`{ a = { flake = "path:/x?narHash=sha256-y"; fixes = [ ]; }; }`, "a: no version"},
		"nested":        {`{ "a.b" = { flake = "path:/x?narHash=sha256-y"; version = "1"; fixes = [ ]; }; }`, "top-level attribute"},
		"not a set":     {`[ ]`, "want an attribute set"},
		"syntax":        {`{ a = ; }`, "syntax error"},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "pins.nix")
			if err := os.WriteFile(p, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := nx.ReadPins(ctx, p)
			if !errors.Is(err, ErrInvalidPins) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidPins naming %s and %q", err, p, tc.want)
			}
		})
	}
	if _, err := RenderPins([]Pin{{Attribute: "a", Flake: "path:/x", Version: "1"}}); !errors.Is(err, ErrInvalidPins) {
		t.Fatalf("an unlocked pin renders: %v", err)
	}
}

func TestLockedInput(t *testing.T) {
	lock, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "nix", LockFile))
	if err != nil {
		t.Fatal(err)
	}
	n, err := LockedInput(lock, "nixpkgs")
	if err != nil {
		t.Fatal(err)
	}
	if n.String() != "github:NixOS/nixpkgs/7c8764b7c7b09b34f632464276218ef9090eaa11" || !strings.HasPrefix(n.NarHash, "sha256-") {
		t.Fatalf("nixpkgs = %+v (%s)", n, n)
	}
	// Each refusal names the input.
	if _, err := LockedInput(lock, "flake-utils"); !errors.Is(err, ErrInvalidLock) || !strings.Contains(err.Error(), `no input "flake-utils"`) {
		t.Fatalf("missing input: %v", err)
	}
	follows := []byte(`{"nodes": {"root": {"inputs": {"nixpkgs": ["other", "nixpkgs"]}}}, "root": "root", "version": 7}`)
	if _, err := LockedInput(follows, "nixpkgs"); !errors.Is(err, ErrInvalidLock) || !strings.Contains(err.Error(), `input "nixpkgs" follows`) {
		t.Fatalf("follows: %v", err)
	}
	if _, err := LockedInput([]byte(`{"nodes": `), "nixpkgs"); !errors.Is(err, ErrInvalidLock) {
		t.Fatalf("not JSON: %v", err)
	}
	// The summary of a lock it cannot read says why, without the sentinel.
	if got, want := LockSummary(follows), `(input "nixpkgs" follows another input: lock it directly)`; got != want {
		t.Errorf("LockSummary = %s, want %s", got, want)
	}
}
