package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// CatalogOptions configure Catalog. The images come from the registry of
// the fleet file (each image's tags resolved to a digest once), from an
// OCI layout (From), or from a release's images file (Images, with the
// images whose release failed in Failed).
type CatalogOptions struct {
	Fleet *fleet.File
	// Out is the catalog directory: catalog.json and sbom/ are written
	// there, and the catalog already there is the previous one.
	Out string
	// From is an OCI layout, oci:DIR ("": none).
	From string
	// Images is a release's images file (ReadImagesFile; nil: none);
	// Failed its failed images (ReadFailedFile).
	Images map[string]oci.Ref
	Failed []FailedImage
	// Verifier verifies every image; KeyPath is the public key it pins,
	// recorded in the catalog in key mode.
	Verifier stage.Verifier
	KeyPath  string
	// Keychain authenticates to registries (nil: authn.DefaultKeychain).
	Keychain authn.Keychain
	// Log receives the numbered steps and warnings (nil: none).
	Log      io.Writer
	Progress stage.Progress
}

// CatalogReport is what Catalog wrote: the catalog and where it is, and
// the images found that are not of the fleet.
type CatalogReport struct {
	Path    string          `json:"path"`
	Passed  bool            `json:"passed"`
	Catalog catalog.Catalog `json:"catalog"`
	Strays  []Stray         `json:"strays"`
}

// Stray is an image found that is not of the fleet: its <runtime>:<tier>
// is not an image of clearcutt.yaml, or its labels name another fleet. A
// stray is neither verified nor catalogued; it fails nothing.
type Stray struct {
	Name      string `json:"name"`
	Reference string `json:"reference"`
	Reason    string `json:"reason"`
}

// cataloger is one Catalog run.
type cataloger struct{ CatalogOptions }

func (c cataloger) log() io.Writer {
	if c.Log == nil {
		return io.Discard
	}
	return c.Log
}

func (c cataloger) keychain() authn.Keychain {
	if c.Keychain == nil {
		return authn.DefaultKeychain
	}
	return c.Keychain
}

// Catalog finds the fleet's images, verifies every evidence channel of
// each, and writes the catalog: catalog.json is replaced atomically, and
// only when every image could be read. An image found that is not of the
// fleet (see Stray) is left out, with a warning on the log and an entry in
// the report's Strays. An image whose release failed is
// recorded with its reason; where its tags still name an earlier release in
// the registry, that release is catalogued and verified like the others.
// The report's Passed is false when an image is not verified or its
// release failed.
func Catalog(ctx context.Context, o CatalogOptions) (CatalogReport, error) {
	c := cataloger{o}
	f := o.Fleet
	rep := CatalogReport{Path: filepath.Join(o.Out, catalog.FileName), Strays: []Stray{}}
	if len(o.Failed) > 0 && o.Images == nil {
		return rep, outcome.Usage(errors.New("--failed needs --images: it names the images of a release that failed"))
	}
	prev, err := catalog.Read(o.Out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return rep, outcome.Usage(fmt.Errorf("--out: %w", err))
	}
	var targets []catalogTarget
	var strays []Stray
	registry := f.Registry.Repository
	switch {
	case o.From != "":
		registry = o.From
		targets, strays, err = c.layoutTargets(ctx, o.From)
	case o.Images != nil:
		targets, strays, err = c.imagesFileTargets(ctx, o.Images)
	default:
		targets, strays, err = c.registryTargets(ctx)
	}
	if err != nil {
		return rep, err
	}
	var failures []catalog.FailedRelease
	for _, fi := range o.Failed {
		failures = append(failures, catalog.FailedRelease{Name: fi.Image.RefName, Reason: fi.Reason, Version: fi.Image.Version})
		t, served, err := c.servedTarget(ctx, fi.Image)
		if err != nil {
			return rep, err
		}
		if !served {
			fmt.Fprintf(c.log(), "clearcutt: %s: its release failed and none of its tags (%s) exists: no release of it is served\n", fi.Image.RefName, strings.Join(fi.Image.Tags, ", "))
			continue
		}
		stray, err := c.labelStray(t)
		if err != nil {
			return rep, err
		}
		if stray != nil {
			strays = append(strays, *stray)
		} else {
			targets = append(targets, t)
		}
	}
	for _, s := range strays {
		fmt.Fprintf(c.log(), "clearcutt: warning: %s (%s) is not catalogued: %s\n", s.Name, s.Reference, s.Reason)
	}
	rep.Strays = append(rep.Strays, strays...)
	if len(targets) == 0 && len(o.Failed) == 0 {
		return rep, outcome.Usage(fmt.Errorf("no image of %s found, %d stray(s): nothing to catalogue", f.Path, len(strays)))
	}
	var observed []catalog.Observed
	for i, t := range targets {
		fmt.Fprintf(c.log(), "[%d/%d] catalog %s %s\n", i+1, len(targets), t.name, t.ref)
		vrep, err := o.Verifier.VerifyIndex(ctx, t.ref, t.idx)
		if err != nil {
			return rep, err
		}
		observed = append(observed, catalog.Observed{Name: t.name, Reference: t.ref.String(), Tags: t.tags,
			Index: t.idx, Report: vrep, Version: t.version})
	}
	update, done := stage.ProgressOf(o.Progress).Status("catalog")
	res, err := catalog.Build(ctx, catalog.Options{
		Fleet: CatalogFleet(f, o.Verifier, o.KeyPath, registry), Images: observed, Failed: failures, Previous: prev,
		Descriptions: runtimeDescriptions(f), Progress: update,
	})
	done()
	if err != nil {
		return rep, err
	}
	if err := catalog.Write(o.Out, res); err != nil {
		return rep, fmt.Errorf("writing the catalog to %s: %w", o.Out, err)
	}
	rep.Catalog, rep.Passed = res.Catalog, res.Passed()
	return rep, nil
}

