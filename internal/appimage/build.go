package appimage

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// DefaultDest is the image directory artifacts are placed under.
const DefaultDest = "/app"

// BuildOptions are the inputs of Build.
type BuildOptions struct {
	// Base names the base index by digest; BaseIndex is its content.
	Base      oci.Ref
	BaseIndex v1.ImageIndex
	// VerifyBase verifies the base against the fleet identity.
	VerifyBase Verifier
	// Artifacts become one layer each, in this order.
	Artifacts []Artifact
	// Dest is the image directory the artifacts go under (DefaultDest
	// when empty).
	Dest   string
	Config Config
	// SourceDateEpoch is the time of every file and of the image.
	SourceDateEpoch int64
	// WorkDir holds the compressed layers until the image is written
	// (required; the caller removes it).
	WorkDir string
	// BuildOnlyTiers are the tiers an application must not be built on
	// (dev); AllowBuildOnlyBaseUnsafe builds on them anyway.
	BuildOnlyTiers           []string
	AllowBuildOnlyBaseUnsafe bool
}

// LayerRef is one application layer.
type LayerRef struct {
	Digest v1.Hash `json:"digest"`
	DiffID v1.Hash `json:"diffID"`
	Size   int64   `json:"size"`
	// Describe is the layer's annotation: the artifact and its destination.
	Describe string `json:"describe,omitempty"`
}

// Platform is one platform image of an application.
type Platform struct {
	Platform string  `json:"platform"`
	Digest   v1.Hash `json:"digest"`
	// BaseDigest is the base platform image; BaseLayers and BaseTopLayer
	// the boundary recorded in the labels.
	BaseDigest   v1.Hash    `json:"baseDigest"`
	BaseLayers   int        `json:"baseLayers"`
	BaseTopLayer v1.Hash    `json:"baseTopLayer"`
	AppLayers    []LayerRef `json:"appLayers"`
}

// BuildResult is the application index Build made (not yet written).
type BuildResult struct {
	Index  v1.ImageIndex `json:"-"`
	Digest v1.Hash       `json:"digest,omitzero"`
	Base   Base          `json:"base"`
	// BaseVerification is the verification the base passed (or failed).
	BaseVerification verify.Report `json:"baseVerification"`
	Platforms        []Platform    `json:"platforms"`
}

// Build verifies the base, then adds the artifacts as layers on top of
// every platform image of the base and returns the index over them, with
// the base's platforms. Nothing is written but the layer files in WorkDir:
// a base that fails verification, is of a build-time tier or is not a fleet
// base, and any unreadable artifact, stop the build. The same base,
// artifacts, configuration and SourceDateEpoch always give the same digest.
func Build(ctx context.Context, o BuildOptions) (BuildResult, error) {
	if o.Dest == "" {
		o.Dest = DefaultDest
	}
	dest, err := cleanDest(o.Dest)
	if err != nil {
		return BuildResult{}, err
	}
	switch {
	case len(o.Artifacts) == 0:
		return BuildResult{}, fmt.Errorf("%w: no artifact", ErrBadOptions)
	case o.WorkDir == "":
		return BuildResult{}, fmt.Errorf("%w: no work directory", ErrBadOptions)
	case o.SourceDateEpoch < 0:
		return BuildResult{}, fmt.Errorf("%w: SOURCE_DATE_EPOCH %d is negative", ErrBadOptions, o.SourceDateEpoch)
	}
	if err := o.Config.Validate(); err != nil {
		return BuildResult{}, err
	}
	if err := checkIndexRef(o.Base, o.BaseIndex); err != nil {
		return BuildResult{}, err
	}
	res := BuildResult{}
	if res.BaseVerification, err = verifyBase(ctx, o.VerifyBase, "base", o.Base, o.BaseIndex); err != nil {
		return res, err
	}
	base, plats, err := readBase(o.Base, o.BaseIndex)
	if err != nil {
		return res, err
	}
	res.Base = base
	if err := checkDeployable(base, o.BuildOnlyTiers, o.AllowBuildOnlyBaseUnsafe); err != nil {
		return res, err
	}
	perPlatform, err := assignArtifacts(o.Artifacts, plats)
	if err != nil {
		return res, err
	}
	uid, gid, _ := nonRootUser(base.User)
	epoch := time.Unix(o.SourceDateEpoch, 0).UTC()
	built := map[int]*appLayer{}
	var images []oci.PlatformImage
	for i, bp := range plats {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var adds []mutate.Addendum
		owner := map[string]string{}
		for _, ai := range perPlatform[i] {
			a := o.Artifacts[ai]
			spec := layerSpec{src: a.Path, dest: dest, uid: uid, gid: gid, epoch: epoch}
			l := built[ai]
			if l == nil {
				if l, err = buildLayer(o.WorkDir, spec); err != nil {
					return res, fmt.Errorf("artifact %s: %w", a.Path, err)
				}
				built[ai] = l
			}
			for _, p := range l.paths {
				if prev, ok := owner[p]; ok {
					return res, fmt.Errorf("%w: %s: %s is in artifact %s and in artifact %s", ErrBadArtifact, platformString(bp.platform), p, prev, a.Path)
				}
				owner[p] = a.Path
			}
			d := spec.describe()
			adds = append(adds, mutate.Addendum{
				Layer:       l,
				History:     v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "clearcutt app: " + d},
				Annotations: map[string]string{AnnotationLayer: d},
			})
		}
		img, p, err := compose(bp, o.Config, epoch, o.Base.String(), adds)
		if err != nil {
			return res, err
		}
		res.Platforms = append(res.Platforms, p)
		images = append(images, oci.PlatformImage{Platform: bp.platform, Image: img, Digest: p.Digest})
	}
	if res.Index, res.Digest, err = newIndex(images); err != nil {
		return res, err
	}
	return res, nil
}

