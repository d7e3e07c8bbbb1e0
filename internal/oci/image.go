package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/closure"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Label and annotation keys written by Assemble.
const (
	LabelCreated     = "org.opencontainers.image.created"
	LabelBaseDigest  = "org.opencontainers.image.base.digest"
	LabelBaseName    = "org.opencontainers.image.base.name"
	LabelRuntime     = "dev.clearcutt.runtime"
	LabelTier        = "dev.clearcutt.tier"
	LabelClosureRoot = "dev.clearcutt.closure-root"
	// LabelFleet is the metadata.name of the fleet that built the image
	// (set by stage.ImageConfig, not by Assemble itself).
	LabelFleet = "dev.clearcutt.fleet"
	// AnnotationLayer on a layer descriptor names its content: a store
	// path, "bucket N (M store paths)" or "root <store path>".
	AnnotationLayer = "dev.clearcutt.layer"
)

// ImageConfig is the runtime configuration shared by every architecture.
type ImageConfig struct {
	User       string // e.g. "65532:65532"
	Env        []string
	Entrypoint []string
	Cmd        []string
	WorkingDir string
	// Labels, e.g. org.opencontainers.image.source/revision/version.
	Labels map[string]string
}

// Base is an overlay base: the closure layers are appended on top of it.
// Ref must be by digest, and that digest must be the digest of Index (or of
// Image when a single-platform image is given).
type Base struct {
	Ref   string
	Index v1.ImageIndex
	Image v1.Image
}

// Event reports progress.
type Event struct {
	Step   string // "layer", "image", "index", "blob", "tag", "layout"
	Arch   string
	Detail string
	N      int // 1-based position within Total
	Total  int
}

// AssembleOptions are the inputs of Assemble.
type AssembleOptions struct {
	// Manifests holds one closure manifest per architecture.
	Manifests       []*closure.Manifest
	Config          ImageConfig
	SourceDateEpoch int64
	// LayerBudget is the maximum number of layers the closure adds
	// (DefaultLayerBudget when 0).
	LayerBudget int
	// CacheDir holds compressed layers keyed by content (required).
	CacheDir string
	// StoreDir is the logical store directory (DefaultStoreDir when empty).
	// FSRoot is prefixed to every path when reading files, so a test can
	// hold a fake store at FSRoot+"/nix/store".
	StoreDir string
	FSRoot   string
	Base     *Base
	Progress func(Event)
}

// LayerInfo describes one layer the closure contributed.
type LayerInfo struct {
	Kind     LayerKind
	Describe string
	// Bucket is the bucket number of a KindBucket layer.
	Bucket   int
	Paths    []string
	Digest   v1.Hash
	DiffID   v1.Hash
	Size     int64
	CacheHit bool
}

// PlatformImage is the image of one architecture.
type PlatformImage struct {
	Platform v1.Platform
	Image    v1.Image
	Digest   v1.Hash
	// BaseDigest is the platform base image's digest in overlay mode.
	BaseDigest *v1.Hash
	Layers     []LayerInfo
}

// Result is the output of Assemble.
type Result struct {
	Index  v1.ImageIndex
	Digest v1.Hash
	// Images are sorted by architecture.
	Images []PlatformImage
	// CacheHits and LayersBuilt count layers taken from the cache and
	// layers tarred and compressed by this run.
	CacheHits, LayersBuilt int
}