// catalogTarget is one image found, by digest.
type catalogTarget struct {
	name    string
	ref     oci.Ref
	tags    []string
	idx     v1.ImageIndex
	version string
}

// CatalogFleet is who publishes the fleet and what verification pinned.
func CatalogFleet(f *fleet.File, v stage.Verifier, keyPath, registry string) catalog.Fleet {
	out := catalog.Fleet{
		Name: f.Metadata.Name, Repository: f.Identity.Repository, Registry: registry,
		ProvenanceBuilderID: v.Policy.ProvenanceBuilderID, RequiredChannels: []string{},
	}
	if len(v.Policy.PublicKey) > 0 {
		// The path is the signing machine's; the key itself is what a
		// consumer verifies with.
		out.PublicKey, out.PublicKeyPEM = keyPath, catalog.PublicKeyPEM(v.Policy.PublicKey)
	} else {
		s := v.Policy.Signer
		out.Identity = &catalog.Identity{Issuer: s.Issuer, BuildSignerURI: s.SAN,
			SourceRepositoryURI: s.SourceRepositoryURI, SourceRepositoryRef: s.SourceRepositoryRef}
		if r := v.Policy.Rescan; r != nil {
			out.Identity.RescanSignerURI = r.SAN
		}
	}
	required := v.Policy.RequiredChannels
	if len(required) == 0 {
		required = verify.AllChannels()
	}
	for _, c := range required {
		out.RequiredChannels = append(out.RequiredChannels, string(c))
	}
	return out
}

// runtimeDescriptions are the descriptions clearcutt.yaml gives its
// runtimes, by runtime id.
func runtimeDescriptions(f *fleet.File) map[string]string {
	out := map[string]string{}
	for _, r := range f.Runtimes {
		if r.Description != "" {
			out[r.ID] = r.Description
		}
	}
	return out
}

// fleetVersion is the version clearcutt.yaml declares for image name.
func fleetVersion(f *fleet.File, imageName string) string {
	for _, img := range f.Images() {
		if img.RefName == imageName {
			return img.Version
		}
	}
	return ""
}

