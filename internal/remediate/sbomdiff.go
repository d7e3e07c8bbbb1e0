package remediate

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// PackageChange is one package of an SBOM diff.
type PackageChange struct {
	Name string `json:"name"`
	// Type is the package URL type (nix, pypi, deb, ...; "" without one).
	Type   string   `json:"type,omitempty"`
	Before []string `json:"before,omitempty"`
	After  []string `json:"after,omitempty"`
}

// SBOMDiff compares the packages of two SPDX documents of one platform.
type SBOMDiff struct {
	Added   []PackageChange `json:"added"`
	Removed []PackageChange `json:"removed"`
	Changed []PackageChange `json:"changed"`
	// Unchanged counts the packages with the same versions.
	Unchanged int `json:"unchanged"`
}

// Empty reports a diff without changes.
func (d SBOMDiff) Empty() bool { return len(d.Added)+len(d.Removed)+len(d.Changed) == 0 }

type spdxDoc struct {
	SPDXVersion string `json:"spdxVersion"`
	Packages    []struct {
		Name         string `json:"name"`
		VersionInfo  string `json:"versionInfo"`
		Purpose      string `json:"primaryPackagePurpose"`
		ExternalRefs []struct {
			Type    string `json:"referenceType"`
			Locator string `json:"referenceLocator"`
		} `json:"externalRefs"`
	} `json:"packages"`
}

// sbomPackages reads an SPDX JSON document into package key → versions.
// The image itself (purpose CONTAINER) is left out: its version is its
// digest.
func sbomPackages(name string, data []byte) (map[string][]string, error) {
	var d spdxDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: not an SPDX JSON document: %v", name, err)
	}
	if !strings.HasPrefix(d.SPDXVersion, "SPDX-2.") {
		return nil, fmt.Errorf("%s: spdxVersion %q is not SPDX 2.x", name, d.SPDXVersion)
	}
	out := map[string][]string{}
	for _, p := range d.Packages {
		if p.Purpose == "CONTAINER" {
			continue
		}
		typ, pname := "", p.Name
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" {
				if t, n, ok := purlParts(r.Locator); ok {
					typ, pname = t, n
				}
			}
		}
		k := typ + "\x00" + pname
		out[k] = append(out[k], p.VersionInfo)
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out, nil
}

// DiffSBOMs compares the packages of the SPDX documents before and after:
// a package (by package URL type and name) is added, removed, or changed
// when its versions differ.
func DiffSBOMs(before, after []byte) (SBOMDiff, error) {
	b, err := sbomPackages("the SBOM before", before)
	if err != nil {
		return SBOMDiff{}, err
	}
	a, err := sbomPackages("the SBOM after", after)
	if err != nil {
		return SBOMDiff{}, err
	}
	d := SBOMDiff{Added: []PackageChange{}, Removed: []PackageChange{}, Changed: []PackageChange{}}
	all := map[string]bool{}
	for k := range b {
		all[k] = true
	}
	for k := range a {
		all[k] = true
	}
	for _, k := range keys(all) {
		typ, name, _ := strings.Cut(k, "\x00")
		c := PackageChange{Name: name, Type: typ, Before: b[k], After: a[k]}
		switch {
		case len(c.Before) == 0:
			d.Added = append(d.Added, c)
		case len(c.After) == 0:
			d.Removed = append(d.Removed, c)
		case strings.Join(c.Before, "\x00") != strings.Join(c.After, "\x00"):
			d.Changed = append(d.Changed, c)
		default:
			d.Unchanged++
		}
	}
	return d, nil
}