// Assemble builds one image per manifest and the index over them (NewIndex).
// The same manifests, files and options always give the same index digest,
// and an image's digest does not depend on the other manifests: assembling
// one architecture alone gives the same platform image.
func Assemble(ctx context.Context, o AssembleOptions) (Result, error) {
	if o.CacheDir == "" {
		return Result{}, errors.New("assemble: CacheDir is required")
	}
	if len(o.Manifests) == 0 {
		return Result{}, fmt.Errorf("%w: no manifests", ErrBadManifest)
	}
	if o.SourceDateEpoch < 0 {
		return Result{}, fmt.Errorf("assemble: SOURCE_DATE_EPOCH %d is negative", o.SourceDateEpoch)
	}
	if o.StoreDir == "" {
		o.StoreDir = DefaultStoreDir
	}
	ms := append([]*closure.Manifest(nil), o.Manifests...)
	for i, m := range ms {
		if m == nil {
			return Result{}, fmt.Errorf("%w: manifests[%d] is nil", ErrBadManifest, i)
		}
		if _, err := platformOf(m.Arch); err != nil {
			return Result{}, err
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Arch < ms[j].Arch })
	for i := 1; i < len(ms); i++ {
		if ms[i].Arch == ms[i-1].Arch {
			return Result{}, fmt.Errorf("%w: two manifests for architecture %s", ErrBadManifest, ms[i].Arch)
		}
		if ms[i].Runtime != ms[0].Runtime || ms[i].Tier != ms[0].Tier {
			return Result{}, fmt.Errorf("%w: manifests mix %s/%s and %s/%s", ErrBadManifest, ms[0].Runtime, ms[0].Tier, ms[i].Runtime, ms[i].Tier)
		}
	}
	var base *resolvedBase
	if o.Base != nil {
		b, err := resolveBase(o.Base)
		if err != nil {
			return Result{}, err
		}
		base = b
	}
	a := &assembler{o: o, cache: &layerCache{dir: o.CacheDir}}
	res := Result{}
	for _, m := range ms {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		pi, err := a.image(ctx, m, base)
		if err != nil {
			return Result{}, fmt.Errorf("%s/%s/%s: %w", m.Runtime, m.Tier, m.Arch, err)
		}
		res.Images = append(res.Images, pi)
	}
	idx, err := NewIndex(res.Images)
	if err != nil {
		return Result{}, err
	}
	d, err := idx.Digest()
	if err != nil {
		return Result{}, err
	}
	res.Index, res.Digest = idx, d
	res.CacheHits, res.LayersBuilt = a.hits, a.built
	a.progress(Event{Step: "index", Detail: d.String()})
	return res, nil
}

type assembler struct {
	o           AssembleOptions
	cache       *layerCache
	hits, built int
}

func (a *assembler) progress(e Event) {
	if a.o.Progress != nil {
		a.o.Progress(e)
	}
}

func (a *assembler) image(ctx context.Context, m *closure.Manifest, base *resolvedBase) (PlatformImage, error) {
	plat, _ := platformOf(m.Arch)
	plan, err := PlanLayers(m, a.o.LayerBudget)
	if err != nil {
		return PlatformImage{}, err
	}
	epoch := time.Unix(a.o.SourceDateEpoch, 0).UTC()
	src := &tarSource{storeDir: a.o.StoreDir, fsRoot: a.o.FSRoot, epoch: epoch, root: m.Root, allowed: map[string]bool{}, perms: m.Permissions}
	for _, l := range plan.Layers {
		if l.Kind != KindRoot {
			for _, p := range l.Paths {
				src.allowed[p.Path] = true
			}
		}
	}
	perms := parsePermKeys(m.Permissions)

	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	pi := PlatformImage{Platform: plat}
	if base != nil {
		bimg, bd, err := base.forPlatform(plat)
		if err != nil {
			return PlatformImage{}, err
		}
		img = mutate.ConfigMediaType(mutate.MediaType(bimg, types.OCIManifestSchema1), types.OCIConfigJSON)
		pi.BaseDigest = &bd
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return PlatformImage{}, err
	}
	cf = cf.DeepCopy()
	applyConfig(cf, a.o, m, plat, epoch, base, pi.BaseDigest)
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return PlatformImage{}, err
	}

	adds := make([]mutate.Addendum, 0, len(plan.Layers))
	for i, l := range plan.Layers {
		if err := ctx.Err(); err != nil {
			return PlatformImage{}, err
		}
		key := layerKey(l, perms, a.o.StoreDir, a.o.SourceDateEpoch)
		fl, err := a.cache.get(key)
		if err != nil {
			return PlatformImage{}, err
		}
		hit := fl != nil
		if hit {
			a.hits++
		} else {
			fl, err = a.cache.put(key, func(w io.Writer) error { return src.writeLayer(w, l) })
			if err != nil {
				return PlatformImage{}, fmt.Errorf("layer %s: %w", l.Describe(), err)
			}
			a.built++
		}
		info := LayerInfo{Kind: l.Kind, Describe: l.Describe(), Bucket: l.Bucket, Digest: fl.digest, DiffID: fl.diffID, Size: fl.size, CacheHit: hit}
		for _, p := range l.Paths {
			info.Paths = append(info.Paths, p.Path)
		}
		pi.Layers = append(pi.Layers, info)
		adds = append(adds, mutate.Addendum{
			Layer:       fl,
			History:     v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "clearcutt: " + l.Describe()},
			Annotations: map[string]string{AnnotationLayer: l.Describe()},
		})
		a.progress(Event{Step: "layer", Arch: m.Arch, Detail: l.Describe(), N: i + 1, Total: len(plan.Layers)})
	}
	if img, err = mutate.Append(img, adds...); err != nil {
		return PlatformImage{}, err
	}
	if base != nil {
		img = mutate.Annotations(img, map[string]string{
			LabelBaseDigest: pi.BaseDigest.String(),
			LabelBaseName:   base.ref.String(),
		}).(v1.Image)
	}
	if pi.Digest, err = img.Digest(); err != nil {
		return PlatformImage{}, err
	}
	pi.Image = img
	a.progress(Event{Step: "image", Arch: m.Arch, Detail: pi.Digest.String()})
	return pi, nil
}