// notInFleet is the reason image name is a stray when it is not an image of
// clearcutt.yaml, or "".
func (c cataloger) notInFleet(imageName string) string {
	for _, img := range c.Fleet.Images() {
		if img.RefName == imageName {
			return ""
		}
	}
	file := "clearcutt.yaml"
	if c.Fleet.Path != "" {
		file = filepath.Base(c.Fleet.Path)
	}
	return "not an image of " + file
}

// labelStray is t as a stray when the config of its first platform image
// has a fleet label other than metadata.name, or nil. An image without the
// label, published before it existed, is of the fleet by its name alone.
func (c cataloger) labelStray(t catalogTarget) (*Stray, error) {
	label, err := fleetLabel(t.idx)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", t.name, t.ref, err)
	}
	if label == "" || label == c.Fleet.Metadata.Name {
		return nil, nil
	}
	return &Stray{Name: t.name, Reference: t.ref.String(), Reason: "labelled for fleet " + label}, nil
}

// fleetLabel is the oci.LabelFleet label of the first platform image of
// idx ("": none).
func fleetLabel(idx v1.ImageIndex) (string, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return "", err
	}
	for _, d := range im.Manifests {
		if p := d.Platform; p == nil || p.OS == "" || p.OS == "unknown" || !d.MediaType.IsImage() {
			continue // attestation manifests and the like
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return "", fmt.Errorf("platform %s: %w", d.Platform, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return "", fmt.Errorf("platform %s: config: %w", d.Platform, err)
		}
		return cf.Config.Labels[oci.LabelFleet], nil
	}
	return "", nil
}

// layoutTargets are the indexes of the layout named <runtime>:<tier>; those
// whose name is not an image of clearcutt.yaml are strays.
func (c cataloger) layoutTargets(ctx context.Context, from string) ([]catalogTarget, []Stray, error) {
	ref, err := oci.ParseRef(from)
	if err != nil || !ref.IsLayout() || ref.Digest != "" {
		return nil, nil, outcome.Usage(fmt.Errorf("--from %q: want an OCI layout, oci:DIR (without a digest)", from))
	}
	root, err := layout.ImageIndexFromPath(ref.Layout)
	if err != nil {
		return nil, nil, outcome.Usage(fmt.Errorf("--from %s: %w", from, err))
	}
	im, err := root.IndexManifest()
	if err != nil {
		return nil, nil, outcome.Usage(fmt.Errorf("--from %s: index.json: %w", from, err))
	}
	var out []catalogTarget
	var strays []Stray
	seen := map[string]bool{}
	for _, d := range im.Manifests {
		n := d.Annotations[oci.AnnotationRefName]
		if !catalog.ValidName(n) {
			continue // evidence (sha256-<hex>) and entries that are no fleet image
		}
		r := oci.Ref{Layout: ref.Layout, Digest: d.Digest.String()}
		if reason := c.notInFleet(n); reason != "" {
			strays = append(strays, Stray{Name: n, Reference: r.String(), Reason: reason})
			continue
		}
		if seen[n] {
			return nil, nil, outcome.Usage(fmt.Errorf("--from %s: index.json names %s twice", from, n))
		}
		seen[n] = true
		if !d.MediaType.IsIndex() {
			return nil, nil, outcome.Usage(fmt.Errorf("--from %s: %s (%s) is a %s, not an image index", from, n, d.Digest, d.MediaType))
		}
		t, stray, err := c.open(ctx, n, r)
		if err != nil {
			return nil, nil, err
		}
		if stray != nil {
			strays = append(strays, *stray)
			continue
		}
		out = append(out, t)
	}
	if len(out) == 0 && len(strays) == 0 {
		return nil, nil, outcome.Usage(fmt.Errorf("--from %s: index.json names no <runtime>:<tier> image", from))
	}
	return out, strays, nil
}

// open reads the index ref names as the image n of the fleet; stray is
// set when its labels say it belongs to another fleet.
func (c cataloger) open(ctx context.Context, n string, ref oci.Ref) (catalogTarget, *Stray, error) {
	_, idx, err := stage.OpenIndex(ctx, ref.String(), "")
	if err != nil {
		return catalogTarget{}, nil, err
	}
	t := catalogTarget{name: n, ref: ref, tags: []string{}, idx: idx, version: fleetVersion(c.Fleet, n)}
	stray, err := c.labelStray(t)
	return t, stray, err
}

