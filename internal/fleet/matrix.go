package fleet

import (
	"fmt"
	"slices"
)

// nixSystems maps OCI architectures to Nix systems.
var nixSystems = map[string]string{
	"amd64": "x86_64-linux",
	"arm64": "aarch64-linux",
}

// runners are the GitHub-hosted runners that build each architecture natively.
var runners = map[string]string{
	"amd64": "ubuntu-24.04",
	"arm64": "ubuntu-24.04-arm",
}

// NixSystem returns the Nix system of an OCI architecture.
func NixSystem(arch string) (string, error) {
	s, ok := nixSystems[arch]
	if !ok {
		return "", fmt.Errorf("%w: unsupported architecture %q (supported: amd64, arm64)", ErrInvalid, arch)
	}
	return s, nil
}

// Image is one published image: a runtime in one tier, all architectures
// behind one index.
type Image struct {
	Runtime       string   `json:"runtime"`
	Version       string   `json:"version"`
	Tier          string   `json:"tier"`
	Repository    string   `json:"repository"`
	Tags          []string `json:"tags"`
	RefName       string   `json:"refName"`
	Architectures []string `json:"architectures"`
	Overlay       bool     `json:"overlay"`
	Deployable    bool     `json:"deployable"`
}

// Cell is one build: an image on one architecture.
type Cell struct {
	Runtime string `json:"runtime"`
	Version string `json:"version"`
	Tier    string `json:"tier"`
	Arch    string `json:"arch"`
	System  string `json:"system"`
	Runner  string `json:"runner"`
	// Registry is the registry repository prefix the fleet publishes to
	// (registry.repository): the --to of publish and index.
	Registry string `json:"registry"`
	// Repository is the image's registry repository (<registry>/<runtime>).
	Repository string `json:"repository"`
	// Attribute is the flake attribute path built for this cell.
	Attribute string `json:"attribute"`
}

// Name is the cell's identifier, runtime-tier-arch.
func (c Cell) Name() string { return c.Runtime + "-" + c.Tier + "-" + c.Arch }

// Images lists the fleet's images in declaration order (runtime, then tier order).
func (f *Fleet) Images() []Image {
	var out []Image
	for _, r := range f.Runtimes {
		for _, t := range AllTiers {
			if !slices.Contains(r.Tiers, t) {
				continue
			}
			tags := make([]string, 0, len(f.Registry.Tags))
			for _, tmpl := range f.Registry.Tags {
				tags = append(tags, expandTag(tmpl, r.ID, r.Version, t))
			}
			out = append(out, Image{
				Runtime:       r.ID,
				Version:       r.Version,
				Tier:          t,
				Repository:    f.Registry.Repository + "/" + r.ID,
				Tags:          tags,
				RefName:       r.ID + ":" + t,
				Architectures: slices.Clone(f.Build.Architectures),
				Overlay:       r.Base != nil,
				Deployable:    f.Tier(t).Deployable,
			})
		}
	}
	return out
}

// Cells expands the fleet into its build matrix.
func (f *Fleet) Cells() []Cell {
	var out []Cell
	for _, img := range f.Images() {
		for _, a := range img.Architectures {
			sys := nixSystems[a]
			out = append(out, Cell{
				Runtime:    img.Runtime,
				Version:    img.Version,
				Tier:       img.Tier,
				Arch:       a,
				System:     sys,
				Runner:     runners[a],
				Registry:   f.Registry.Repository,
				Repository: img.Repository,
				Attribute:  fmt.Sprintf("legacyPackages.%s.clearcutt.%s.%s.graph", sys, img.Runtime, img.Tier),
			})
		}
	}
	return out
}

// Image returns the image of runtime id in tier.
func (f *Fleet) Image(runtime, tier string) (Image, error) {
	for _, img := range f.Images() {
		if img.Runtime == runtime && img.Tier == tier {
			return img, nil
		}
	}
	if _, ok := f.Runtime(runtime); !ok {
		return Image{}, fmt.Errorf("%w: no runtime %q in the fleet", ErrInvalid, runtime)
	}
	return Image{}, fmt.Errorf("%w: runtime %q is not built in tier %q", ErrInvalid, runtime, tier)
}

// GitHubMatrix is the `strategy.matrix` value for Actions: one job per cell.
type GitHubMatrix struct {
	Include []Cell `json:"include"`
}

// GitHubMatrix returns the build matrix in the shape Actions expects.
func (f *Fleet) GitHubMatrix() GitHubMatrix { return GitHubMatrix{Include: f.Cells()} }