// assignArtifacts lists, per base platform, the artifacts it gets: every
// artifact without a platform, and those naming it. An artifact naming a
// platform the base lacks, or a platform left without any, is refused.
func assignArtifacts(as []Artifact, plats []basePlatform) ([][]int, error) {
	out := make([][]int, len(plats))
	for ai, a := range as {
		if a.Platform == "" {
			for i := range plats {
				out[i] = append(out[i], ai)
			}
			continue
		}
		matched := false
		for i, bp := range plats {
			if samePlatform(a.platform(), bp.platform) {
				out[i] = append(out[i], ai)
				matched = true
			}
		}
		if !matched {
			var have []string
			for _, bp := range plats {
				have = append(have, platformString(bp.platform))
			}
			return nil, fmt.Errorf("%w: artifact %s is for %s; the base has %s", ErrBadOptions, a.Path, a.Platform, strings.Join(have, ", "))
		}
	}
	for i, bp := range plats {
		if len(out[i]) == 0 {
			return nil, fmt.Errorf("%w: no artifact for %s (give one without a platform, or %s=PATH)", ErrBadOptions, platformString(bp.platform), platformString(bp.platform))
		}
	}
	return out, nil
}

// compose lays the application layers adds over one base platform image
// with the application configuration c. Build and Rebase both come here.
func compose(bp basePlatform, c Config, created time.Time, baseName string, adds []mutate.Addendum) (v1.Image, Platform, error) {
	where := platformString(bp.platform)
	m, err := bp.image.Manifest()
	if err != nil {
		return nil, Platform{}, fmt.Errorf("base %s: %w", where, err)
	}
	ids := bp.config.RootFS.DiffIDs
	if len(ids) == 0 || len(ids) != len(m.Layers) {
		return nil, Platform{}, fmt.Errorf("%w: base %s has %d layers and %d diff_ids", ErrNotFleetBase, where, len(m.Layers), len(ids))
	}
	b := Boundary{BaseLayers: len(ids), TopDiffID: ids[len(ids)-1], BaseDigest: bp.digest, BaseName: baseName, Config: c}
	cf, err := appConfig(bp.config, c, created, b)
	if err != nil {
		return nil, Platform{}, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(bp.image, types.OCIManifestSchema1), types.OCIConfigJSON)
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, Platform{}, err
	}
	if img, err = mutate.Append(img, adds...); err != nil {
		return nil, Platform{}, err
	}
	img = mutate.Annotations(img, map[string]string{
		oci.LabelBaseDigest: bp.digest.String(),
		oci.LabelBaseName:   baseName,
	}).(v1.Image)
	p := Platform{Platform: where, BaseDigest: bp.digest, BaseLayers: b.BaseLayers, BaseTopLayer: b.TopDiffID}
	if p.Digest, err = img.Digest(); err != nil {
		return nil, Platform{}, err
	}
	for _, a := range adds {
		lr, err := layerRef(a.Layer, a.Annotations[AnnotationLayer])
		if err != nil {
			return nil, Platform{}, err
		}
		p.AppLayers = append(p.AppLayers, lr)
	}
	return img, p, nil
}

func layerRef(l v1.Layer, describe string) (LayerRef, error) {
	d, err := partial.Descriptor(l)
	if err != nil {
		return LayerRef{}, err
	}
	diff, err := l.DiffID()
	if err != nil {
		return LayerRef{}, err
	}
	return LayerRef{Digest: d.Digest, DiffID: diff, Size: d.Size, Describe: describe}, nil
}

// newIndex is the index over the platform images, built the way the
// fleet's indexes are (oci.NewIndex).
func newIndex(images []oci.PlatformImage) (v1.ImageIndex, v1.Hash, error) {
	sort.SliceStable(images, func(i, j int) bool { return platformString(images[i].Platform) < platformString(images[j].Platform) })
	idx, err := oci.NewIndex(images)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, v1.Hash{}, err
	}
	return idx, d, nil
}

// checkIndexRef requires ref to be by digest and idx to have that digest.
func checkIndexRef(ref oci.Ref, idx v1.ImageIndex) error {
	want, err := ref.Hash()
	if err != nil {
		return err
	}
	if idx == nil {
		return fmt.Errorf("%w: %s: no index", ErrBadOptions, ref)
	}
	got, err := idx.Digest()
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	if got != want {
		return fmt.Errorf("%w: %s: the index supplied has digest %s", ErrBadOptions, ref, got)
	}
	return nil
}