// imagesFileTargets are the images of an images file; a registry image
// also gets the tags of clearcutt.yaml that point at its digest. A name
// that is not an image of clearcutt.yaml is a stray.
func (c cataloger) imagesFileTargets(ctx context.Context, refs map[string]oci.Ref) ([]catalogTarget, []Stray, error) {
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []catalogTarget
	var strays []Stray
	for _, n := range names {
		ref := refs[n]
		if reason := c.notInFleet(n); reason != "" {
			strays = append(strays, Stray{Name: n, Reference: ref.String(), Reason: reason})
			continue
		}
		t, stray, err := c.open(ctx, n, ref)
		if err != nil {
			return nil, nil, err
		}
		if stray != nil {
			strays = append(strays, *stray)
			continue
		}
		if !ref.IsLayout() {
			for _, img := range c.Fleet.Images() {
				if img.RefName != n {
					continue
				}
				d, _ := ref.Hash()
				resolved, err := c.resolveTags(ctx, ref.Repo, img.Tags)
				if err != nil {
					return nil, nil, err
				}
				t.tags = tagsOf(resolved, d)
				c.warnOtherTags(n, d, resolved)
			}
		}
		out = append(out, t)
	}
	return out, strays, nil
}

// servedTarget is the release of img its tags name in the registry: the
// first of its tags that exists names the digest, and every tag that points
// at that digest is recorded. served is false when none of its tags exists
// (or it has none).
func (c cataloger) servedTarget(ctx context.Context, img fleet.Image) (catalogTarget, bool, error) {
	if len(img.Tags) == 0 {
		return catalogTarget{}, false, nil
	}
	repo, err := name.NewRepository(img.Repository, name.StrictValidation)
	if err != nil {
		return catalogTarget{}, false, outcome.Usage(fmt.Errorf("%s: registry.repository: %s: %w", c.Fleet.Path, img.Repository, err))
	}
	resolved, err := c.resolveTags(ctx, repo, img.Tags)
	if err != nil || len(resolved) == 0 {
		return catalogTarget{}, false, err
	}
	d := resolved[0].digest
	c.warnOtherTags(img.RefName, d, resolved)
	ref := oci.Ref{Repo: repo, Digest: d.String()}
	_, idx, err := stage.OpenIndex(ctx, ref.String(), "")
	if err != nil {
		return catalogTarget{}, false, err
	}
	return catalogTarget{name: img.RefName, ref: ref, tags: tagsOf(resolved, d), idx: idx, version: img.Version}, true, nil
}

// registryTargets resolves the tags of every image of clearcutt.yaml in its
// registry: the first tag that exists names the digest, and every tag that
// points at that digest is recorded. An image labelled for another fleet
// is a stray.
func (c cataloger) registryTargets(ctx context.Context) ([]catalogTarget, []Stray, error) {
	if len(c.Fleet.Registry.Tags) == 0 {
		return nil, nil, outcome.Usage(fmt.Errorf("%s: registry.tags is empty, so no tag names an image: use --images or --from", c.Fleet.Path))
	}
	var out []catalogTarget
	var strays []Stray
	for _, img := range c.Fleet.Images() {
		t, served, err := c.servedTarget(ctx, img)
		if err != nil {
			return nil, nil, err
		}
		if !served {
			return nil, nil, fmt.Errorf("%s: none of its tags (%s) exists in %s: the image is not published", img.RefName, strings.Join(img.Tags, ", "), img.Repository)
		}
		stray, err := c.labelStray(t)
		if err != nil {
			return nil, nil, err
		}
		if stray != nil {
			strays = append(strays, *stray)
			continue
		}
		out = append(out, t)
	}
	return out, strays, nil
}

// resolvedTag is a tag and the digest it points at.
type resolvedTag struct {
	tag    string
	digest v1.Hash
}

