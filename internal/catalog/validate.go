package catalog

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/clearcutt/clearcutt/internal/oci"
)

// Channels are the evidence channels in report order.
var Channels = []string{
	ChannelSignature, ChannelSBOM, ChannelProvenance,
	ChannelTests, ChannelVulnerabilities, ChannelVEX,
}

var (
	digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// segmentRE is what a runtime or tier may be: it names files (the
	// site's pages) and enters verification commands.
	segmentRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

	statuses = map[Status]bool{
		StatusVerified: true, StatusFailed: true, StatusMissing: true,
		StatusPending: true, StatusNotApplicable: true,
	}
	findingStatuses = map[string]bool{FindingActive: true, FindingSuppressed: true, FindingExcepted: true}
)

// Validate checks what every reader of the catalog relies on, and returns
// an error wrapping ErrInvalidCatalog that names the first field at fault
// ("images[3].tier \"<b>\": want lower-case letters, …"):
//
//   - apiVersion is APIVersion, and the fleet requires only known channels;
//   - every image has a unique name, and a runtime and a tier of
//     lower-case letters, digits, '.', '_' or '-';
//   - an image with a reference has a sha256 index digest and a reference
//     to it by digest; one without (no release served) has a failed
//     release and no platforms;
//   - every channel is known; every platform has a unique, non-empty
//     platform name, a unique sha256 digest, findings of a known status
//     and an SBOM path inside the catalog directory.
//
// Readers that need more add a Requirement: RequireImages,
// RequireVerificationMode, RequireStatuses. Validate does not read the
// SBOM documents the catalog names.
func (c *Catalog) Validate() error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidCatalog, err)
	}
	return nil
}

// Requirement is a check a reader adds to Validate's (Read, Parse). Its
// error names the field at fault; those of this package also wrap
// ErrInvalidCatalog, so that a reader calling one directly can test for it.
type Requirement func(*Catalog) error

// fieldError is a Requirement's refusal: it wraps ErrInvalidCatalog, and
// its message is the field at fault and why, without the sentinel's text,
// so that Parse names the file once, before the field.
type fieldError struct{ msg string }

func (e *fieldError) Error() string { return e.msg }
func (e *fieldError) Unwrap() error { return ErrInvalidCatalog }

// invalidf is a fieldError of the formatted message.
func invalidf(format string, a ...any) error {
	return &fieldError{msg: fmt.Sprintf(format, a...)}
}

// RequireImages refuses a catalog that lists no image.
func RequireImages(c *Catalog) error {
	if len(c.Images) == 0 {
		return invalidf("images: the catalog lists no image")
	}
	return nil
}

// RequireVerificationMode refuses a catalog that does not say how a
// consumer verifies its images: the fleet must have exactly one of a
// keyless identity, with every field set, or a public key.
func RequireVerificationMode(c *Catalog) error {
	f := c.Fleet
	switch {
	case f.Identity != nil && f.PublicKey != "":
		return invalidf("fleet: both identity and publicKey are set: the verification mode is ambiguous")
	case f.Identity == nil && f.PublicKey == "":
		return invalidf("fleet: neither identity nor publicKey is set: nothing to verify against")
	case f.Identity != nil && f.PublicKeyPEM != "":
		return invalidf("fleet: publicKeyPEM is set for a keyless fleet")
	case f.PublicKeyPEM != "":
		if err := checkPublicKeyPEM(f.PublicKeyPEM); err != nil {
			return invalidf("fleet.publicKeyPEM: %v", err)
		}
	case f.Identity != nil:
		for _, field := range []struct{ name, value string }{
			{"issuer", f.Identity.Issuer}, {"buildSignerURI", f.Identity.BuildSignerURI},
			{"sourceRepositoryURI", f.Identity.SourceRepositoryURI}, {"sourceRepositoryRef", f.Identity.SourceRepositoryRef},
		} {
			if strings.TrimSpace(field.value) == "" {
				return invalidf("fleet.identity.%s is empty", field.name)
			}
		}
	}
	return nil
}

