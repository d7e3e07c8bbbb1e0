// Package spdxdiff compares the packages of two SPDX 2.x JSON documents of
// one platform: which packages were added, removed, or changed version.
// It reads the documents as JSON only, so it stays light for its callers
// (an application's base diff, a remediation's package diff).
package spdxdiff

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// ErrInvalidSPDX: a document to compare is not SPDX 2.x JSON. The error
// names the document (Diff's beforeName or afterName) and, for a version
// refused, its spdxVersion.
var ErrInvalidSPDX = errors.New("not an SPDX 2.x JSON document")

// Change is one package of a diff, keyed by package URL type and name.
type Change struct {
	Name string `json:"name"`
	// Type is the package URL type (nix, pypi, deb, ...; "" without one).
	Type   string   `json:"type,omitempty"`
	Before []string `json:"before,omitempty"`
	After  []string `json:"after,omitempty"`
}

// Delta compares the packages of two SBOMs of one platform.
type Delta struct {
	Added   []Change `json:"added"`
	Removed []Change `json:"removed"`
	Changed []Change `json:"changed"`
	// Unchanged counts the packages with the same versions.
	Unchanged int `json:"unchanged"`
}

// Empty reports a diff without changes.
func (d Delta) Empty() bool { return len(d.Added)+len(d.Removed)+len(d.Changed) == 0 }

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

type key struct{ typ, name string }

// packages reads an SPDX JSON document into (purl type, name) → sorted
// versions. A package is keyed by its first package URL, or by its SPDX
// name with an empty type without one. The image itself (purpose
// CONTAINER) is left out: its version is its digest. what names the
// document in errors.
func packages(what string, data []byte) (map[key][]string, error) {
	var d spdxDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", what, ErrInvalidSPDX, err)
	}
	if !strings.HasPrefix(d.SPDXVersion, "SPDX-2.") {
		return nil, fmt.Errorf("%s: spdxVersion %q: %w", what, d.SPDXVersion, ErrInvalidSPDX)
	}
	out := map[key][]string{}
	for _, p := range d.Packages {
		if p.Purpose == "CONTAINER" {
			continue
		}
		k := key{"", p.Name}
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" {
				if t, n, ok := purlParts(r.Locator); ok {
					k = key{t, n}
					break
				}
			}
		}
		out[k] = append(out[k], p.VersionInfo)
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out, nil
}

// purlParts returns the type (lower case) and the name with its namespace
// ("pkg:deb/debian/libc6@2.36" → "deb", "debian/libc6"), each path segment
// unescaped; ok is false for anything that is not a package URL.
func purlParts(purl string) (typ, name string, ok bool) {
	rest, found := strings.CutPrefix(purl, "pkg:")
	if !found {
		return "", "", false
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[:i]
	}
	typ, name, found = strings.Cut(rest, "/")
	if !found || typ == "" || name == "" {
		return "", "", false
	}
	segs := strings.Split(name, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			return "", "", false
		}
		segs[i] = u
	}
	return strings.ToLower(typ), strings.Join(segs, "/"), true
}

// Diff compares the packages of the SPDX documents before and after: a
// package, by package URL type and name, is added, removed, or changed
// when its versions differ. The lists are sorted by type, then name. A
// document that is not SPDX 2.x JSON is an error wrapping ErrInvalidSPDX
// that names it (beforeName, afterName).
func Diff(before, after []byte, beforeName, afterName string) (Delta, error) {
	b, err := packages(beforeName, before)
	if err != nil {
		return Delta{}, err
	}
	a, err := packages(afterName, after)
	if err != nil {
		return Delta{}, err
	}
	all := map[key]bool{}
	for k := range b {
		all[k] = true
	}
	for k := range a {
		all[k] = true
	}
	keys := make([]key, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].typ != keys[j].typ {
			return keys[i].typ < keys[j].typ
		}
		return keys[i].name < keys[j].name
	})
	d := Delta{Added: []Change{}, Removed: []Change{}, Changed: []Change{}}
	for _, k := range keys {
		c := Change{Name: k.name, Type: k.typ, Before: b[k], After: a[k]}
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
