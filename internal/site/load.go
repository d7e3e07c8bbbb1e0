package site

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/clearcutt/clearcutt/internal/catalog"
)

// ErrInvalidCatalog marks a catalog directory the site cannot be built
// from: unreadable or malformed catalog.json, a value that would end up in
// a file name or a verification command unchecked, or a missing SBOM file.
var ErrInvalidCatalog = errors.New("invalid catalog")

var (
	digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// nameRE is what a runtime or tier may be: it names a page file.
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
)

// Load reads and checks DIR/catalog.json, and the SBOM files it names.
func Load(dir string) (*catalog.Catalog, error) {
	path := filepath.Join(dir, catalog.FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCatalog, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c catalog.Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidCatalog, path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: %s: data after the catalog object", ErrInvalidCatalog, path)
	}
	if err := check(&c, dir); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidCatalog, path, err)
	}
	return &c, nil
}

var (
	channelStatuses = map[catalog.Status]bool{
		catalog.StatusVerified: true, catalog.StatusFailed: true, catalog.StatusMissing: true,
		catalog.StatusPending: true, catalog.StatusNotApplicable: true,
	}
	findingStatuses = map[string]bool{findingActive: true, findingSuppressed: true, findingExcepted: true}
)

// Finding statuses (catalog.Finding.Status).
const (
	findingActive     = "active"
	findingSuppressed = "suppressed"
	findingExcepted   = "excepted"
)

// check validates what the site relies on: the values that name files or
// enter verification commands, and every status it renders.
func check(c *catalog.Catalog, dir string) error {
	if c.APIVersion != catalog.APIVersion {
		return fmt.Errorf("apiVersion %q: this clearcutt reads %s", c.APIVersion, catalog.APIVersion)
	}
	if err := checkFleet(c.Fleet); err != nil {
		return err
	}
	pages := map[string]string{}
	for i, im := range c.Images {
		at := fmt.Sprintf("images[%d]", i)
		if !nameRE.MatchString(im.Runtime) {
			return fmt.Errorf("%s.runtime %q: want lower-case letters, digits, '.', '_' or '-'", at, im.Runtime)
		}
		if !nameRE.MatchString(im.Tier) {
			return fmt.Errorf("%s.tier %q: want lower-case letters, digits, '.', '_' or '-'", at, im.Tier)
		}
		page := pageName(im)
		if prev, dup := pages[page]; dup {
			return fmt.Errorf("%s (%s) and %s have the same runtime and tier", at, im.Name, prev)
		}
		pages[page] = at
		if err := checkStatus(at+".status", im.Status); err != nil {
			return err
		}
		if im.Reference == "" && im.IndexDigest == "" {
			// No release served: there must be a failed release to say
			// why, and nothing observed.
			switch {
			case !im.ReleaseFailed():
				return fmt.Errorf("%s (%s) has no reference and no failed release", at, im.Name)
			case im.Status == catalog.StatusVerified:
				return fmt.Errorf("%s (%s).status is verified, but no release of it is served", at, im.Name)
			case len(im.Platforms) > 0:
				return fmt.Errorf("%s (%s) has platforms, but no release of it is served", at, im.Name)
			}
		} else {
			if !digestRE.MatchString(im.IndexDigest) {
				return fmt.Errorf("%s.indexDigest %q: not a sha256 digest", at, im.IndexDigest)
			}
			if repo, d := splitRef(im.Reference); repo == "" || d != im.IndexDigest {
				return fmt.Errorf("%s.reference %q: want <repository>@%s", at, im.Reference, im.IndexDigest)
			}
		}
		if err := checkChannels(at+".channels", im.Channels); err != nil {
			return err
		}
		seen := map[string]bool{}
		for j, p := range im.Platforms {
			pat := fmt.Sprintf("%s.platforms[%d]", at, j)
			if p.Platform == "" || seen[p.Platform] {
				return fmt.Errorf("%s.platform %q: empty or repeated", pat, p.Platform)
			}
			seen[p.Platform] = true
			if !digestRE.MatchString(p.Digest) {
				return fmt.Errorf("%s.digest %q: not a sha256 digest", pat, p.Digest)
			}
			if err := checkChannels(pat+".channels", p.Channels); err != nil {
				return err
			}
			if p.Vulnerabilities != nil {
				for k, f := range p.Vulnerabilities.Findings {
					if !findingStatuses[f.Status] {
						return fmt.Errorf("%s.vulnerabilities.findings[%d] (%s).status %q: want active, suppressed or excepted", pat, k, f.ID, f.Status)
					}
				}
			}
			if p.SBOM != "" {
				if _, err := readSBOM(dir, p.SBOM); err != nil {
					return fmt.Errorf("%s.sbom: %v", pat, err)
				}
			}
		}
		if err := checkVerified(at, im, c.Fleet.RequiredChannels); err != nil {
			return err
		}
	}
	return nil
}