// RequireStatuses refuses a status clearcutt verify does not report (of an
// image or of a channel), and an image shown as verified that has no
// platforms, no release served, or a required channel of its index or of
// a platform that is not verified (or absent).
func RequireStatuses(c *Catalog) error {
	for i, im := range c.Images {
		at := fmt.Sprintf("images[%d]", i)
		if err := checkStatus(at+".status", im.Status); err != nil {
			return err
		}
		if err := checkStatuses(at+".channels", im.Channels); err != nil {
			return err
		}
		for j, p := range im.Platforms {
			if err := checkStatuses(fmt.Sprintf("%s.platforms[%d].channels", at, j), p.Channels); err != nil {
				return err
			}
		}
		if err := checkVerified(at, im, c.Fleet.RequiredChannels); err != nil {
			return err
		}
	}
	return nil
}

func (c *Catalog) validate() error {
	if err := c.checkVersion(); err != nil {
		return err
	}
	return c.checkContent()
}

// checkVersion refuses a catalog of another format version.
func (c *Catalog) checkVersion() error {
	if c.APIVersion != APIVersion {
		return fmt.Errorf("apiVersion %q: this clearcutt reads %s", c.APIVersion, APIVersion)
	}
	return nil
}

// checkContent is Validate but for the format version.
func (c *Catalog) checkContent() error {
	for _, ch := range c.Fleet.RequiredChannels {
		if !knownChannel(ch) {
			return fmt.Errorf("fleet.requiredChannels: unknown channel %q", ch)
		}
	}
	names := map[string]int{}
	for i, im := range c.Images {
		if err := checkImage(fmt.Sprintf("images[%d]", i), im); err != nil {
			return err
		}
		if j, dup := names[im.Name]; dup {
			return fmt.Errorf("images[%d].name %q: also images[%d]", i, im.Name, j)
		}
		names[im.Name] = i
	}
	return nil
}

func checkImage(at string, im Image) error {
	if im.Name == "" {
		return fmt.Errorf("%s.name is empty", at)
	}
	if !segmentRE.MatchString(im.Runtime) {
		return fmt.Errorf("%s.runtime %q: want lower-case letters, digits, '.', '_' or '-'", at, im.Runtime)
	}
	if !segmentRE.MatchString(im.Tier) {
		return fmt.Errorf("%s.tier %q: want lower-case letters, digits, '.', '_' or '-'", at, im.Tier)
	}
	if im.Reference == "" && im.IndexDigest == "" {
		// No release served: there must be a failed release to say why,
		// and nothing observed.
		switch {
		case !im.ReleaseFailed():
			return fmt.Errorf("%s (%s) has no reference and no failed release", at, im.Name)
		case len(im.Platforms) > 0:
			return fmt.Errorf("%s (%s) has platforms, but no release of it is served", at, im.Name)
		}
	} else {
		if !digestRE.MatchString(im.IndexDigest) {
			return fmt.Errorf("%s.indexDigest %q: not a sha256 digest", at, im.IndexDigest)
		}
		ref, err := oci.RequireDigest(im.Reference)
		if err != nil {
			return fmt.Errorf("%s.reference %q: want <repository>@%s: %v", at, im.Reference, im.IndexDigest, err)
		}
		if ref.Digest != im.IndexDigest {
			return fmt.Errorf("%s.reference %q: want <repository>@%s", at, im.Reference, im.IndexDigest)
		}
	}
	if err := checkChannels(at+".channels", im.Channels); err != nil {
		return err
	}
	platforms, digests := map[string]bool{}, map[string]int{}
	for j, p := range im.Platforms {
		pat := fmt.Sprintf("%s.platforms[%d]", at, j)
		if p.Platform == "" || platforms[p.Platform] {
			return fmt.Errorf("%s.platform %q: empty or repeated", pat, p.Platform)
		}
		platforms[p.Platform] = true
		if !digestRE.MatchString(p.Digest) {
			return fmt.Errorf("%s.digest %q: not a sha256 digest", pat, p.Digest)
		}
		if k, dup := digests[p.Digest]; dup {
			return fmt.Errorf("%s.digest %q: also platforms[%d]", pat, p.Digest, k)
		}
		digests[p.Digest] = j
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
		if p.PackageList != nil && (p.Packages == nil || *p.Packages != len(p.PackageList)) {
			return fmt.Errorf("%s.packageList: %d packages, but the package count is not %[2]d", pat, len(p.PackageList))
		}
		if p.SBOM != "" && !filepath.IsLocal(filepath.FromSlash(p.SBOM)) {
			return fmt.Errorf("%s.sbom: %q is not a path inside the catalog directory", pat, p.SBOM)
		}
	}
	return nil
}

