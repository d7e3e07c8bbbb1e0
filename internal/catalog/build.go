package catalog

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// Image config labels the catalog reads.
const (
	LabelRuntime = oci.LabelRuntime
	LabelTier    = oci.LabelTier
	LabelVersion = "org.opencontainers.image.version"
)

// Tiers in catalog order.
var tierOrder = []string{"distroless", "slim", "dev"}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*$`)

// ValidName reports whether s is an image name, <runtime>:<tier>.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Observed is one image index as the registry or layout holds it, with
// clearcutt verify's report on its evidence.
type Observed struct {
	// Name is <runtime>:<tier>, as the source names the image.
	Name string
	// Reference is the index by digest (repository@sha256:… or
	// oci:DIR@sha256:…).
	Reference string
	// Tags are the tags that pointed at the index when it was resolved.
	Tags  []string
	Index v1.ImageIndex
	// Report is the verification of Index.
	Report verify.Report
	// Version is the runtime version clearcutt.yaml declares, used when
	// the image carries no org.opencontainers.image.version label.
	Version string
}

// FailedRelease is an image whose latest release failed: its tags were
// not moved.
type FailedRelease struct {
	// Name is <runtime>:<tier>.
	Name string
	// Reason is why the release failed.
	Reason string
	// Version is the runtime version clearcutt.yaml declares, recorded
	// when no release of the image is served.
	Version string
	// RecordedAt is when the failure was recorded (zero: Now); a rescan
	// passes the time already in the catalog.
	RecordedAt time.Time
}

// Options configure Build.
type Options struct {
	Fleet  Fleet
	Images []Observed
	// Failed are the images whose latest release failed. One that is also
	// in Images (the release its tags still name) is recorded with the
	// failure; one that is not gets a record of its own, with no release
	// served.
	Failed []FailedRelease
	// Descriptions are the runtimes' descriptions from clearcutt.yaml, by
	// runtime id: every image of a runtime carries its description.
	Descriptions map[string]string
	// Previous is the catalog this one replaces (nil: none): image
	// histories carry over by name.
	Previous *Catalog
	// Now is the catalog's generation time (default time.Now()).
	Now time.Time
	// MaxPruningCandidates caps each platform's list
	// (DefaultMaxPruningCandidates when 0).
	MaxPruningCandidates int
	// Progress, if set, receives one line per step.
	Progress func(string)
}

// Result is a built catalog and the files that go with it.
type Result struct {
	Catalog Catalog
	// SBOMs are the verified SPDX documents, by path relative to the
	// catalog directory (SBOMPath).
	SBOMs map[string][]byte
}

// Passed reports whether every image is verified and none has a failed
// release.
func (r Result) Passed() bool {
	for _, im := range r.Catalog.Images {
		if !im.Passed() {
			return false
		}
	}
	return true
}

// SBOMPath is where the SBOM of platform digest d is kept, relative to the
// catalog directory: content-addressed, so documents never conflict.
func SBOMPath(d v1.Hash) string { return "sbom/" + d.Hex + ".spdx.json" }

// Build reads every observed index (manifests, configs and the tar headers
// of every layer) and fills the catalog from it and from the verified
// evidence in its report. An error means an image could not be read; the
// state of the evidence is in the catalog, never an error.
func Build(ctx context.Context, o Options) (Result, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.MaxPruningCandidates <= 0 {
		o.MaxPruningCandidates = DefaultMaxPruningCandidates
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	fl := o.Fleet
	if fl.RequiredChannels == nil {
		fl.RequiredChannels = []string{}
	}
	res := Result{
		Catalog: Catalog{APIVersion: APIVersion, GeneratedAt: o.Now.UTC(), Fleet: fl, Images: []Image{}},
		SBOMs:   map[string][]byte{},
	}
	previous := map[string][]ScanPoint{}
	if o.Previous != nil {
		for _, im := range o.Previous.Images {
			previous[im.Name] = im.History
		}
	}
	failed := map[string]FailedRelease{}
	for _, f := range o.Failed {
		if !ValidName(f.Name) {
			return Result{}, fmt.Errorf("%w: failed release of %q: not <runtime>:<tier>", ErrInvalid, f.Name)
		}
		if _, dup := failed[f.Name]; dup {
			return Result{}, fmt.Errorf("%w: %s has two failed releases", ErrInvalid, f.Name)
		}
		if f.RecordedAt.IsZero() {
			f.RecordedAt = o.Now
		}
		failed[f.Name] = f
	}
	b := builder{layers: map[v1.Hash]layerFacts{}, max: o.MaxPruningCandidates, progress: progress}
	seen := map[string]string{}
	for _, obs := range o.Images {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		im, err := b.image(ctx, obs, res.SBOMs)
		if err != nil {
			return Result{}, fmt.Errorf("%s (%s): %w", obs.Name, obs.Reference, err)
		}
		if other, dup := seen[im.Name]; dup {
			return Result{}, fmt.Errorf("%w: %s is both %s and %s", ErrInvalid, im.Name, other, im.Reference)
		}
		seen[im.Name] = im.Reference
		pt, ok := scanPoint(im.Platforms)
		im.History = extendHistory(previous[im.Name], pt, ok)
		if f, ok := failed[im.Name]; ok {
			im.Release = releaseOf(f)
		}
		res.Catalog.Images = append(res.Catalog.Images, im)
	}
	for _, f := range o.Failed {
		if _, served := seen[f.Name]; served {
			continue
		}
		res.Catalog.Images = append(res.Catalog.Images, unreleased(failed[f.Name], previous[f.Name]))
	}
	for i := range res.Catalog.Images {
		res.Catalog.Images[i].Description = o.Descriptions[res.Catalog.Images[i].Runtime]
	}
	sortImages(res.Catalog.Images)
	return res, nil
}

func releaseOf(f FailedRelease) *Release {
	return &Release{Failed: true, Reason: f.Reason, RecordedAt: f.RecordedAt.UTC()}
}

// unreleased is the record of an image whose release failed and of which
// no release is served: nothing to observe, so every channel counts as
// missing, and its history is kept.
func unreleased(f FailedRelease, history []ScanPoint) Image {
	runtime, tier, _ := strings.Cut(f.Name, ":")
	return Image{
		Name: f.Name, Runtime: runtime, Tier: tier, Version: f.Version,
		Tags: []string{}, Status: StatusMissing, Release: releaseOf(f),
		Channels: []ChannelStatus{}, Platforms: []Platform{},
		History: extendHistory(history, ScanPoint{}, false),
	}
}

func sortImages(ims []Image) {
	tierRank := func(t string) int {
		for i, n := range tierOrder {
			if n == t {
				return i
			}
		}
		return len(tierOrder)
	}
	sort.SliceStable(ims, func(i, j int) bool {
		a, b := ims[i], ims[j]
		if a.Runtime != b.Runtime {
			return a.Runtime < b.Runtime
		}
		if ra, rb := tierRank(a.Tier), tierRank(b.Tier); ra != rb {
			return ra < rb
		}
		return a.Tier < b.Tier
	})
}

// builder reads images, remembering what each layer held: images of one
// fleet share most of their layers.
type builder struct {
	layers   map[v1.Hash]layerFacts
	max      int
	progress func(string)
}

func (b *builder) image(ctx context.Context, obs Observed, sboms map[string][]byte) (Image, error) {
	if obs.Index == nil {
		return Image{}, fmt.Errorf("%w: no index", ErrInvalid)
	}
	d, err := obs.Index.Digest()
	if err != nil {
		return Image{}, fmt.Errorf("index digest: %w", err)
	}
	if obs.Report.Digest != d.String() {
		return Image{}, fmt.Errorf("%w: the verification report is about %q, the index is %s", ErrInvalid, obs.Report.Digest, d)
	}
	if !strings.HasSuffix(obs.Reference, "@"+d.String()) {
		return Image{}, fmt.Errorf("%w: reference %q does not name the index %s by digest", ErrInvalid, obs.Reference, d)
	}
	im, err := obs.Index.IndexManifest()
	if err != nil {
		return Image{}, fmt.Errorf("index manifest: %w", err)
	}
	tags := append([]string{}, obs.Tags...)
	sort.Strings(tags)
	out := Image{
		Name:        obs.Name,
		Reference:   obs.Reference,
		IndexDigest: d.String(),
		Tags:        tags,
		VerifiedAt:  obs.Report.VerifiedAt.UTC(),
		Status:      imageStatus(obs.Report),
		Channels:    imageChannels(obs.Report),
		Platforms:   []Platform{},
	}
	var labels map[string]string
	for _, desc := range im.Manifests {
		p := desc.Platform
		if p == nil || p.OS == "" || p.OS == "unknown" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return Image{}, err
		}
		name := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			name += "/" + p.Variant
		}
		b.progress(fmt.Sprintf("reading %s %s", name, desc.Digest))
		plat, cfg, err := b.platform(obs, desc, name, sboms)
		if err != nil {
			return Image{}, fmt.Errorf("%s %s: %w", name, desc.Digest, err)
		}
		l := cfg.Labels
		plat.Config = runConfig(cfg)
		if labels == nil {
			labels = l
		} else {
			for _, k := range []string{LabelRuntime, LabelTier, LabelVersion} {
				if l[k] != labels[k] {
					return Image{}, fmt.Errorf("%w: %s label %s is %q, another platform's is %q", ErrMismatch, name, k, l[k], labels[k])
				}
			}
		}
		out.Platforms = append(out.Platforms, plat)
	}
	if len(out.Platforms) == 0 {
		return Image{}, fmt.Errorf("%w: the index has no platform images", ErrInvalid)
	}
	sort.SliceStable(out.Platforms, func(i, j int) bool { return out.Platforms[i].Platform < out.Platforms[j].Platform })
	out.Config = sharedConfig(out.Platforms)
	out.Runtime, out.Tier, out.Version = labels[LabelRuntime], labels[LabelTier], labels[LabelVersion]
	if out.Runtime == "" || out.Tier == "" {
		return Image{}, fmt.Errorf("%w: the image config has no %s and %s labels", ErrMismatch, LabelRuntime, LabelTier)
	}
	if name := out.Runtime + ":" + out.Tier; out.Name == "" {
		out.Name = name
	} else if out.Name != name {
		return Image{}, fmt.Errorf("%w: published as %s, its labels say %s", ErrMismatch, out.Name, name)
	}
	if out.Version == "" {
		out.Version = obs.Version
	}
	return out, nil
}

// platform reads one platform image: sizes from its manifest, the closure
// from its layers' tar headers, channels, packages and
// vulnerabilities from the verified evidence. It returns the image's
// config (labels and run configuration).
func (b *builder) platform(obs Observed, desc v1.Descriptor, name string, sboms map[string][]byte) (Platform, v1.Config, error) {
	img, err := obs.Index.Image(desc.Digest)
	if err != nil {
		return Platform{}, v1.Config{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return Platform{}, v1.Config{}, fmt.Errorf("manifest: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Platform{}, v1.Config{}, fmt.Errorf("config: %w", err)
	}
	p := Platform{
		Platform:          name,
		Digest:            desc.Digest.String(),
		Size:              desc.Size + m.Config.Size,
		Layers:            len(m.Layers),
		PruningCandidates: []PruningCandidate{},
	}
	facts := make([]layerFacts, 0, len(m.Layers))
	for _, ld := range m.Layers {
		p.Size += ld.Size
		f, ok := b.layers[ld.Digest]
		if !ok {
			l, err := img.LayerByDigest(ld.Digest)
			if err != nil {
				return Platform{}, v1.Config{}, fmt.Errorf("layer %s: %w", ld.Digest, err)
			}
			if f, err = readLayer(l); err != nil {
				return Platform{}, v1.Config{}, fmt.Errorf("layer %s: %w", ld.Digest, err)
			}
			b.layers[ld.Digest] = f
		}
		facts = append(facts, f)
	}
	p.ClosureSize, p.PruningCandidates = closureFacts(filesystem(facts), b.max)
	if p.Scrub, err = scrubOf(facts); err != nil {
		return Platform{}, v1.Config{}, err
	}
	p.Channels = platformChannels(obs.Report, p.Digest)

	if e, ok := entry(obs.Report, verify.ChannelSBOM, p.Digest); ok && e.Status == verify.StatusVerified && e.Predicate != nil {
		pkgs, err := packageList(e.Predicate)
		if err != nil {
			return Platform{}, v1.Config{}, err
		}
		n := len(pkgs)
		p.Packages, p.PackageList = &n, pkgs
		p.SBOM = SBOMPath(desc.Digest)
		sboms[p.SBOM] = append([]byte(nil), e.Predicate...)
	}
	// A scan whose time verify could read has a predicate from verified
	// evidence, whether it is verified, pending or failed its gate.
	if e, ok := entry(obs.Report, verify.ChannelVulnerabilities, p.Digest); ok && e.Predicate != nil && e.ScanTime != nil {
		v, err := ReadVulnerabilities(e.Predicate, e.ScanTime.UTC(), e.DBBuiltAt)
		if err != nil {
			return Platform{}, v1.Config{}, err
		}
		p.Vulnerabilities = v
	}
	return p, cf.Config, nil
}

// runConfig is the run configuration of an image config.
func runConfig(c v1.Config) *ImageConfig {
	words := func(ws []string) []string {
		if len(ws) == 0 {
			return nil
		}
		return slices.Clone(ws)
	}
	return &ImageConfig{
		Entrypoint: words(c.Entrypoint), Cmd: words(c.Cmd), User: c.User,
		Env: words(c.Env), WorkingDir: c.WorkingDir,
	}
}

// sharedConfig moves the platforms' run configuration to the image when
// every architecture has the same one (as every ClearCutt image does), and
// returns it; otherwise each platform keeps its own and it returns nil.
func sharedConfig(ps []Platform) *ImageConfig {
	if len(ps) == 0 {
		return nil
	}
	first := ps[0].Config
	for _, p := range ps[1:] {
		if !reflect.DeepEqual(p.Config, first) {
			return nil
		}
	}
	for i := range ps {
		ps[i].Config = nil
	}
	return first
}

func entry(rep verify.Report, c verify.Channel, digest string) (verify.Entry, bool) {
	return entryFor(rep.Channel(c), digest)
}

// packageList is the packages an SPDX document lists, without the
// packages the document DESCRIBES (the image itself), sorted by name,
// version, license and purl. A license is the concluded one, else the
// declared one; NOASSERTION is no license stated.
func packageList(doc []byte) ([]Package, error) {
	var d struct {
		DocumentDescribes []string `json:"documentDescribes"`
		Packages          []struct {
			SPDXID           string `json:"SPDXID"`
			Name             string `json:"name"`
			VersionInfo      string `json:"versionInfo"`
			LicenseConcluded string `json:"licenseConcluded"`
			LicenseDeclared  string `json:"licenseDeclared"`
			ExternalRefs     []struct {
				Category string `json:"referenceCategory"`
				Type     string `json:"referenceType"`
				Locator  string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
		Relationships []struct {
			Element string `json:"spdxElementId"`
			Type    string `json:"relationshipType"`
			Related string `json:"relatedSpdxElement"`
		} `json:"relationships"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("%w: SPDX document: %v", ErrInvalid, err)
	}
	described := map[string]bool{}
	for _, id := range d.DocumentDescribes {
		described[id] = true
	}
	for _, r := range d.Relationships {
		if r.Element == "SPDXRef-DOCUMENT" && r.Type == "DESCRIBES" {
			described[r.Related] = true
		}
	}
	stated := func(s string) string {
		if s = strings.TrimSpace(s); s == "NOASSERTION" {
			return ""
		}
		return s
	}
	out := []Package{}
	for _, sp := range d.Packages {
		if described[sp.SPDXID] {
			continue
		}
		p := Package{Name: sp.Name, Version: sp.VersionInfo, License: stated(sp.LicenseConcluded)}
		if p.License == "" {
			p.License = stated(sp.LicenseDeclared)
		}
		for _, r := range sp.ExternalRefs {
			// SPDX 2.3 spells the category PACKAGE-MANAGER, 2.2 PACKAGE_MANAGER.
			if r.Type == "purl" && strings.ReplaceAll(r.Category, "_", "-") == "PACKAGE-MANAGER" {
				p.PURL = r.Locator
				break
			}
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Package) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version),
			strings.Compare(a.License, b.License), strings.Compare(a.PURL, b.PURL))
	})
	return out, nil
}
