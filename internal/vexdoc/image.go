package vexdoc

import (
	"path"
	"slices"

	"github.com/package-url/packageurl-go"

	"github.com/clearcutt/clearcutt/internal/fleet"
)

// ImageProduct is the package URL a statement names a fleet image by:
// pkg:oci/<name>?tag=<tier>. The name is the last segment of the image's
// repository (<registry.repository>/<runtime>, so the runtime id), as in
// the image product clearcutt scan publishes (pkg:oci/<runtime>@<digest>).
// Every tier of a runtime is a tag of that one repository, and the tier is
// the fleet's {tier} tag: the tag qualifier is what keeps a statement about
// python:slim off python:dev. Without a tag, pkg:oci/<runtime> names every
// tier of the runtime.
func ImageProduct(img fleet.Image) string {
	q := packageurl.QualifiersFromMap(map[string]string{"tag": img.Tier})
	return packageurl.NewPackageURL("oci", "", path.Base(img.Repository), "", q, "").ToString()
}

// SubjectProduct is the package URL of a scanned image that statements
// naming images are matched against: pkg:oci/<runtime>@<algorithm>:<hex>
// with the tier as its tag qualifier. go-vex matches a statement's
// pkg:oci/<runtime>?tag=<tier> or pkg:oci/<runtime> product against it.
func SubjectProduct(runtime, tier, algorithm, hex string) string {
	var q packageurl.Qualifiers
	if tier != "" {
		q = packageurl.QualifiersFromMap(map[string]string{"tag": tier})
	}
	return packageurl.NewPackageURL("oci", "", runtime, algorithm+":"+hex, q, "").ToString()
}

// NamedImages returns the RefNames (runtime:tier) of the images the
// package URL s names, and whether s is an image URL (pkg:oci/…) at all.
// An oci URL names an image when its name is the last segment of the
// image's repository and, where s has them, its tag qualifier is the
// image's tier or one of its tags and its repository_url qualifier is the
// image's repository.
// Without a tag it names every tier of the runtime; a digest version is not
// checked (digests change with every build).
func NamedImages(s string, images []fleet.Image) (names []string, isImage bool) {
	p, err := packageurl.FromString(s)
	if err != nil || p.Type != "oci" {
		return nil, false
	}
	q := p.Qualifiers.Map()
	for _, img := range images {
		if p.Namespace != "" || p.Name != path.Base(img.Repository) {
			continue
		}
		if tag, ok := q["tag"]; ok && tag != img.Tier && !slices.Contains(img.Tags, tag) {
			continue
		}
		if repo, ok := q["repository_url"]; ok && repo != img.Repository {
			continue
		}
		names = append(names, img.RefName)
	}
	return names, true
}
