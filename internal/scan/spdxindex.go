package scan

import (
	"encoding/json"
	"strings"
)

// spdxLocations maps a package (by purl, and by name@version) to the file
// paths the SPDX document ties it to: paths in its sourceInfo and the files
// it CONTAINS. Grype's SPDX decoding keeps neither, and they decide whether
// a package lives in the Nix store.
type spdxLocations map[string][]string

func indexSPDX(doc []byte) spdxLocations {
	var d struct {
		Packages []struct {
			ID           string `json:"SPDXID"`
			Name         string `json:"name"`
			Version      string `json:"versionInfo"`
			SourceInfo   string `json:"sourceInfo"`
			ExternalRefs []struct {
				Type    string `json:"referenceType"`
				Locator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
		Files []struct {
			ID   string `json:"SPDXID"`
			Name string `json:"fileName"`
		} `json:"files"`
		Relationships []struct {
			From string `json:"spdxElementId"`
			To   string `json:"relatedSpdxElement"`
			Type string `json:"relationshipType"`
		} `json:"relationships"`
	}
	out := spdxLocations{}
	if json.Unmarshal(doc, &d) != nil {
		return out
	}
	files := map[string]string{}
	for _, f := range d.Files {
		files[f.ID] = f.Name
	}
	contained := map[string][]string{}
	for _, r := range d.Relationships {
		if r.Type == "CONTAINS" && files[r.To] != "" {
			contained[r.From] = append(contained[r.From], files[r.To])
		}
	}
	for _, p := range d.Packages {
		var locs []string
		for _, tok := range strings.Fields(p.SourceInfo) {
			if strings.HasPrefix(tok, "/") {
				locs = append(locs, strings.TrimRight(tok, ",;"))
			}
		}
		locs = append(locs, contained[p.ID]...)
		if len(locs) == 0 {
			continue
		}
		out[p.Name+"@"+p.Version] = append(out[p.Name+"@"+p.Version], locs...)
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" {
				out[r.Locator] = append(out[r.Locator], locs...)
			}
		}
	}
	return out
}

func (s spdxLocations) lookup(p Package) []string {
	if l, ok := s[p.PURL]; ok && p.PURL != "" {
		return l
	}
	return s[p.Name+"@"+p.Version]
}
