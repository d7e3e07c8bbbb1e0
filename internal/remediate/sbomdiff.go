package remediate

import "github.com/clearcutt/clearcutt/internal/sbom/spdxdiff"

// PackageChange is one package of an SBOM diff.
type PackageChange = spdxdiff.Change

// SBOMDiff compares the packages of two SPDX documents of one platform.
type SBOMDiff = spdxdiff.Delta

// DiffSBOMs compares the packages of the SPDX documents before and after:
// a package (by package URL type and name) is added, removed, or changed
// when its versions differ.
func DiffSBOMs(before, after []byte) (SBOMDiff, error) {
	return spdxdiff.Diff(before, after, "the SBOM before", "the SBOM after")
}
