package closure

import (
	"sort"
	"strings"
)

// optionalFeatures maps package names that exist for optional features to
// the feature. A base image rarely needs them: a headless JRE drags in font
// and printing libraries, an interpreter drags in image codecs and X11.
// They are reported as pruning candidates, never removed: removing one is a
// decision for the fleet's owner (an override in nix/), not for the kit.
//
// Entries ending in "*" match by prefix.
var optionalFeatures = map[string]string{
	"fontconfig":    "fonts",
	"freetype":      "fonts",
	"harfbuzz":      "fonts",
	"dejavu-fonts":  "fonts",
	"cups":          "printing",
	"libjpeg":       "image-codecs",
	"libjpeg-turbo": "image-codecs",
	"libpng":        "image-codecs",
	"giflib":        "image-codecs",
	"libtiff":       "image-codecs",
	"libwebp":       "image-codecs",
	"lcms2":         "image-codecs",
	"alsa-lib":      "audio",
	"libpulseaudio": "audio",
	"libX11":        "gui",
	"libX*":         "gui",
	"libxcb":        "gui",
	"wayland":       "gui",
	"gtk+3":         "gui",
	"gtk3":          "gui",
	"tcl":           "gui",
	"tk":            "gui",
	"mesa":          "gui",
	"libGL":         "gui",
}

// featureOf returns the optional feature a package name belongs to.
func featureOf(pname string) (string, bool) {
	if f, ok := optionalFeatures[pname]; ok {
		return f, true
	}
	for k, f := range optionalFeatures {
		if p, ok := strings.CutSuffix(k, "*"); ok && strings.HasPrefix(pname, p) {
			return f, true
		}
	}
	return "", false
}

// PruningCandidates lists the optional-feature packages in the manifest's
// closure, each with the store paths that reference it directly. The
// runtime itself and the root are never candidates.
func PruningCandidates(m *Manifest) []PruningCandidate {
	var out []PruningCandidate
	for _, p := range m.Paths {
		if p.Path == m.RuntimePath || p.Path == m.Root {
			continue
		}
		feature, ok := featureOf(p.Pname)
		if !ok {
			continue
		}
		c := PruningCandidate{Path: p.Path, Pname: p.Pname, Feature: feature, NarSize: p.NarSize, RequiredBy: []string{}}
		for _, q := range m.Paths {
			for _, r := range q.References {
				if r == p.Path && q.Path != p.Path {
					c.RequiredBy = append(c.RequiredBy, q.Path)
				}
			}
		}
		sort.Strings(c.RequiredBy)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
