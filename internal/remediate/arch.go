package remediate

import (
	"errors"
	"fmt"
	"strings"
)

// ErrArchitecture: an architecture a draft is asked to rebuild is empty,
// or is not one of the fleet's (build.architectures). The error names it
// and the fleet's architectures.
var ErrArchitecture = errors.New("not an architecture of the fleet")

// CheckArchitectures validates the architectures a draft is asked to
// rebuild against the fleet's (build.architectures). It returns them
// without blanks or repeats, in the order given; none means every
// architecture of each image.
func CheckArchitectures(fleet, want []string) ([]string, error) {
	var out []string
	for _, w := range want {
		w = strings.TrimSpace(w)
		if w == "" {
			return nil, fmt.Errorf("an empty architecture is %w (build.architectures: %s)", ErrArchitecture, strings.Join(fleet, ", "))
		}
		if !contains(fleet, w) {
			return nil, fmt.Errorf("%q is %w (build.architectures: %s)", w, ErrArchitecture, strings.Join(fleet, ", "))
		}
		if !contains(out, w) {
			out = append(out, w)
		}
	}
	return out, nil
}

// SelectArchitectures splits the architectures of one image into those a
// draft rebuilds and those it does not, both in the image's order. An
// empty want rebuilds every architecture; an architecture in want that the
// image does not have is an error.
func SelectArchitectures(image string, archs, want []string) (rebuilt, notRebuilt []string, err error) {
	if len(want) == 0 {
		return append([]string(nil), archs...), nil, nil
	}
	for _, w := range want {
		if !contains(archs, w) {
			return nil, nil, fmt.Errorf("%q: image %s has no %s image (its architectures: %s)", w, image, w, strings.Join(archs, ", "))
		}
	}
	for _, a := range archs {
		if contains(want, a) {
			rebuilt = append(rebuilt, a)
		} else {
			notRebuilt = append(notRebuilt, a)
		}
	}
	return rebuilt, notRebuilt, nil
}

// PlatformArch is the architecture of an OCI platform string
// (linux/arm64/v8 → arm64).
func PlatformArch(platform string) string {
	parts := strings.Split(platform, "/")
	if len(parts) < 2 {
		return platform
	}
	return parts[1]
}

// RebuiltArchitectures are the architectures the draft rebuilt and those
// it left out, each over all its images in the order first seen.
func (d Draft) RebuiltArchitectures() (rebuilt, notRebuilt []string) {
	for _, im := range d.Images {
		for _, a := range im.Architectures {
			if !contains(rebuilt, a) {
				rebuilt = append(rebuilt, a)
			}
		}
		for _, a := range im.NotRebuilt {
			if !contains(notRebuilt, a) {
				notRebuilt = append(notRebuilt, a)
			}
		}
	}
	return rebuilt, notRebuilt
}
