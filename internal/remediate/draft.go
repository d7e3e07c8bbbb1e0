package remediate

import (
	"fmt"
	"sort"
	"strings"
)

// Strategies of a draft.
const (
	// StrategyLock locks the flake's nixpkgs input to the newer revision.
	StrategyLock = "lock"
	// StrategyPin takes the one package from the newer set in
	// nix/overlays/pins.nix.
	StrategyPin = "pin"
)

// Change is the edit a draft makes to the fleet repository.
type Change struct {
	Strategy string `json:"strategy"`
	// File is the file edited, relative to the repository root.
	File string `json:"file"`
	// Before and After describe the edited setting.
	Before string `json:"before"`
	After  string `json:"after"`
	// Content is the new content of File.
	Content []byte `json:"-"`
}

// PlatformEvidence is one architecture of a rebuilt image.
type PlatformEvidence struct {
	Platform string `json:"platform"`
	// Before is the published platform digest, After the rebuilt one.
	Before string `json:"before,omitempty"`
	After  string `json:"after"`
	// SBOM is the package diff (nil when the catalog holds no verified
	// SBOM for the published platform; SBOMNote then says so).
	SBOM     *SBOMDiff `json:"sbom,omitempty"`
	SBOMNote string    `json:"sbomNote,omitempty"`
}

// ImageEvidence is one rebuilt image.
type ImageEvidence struct {
	Image string `json:"image"`
	// Published is the catalog's reference of the published index.
	Published string `json:"published"`
	// Rebuilt is the rebuilt index by digest in the draft's work layout.
	Rebuilt string `json:"rebuilt"`
	// Architectures are the architectures rebuilt, tested and scanned;
	// NotRebuilt those of the image the draft left out (remediate draft
	// --arch), for which it holds no evidence.
	Architectures []string           `json:"architectures"`
	NotRebuilt    []string           `json:"notRebuilt,omitempty"`
	Platforms     []PlatformEvidence `json:"platforms"`
	// TestsPassed and ScanPassed are the tier-test and vulnerability gates
	// of the rebuilt image; Gate lists why one failed.
	TestsPassed bool     `json:"testsPassed"`
	ScanPassed  bool     `json:"scanPassed"`
	ScanPolicy  string   `json:"scanPolicy"`
	Gate        []string `json:"gate,omitempty"`
	Delta       Delta    `json:"delta"`
}

// Draft is a remediation change and the evidence for its review.
type Draft struct {
	Package   string   `json:"package"`
	Attribute string   `json:"attribute"`
	From      []string `json:"from"`
	To        string   `json:"to"`
	// Fixes are the vulnerability ids the plan expects the change to fix.
	Fixes    []string        `json:"fixes"`
	Action   Action          `json:"action"`
	Change   Change          `json:"change"`
	Images   []ImageEvidence `json:"images"`
	Commands []string        `json:"reproduce"`
	// Architectures are the architectures rebuilt and NotRebuilt those
	// left out, over all images (RebuiltArchitectures).
	Architectures []string `json:"architectures"`
	NotRebuilt    []string `json:"notRebuilt,omitempty"`
	// Newer is the package set the fix comes from.
	Newer Locked `json:"newer"`
}

// Refusals are the reasons the change must not be proposed: a rebuilt
// image fails a gate, carries an active finding it did not carry before,
// or still carries a vulnerability the change was to fix.
func (d Draft) Refusals() []string {
	var out []string
	for _, im := range d.Images {
		if !im.TestsPassed || !im.ScanPassed {
			out = append(out, fmt.Sprintf("%s fails a gate: %s", im.Image, strings.Join(im.Gate, "; ")))
		}
		for _, f := range im.Delta.New {
			out = append(out, fmt.Sprintf("%s: %s in %s %s is a new active finding", im.Image, f.ID, f.Package, f.After))
		}
		for _, f := range im.Delta.StillActive {
			if contains(d.Fixes, f.ID) && f.Package == d.Package {
				out = append(out, fmt.Sprintf("%s still carries %s in %s %s", im.Image, f.ID, f.Package, f.After))
			}
		}
	}
	return out
}

// Title is the pull request's title.
func (d Draft) Title() string {
	return fmt.Sprintf("remediate: %s %s → %s (%s)", d.Package, strings.Join(d.From, ", "), d.To, strings.Join(d.Fixes, ", "))
}

// FixedEverywhere lists, per vulnerability the draft fixes, the images
// it is gone from.
func (d Draft) FixedEverywhere() map[string][]string {
	out := map[string][]string{}
	for _, im := range d.Images {
		for _, f := range im.Delta.Fixed {
			out[f.ID] = append(out[f.ID], im.Image)
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