// resolveTags resolves each tag of repo, in order. A tag that does not
// exist is left out; any other registry error is returned.
func (c cataloger) resolveTags(ctx context.Context, repo name.Repository, tags []string) ([]resolvedTag, error) {
	var out []resolvedTag
	for _, tag := range tags {
		desc, err := remote.Head(repo.Tag(tag), remote.WithContext(ctx), remote.WithAuthFromKeychain(c.keychain()))
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", repo.Tag(tag), err)
		}
		out = append(out, resolvedTag{tag, desc.Digest})
	}
	return out, nil
}

// tagsOf are the resolved tags that point at d.
func tagsOf(resolved []resolvedTag, d v1.Hash) []string {
	out := []string{}
	for _, r := range resolved {
		if r.digest == d {
			out = append(out, r.tag)
		}
	}
	return out
}

func (c cataloger) warnOtherTags(image string, d v1.Hash, resolved []resolvedTag) {
	for _, r := range resolved {
		if r.digest != d {
			fmt.Fprintf(c.log(), "clearcutt: warning: %s: tag %s points at %s, not at the catalogued %s\n", image, r.tag, r.digest, d)
		}
	}
}

// FailedImage is an image of the fleet whose release failed, and why.
type FailedImage struct {
	Image  fleet.Image
	Reason string
}

// ReadImagesFile reads a release's images file, a JSON object of
// <runtime>:<tier> to the released index by digest, as the publish
// workflow's collect step writes it (scripts/publish/collect.sh).
func ReadImagesFile(file string) (map[string]oci.Ref, error) {
	m, err := readNameMap(file, "--images", "a JSON object of <runtime>:<tier> to REFERENCE@sha256:…")
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, outcome.Usage(fmt.Errorf("--images %s: names no image", file))
	}
	refs := map[string]oci.Ref{}
	for _, n := range sortedKeys(m) {
		ref, err := oci.RequireDigest(m[n])
		if err != nil {
			return nil, outcome.Usage(fmt.Errorf("--images %s: %s: %w", file, n, err))
		}
		refs[n] = ref
	}
	return refs, nil
}

// ReadFailedFile reads a release's failed-images file, a JSON object of
// <runtime>:<tier> to the reason its release failed (the collect step
// writes it next to the images file), for images of the fleet f that are
// not in images (read from imagesFile).
func ReadFailedFile(f *fleet.File, file, imagesFile string, images map[string]oci.Ref) ([]FailedImage, error) {
	m, err := readNameMap(file, "--failed", "a JSON object of <runtime>:<tier> to the reason its release failed")
	if err != nil {
		return nil, err
	}
	var out []FailedImage
	for _, n := range sortedKeys(m) {
		if _, ok := images[n]; ok {
			return nil, outcome.Usage(fmt.Errorf("--failed %s: key %s is also in --images %s: an image is released or failed, not both", file, n, imagesFile))
		}
		var img *fleet.Image
		for _, i := range f.Images() {
			if i.RefName == n {
				img = &i
			}
		}
		if img == nil {
			return nil, outcome.Usage(fmt.Errorf("--failed %s: key %s is not an image of the fleet (%s)", file, n, f.Path))
		}
		out = append(out, FailedImage{Image: *img, Reason: m[n]})
	}
	return out, nil
}

// readNameMap reads file (the value of flag), a JSON object whose keys are
// <runtime>:<tier> and whose values are strings: want describes it in
// errors. Nothing may follow the object.
func readNameMap(file, flag, want string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, outcome.Usage(fmt.Errorf("%s: %w", flag, err))
	}
	var m map[string]string
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil || m == nil {
		if err == nil {
			err = errors.New("null")
		}
		return nil, outcome.Usage(fmt.Errorf("%s %s: want %s: %w", flag, file, want, err))
	}
	if dec.More() {
		return nil, outcome.Usage(fmt.Errorf("%s %s: data after the JSON object", flag, file))
	}
	for n := range m {
		if !catalog.ValidName(n) {
			return nil, outcome.Usage(fmt.Errorf("%s %s: key %q is not <runtime>:<tier>", flag, file, n))
		}
	}
	return m, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