func platformOf(arch string) (v1.Platform, error) {
	switch arch {
	case "amd64":
		return v1.Platform{OS: "linux", Architecture: "amd64"}, nil
	case "arm64":
		return v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, nil
	}
	return v1.Platform{}, fmt.Errorf("%w: field arch %q is not amd64 or arm64", ErrBadManifest, arch)
}

// applyConfig sets our configuration over cf (empty, or the base's).
func applyConfig(cf *v1.ConfigFile, o AssembleOptions, m *closure.Manifest, p v1.Platform, epoch time.Time, base *resolvedBase, baseDigest *v1.Hash) {
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: epoch}
	c := &cf.Config
	if o.Config.User != "" {
		c.User = o.Config.User
	}
	c.Env = MergeEnv(c.Env, o.Config.Env)
	if o.Config.Entrypoint != nil {
		c.Entrypoint = append([]string(nil), o.Config.Entrypoint...)
	}
	if o.Config.Cmd != nil {
		c.Cmd = append([]string(nil), o.Config.Cmd...)
	}
	if o.Config.WorkingDir != "" {
		c.WorkingDir = o.Config.WorkingDir
	}
	labels := map[string]string{}
	for k, v := range c.Labels {
		labels[k] = v
	}
	labels[LabelCreated] = epoch.Format(time.RFC3339)
	for k, v := range o.Config.Labels {
		labels[k] = v
	}
	labels[LabelRuntime] = m.Runtime
	labels[LabelTier] = m.Tier
	labels[LabelClosureRoot] = m.Root
	if base != nil {
		labels[LabelBaseDigest] = baseDigest.String()
		labels[LabelBaseName] = base.ref.String()
	}
	c.Labels = labels
}

// MergeEnv returns base with every KEY in ours replaced in place, followed by
// the keys base did not have, in our order.
func MergeEnv(base, ours []string) []string {
	out := append([]string(nil), base...)
	pos := map[string]int{}
	for i, e := range out {
		k, _, _ := strings.Cut(e, "=")
		pos[k] = i
	}
	for _, e := range ours {
		k, _, _ := strings.Cut(e, "=")
		if i, ok := pos[k]; ok {
			out[i] = e
			continue
		}
		pos[k] = len(out)
		out = append(out, e)
	}
	return out
}