// checkVerified refuses an image shown as verified while no release of it
// is served, it has no platforms, or a required channel of its index or of
// an architecture is not verified, or is absent.
func checkVerified(at string, im Image, required []string) error {
	if im.Status != StatusVerified {
		return nil
	}
	if !im.Served() {
		return invalidf("%s (%s).status is verified, but no release of it is served", at, im.Name)
	}
	if len(im.Platforms) == 0 {
		return invalidf("%s (%s).status is verified, but it has no platforms", at, im.Name)
	}
	for _, ch := range required {
		for _, c := range im.Channels {
			if c.Channel == ch && c.Status != StatusVerified {
				return invalidf("%s (%s).status is verified, but its index's %s channel is %s", at, im.Name, ch, c.Status)
			}
		}
		for _, p := range im.Platforms {
			st := StatusMissing
			for _, c := range p.Channels {
				if c.Channel == ch {
					st = c.Status
				}
			}
			if st != StatusVerified {
				return invalidf("%s (%s).status is verified, but the %s channel of %s is %s", at, im.Name, ch, p.Platform, st)
			}
		}
	}
	return nil
}

func checkStatus(at string, s Status) error {
	if !statuses[s] {
		return invalidf("%s %q: want verified, failed, missing, pending or not_applicable", at, s)
	}
	return nil
}

func checkChannels(at string, cs []ChannelStatus) error {
	for i, c := range cs {
		if !knownChannel(c.Channel) {
			return fmt.Errorf("%s[%d].channel %q: unknown channel", at, i, c.Channel)
		}
	}
	return nil
}

func checkStatuses(at string, cs []ChannelStatus) error {
	for i, c := range cs {
		if err := checkStatus(fmt.Sprintf("%s[%d] (%s).status", at, i, c.Channel), c.Status); err != nil {
			return err
		}
	}
	return nil
}

func knownChannel(name string) bool {
	for _, c := range Channels {
		if c == name {
			return true
		}
	}
	return false
}

// PublicKeyPEM is key as the catalog's fleet.publicKeyPEM records it (the
// PEM block, trimmed), or "" when key is not one PEM public key.
func PublicKeyPEM(key []byte) string {
	s := strings.TrimSpace(string(key)) + "\n"
	if checkPublicKeyPEM(s) != nil {
		return ""
	}
	return s
}

// checkPublicKeyPEM accepts exactly one PEM "PUBLIC KEY" block holding a
// public key, and nothing else but white space.
func checkPublicKeyPEM(s string) error {
	b, rest := pem.Decode([]byte(s))
	if b == nil || b.Type != "PUBLIC KEY" {
		return fmt.Errorf("not a PEM PUBLIC KEY block")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return fmt.Errorf("data after the PUBLIC KEY block")
	}
	if _, err := x509.ParsePKIXPublicKey(b.Bytes); err != nil {
		return fmt.Errorf("not a public key: %v", err)
	}
	return nil
}