// checkVerified refuses an image shown as verified while a required
// channel of its index or of an architecture is not, or is absent.
func checkVerified(at string, im catalog.Image, required []string) error {
	if im.Status != catalog.StatusVerified {
		return nil
	}
	if len(im.Platforms) == 0 {
		return fmt.Errorf("%s (%s).status is verified, but it has no platforms", at, im.Name)
	}
	for _, ch := range required {
		for _, c := range im.Channels {
			if c.Channel == ch && c.Status != catalog.StatusVerified {
				return fmt.Errorf("%s (%s).status is verified, but its index's %s channel is %s", at, im.Name, ch, c.Status)
			}
		}
		for _, p := range im.Platforms {
			st := catalog.StatusMissing
			for _, c := range p.Channels {
				if c.Channel == ch {
					st = c.Status
				}
			}
			if st != catalog.StatusVerified {
				return fmt.Errorf("%s (%s).status is verified, but the %s channel of %s is %s", at, im.Name, ch, p.Platform, st)
			}
		}
	}
	return nil
}

func checkFleet(f catalog.Fleet) error {
	switch {
	case f.Identity != nil && f.PublicKey != "":
		return fmt.Errorf("fleet: both identity and publicKey are set: the verification mode is ambiguous")
	case f.Identity == nil && f.PublicKey == "":
		return fmt.Errorf("fleet: neither identity nor publicKey is set: nothing to verify against")
	case f.Identity != nil:
		for field, v := range map[string]string{
			"issuer": f.Identity.Issuer, "buildSignerURI": f.Identity.BuildSignerURI,
			"sourceRepositoryURI": f.Identity.SourceRepositoryURI, "sourceRepositoryRef": f.Identity.SourceRepositoryRef,
		} {
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("fleet.identity.%s is empty", field)
			}
		}
	}
	for _, ch := range f.RequiredChannels {
		if !knownChannel(ch) {
			return fmt.Errorf("fleet.requiredChannels: unknown channel %q", ch)
		}
	}
	return nil
}

func checkStatus(at string, s catalog.Status) error {
	if !channelStatuses[s] {
		return fmt.Errorf("%s %q: want verified, failed, missing, pending or not_applicable", at, s)
	}
	return nil
}

func checkChannels(at string, cs []catalog.ChannelStatus) error {
	for i, c := range cs {
		if !knownChannel(c.Channel) {
			return fmt.Errorf("%s[%d].channel %q: unknown channel", at, i, c.Channel)
		}
		if err := checkStatus(fmt.Sprintf("%s[%d] (%s).status", at, i, c.Channel), c.Status); err != nil {
			return err
		}
	}
	return nil
}

// readSBOM reads an SPDX JSON document at a path inside the catalog
// directory.
func readSBOM(dir, rel string) ([]byte, error) {
	if !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("%q is not a path inside the catalog directory", rel)
	}
	data, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		return nil, err
	}
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", rel, err)
	}
	if !strings.HasPrefix(doc.SPDXVersion, "SPDX-") {
		return nil, fmt.Errorf("%s: not an SPDX JSON document (spdxVersion %q)", rel, doc.SPDXVersion)
	}
	return data, nil
}

// splitRef splits repository@digest at its last '@'.
func splitRef(ref string) (repo, digest string) {
	i := strings.LastIndex(ref, "@")
	if i < 0 {
		return "", ""
	}
	return ref[:i], ref[i+1:]
}

// Channels in report order.
var channels = []string{
	catalog.ChannelSignature, catalog.ChannelSBOM, catalog.ChannelProvenance,
	catalog.ChannelTests, catalog.ChannelVulnerabilities, catalog.ChannelVEX,
}

func knownChannel(name string) bool {
	for _, c := range channels {
		if c == name {
			return true
		}
	}
	return false
}
