package appimage

import (
	"context"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// PredicateRebase is the predicate type of the rebase attestation.
const PredicateRebase = "https://clearcutt.dev/attestations/rebase/v1"

// RebaseOptions are the inputs of Rebase.
type RebaseOptions struct {
	// App names the application index by digest; AppIndex is its content.
	App      oci.Ref
	AppIndex v1.ImageIndex
	// VerifyApp verifies the application's own signature (the application
	// repository's identity or key); its signature channel must verify.
	VerifyApp Verifier
	// Onto names the new base index by digest.
	Onto      oci.Ref
	OntoIndex v1.ImageIndex
	// VerifyBase verifies the new base against the fleet identity.
	VerifyBase               Verifier
	BuildOnlyTiers           []string
	AllowBuildOnlyBaseUnsafe bool
}

// RebasedPlatform is one platform of a rebase.
type RebasedPlatform struct {
	Platform string `json:"platform"`
	// Before is the application platform image rebased, After the result.
	Before v1.Hash `json:"before"`
	After  v1.Hash `json:"after"`
	// OldBase and NewBase are the base platform images.
	OldBase v1.Hash `json:"oldBase"`
	NewBase v1.Hash `json:"newBase"`
	// AppLayers are the application layers, the same before and after.
	AppLayers []LayerRef `json:"appLayers"`
}

// RebaseResult is the rebased application index (not yet written).
type RebaseResult struct {
	Index  v1.ImageIndex `json:"-"`
	Digest v1.Hash       `json:"digest,omitzero"`
	// App is the application index rebased, by digest.
	App string `json:"app"`
	// OldBase is the base index the application was built on (its
	// base.name label); NewBase the base it is now on.
	OldBase          string            `json:"oldBase"`
	NewBase          Base              `json:"newBase"`
	AppVerification  verify.Report     `json:"appVerification"`
	BaseVerification verify.Report     `json:"baseVerification"`
	Platforms        []RebasedPlatform `json:"platforms"`
}

// appPlatform is one platform image of an application.
type appPlatform struct {
	platform v1.Platform
	digest   v1.Hash
	image    v1.Image
	config   *v1.ConfigFile
	manifest *v1.Manifest
	boundary Boundary
}

// readApp reads every platform image of an application index and its
// boundary. All platforms must name the same base index.
func readApp(ref oci.Ref, idx v1.ImageIndex) ([]appPlatform, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	var out []appPlatform
	for _, d := range im.Manifests {
		if d.Platform == nil {
			return nil, fmt.Errorf("%w: %s: index entry %s has no platform", ErrNoBoundary, ref, d.Digest)
		}
		where := platformString(*d.Platform)
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("%s: platform %s: %w", ref, where, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("%s: platform %s: config: %w", ref, where, err)
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("%s: platform %s: %w", ref, where, err)
		}
		b, err := ReadBoundary(cf)
		if err != nil {
			return nil, fmt.Errorf("%s: platform %s: %w", ref, where, err)
		}
		if len(m.Layers) != len(cf.RootFS.DiffIDs) {
			return nil, fmt.Errorf("%w: %s: platform %s has %d layers and %d diff_ids", ErrNoBoundary, ref, where, len(m.Layers), len(cf.RootFS.DiffIDs))
		}
		if len(out) > 0 && b.BaseName != out[0].boundary.BaseName {
			return nil, fmt.Errorf("%w: %s: platform %s is on %s, platform %s on %s", ErrNoBoundary, ref,
				platformString(out[0].platform), out[0].boundary.BaseName, where, b.BaseName)
		}
		out = append(out, appPlatform{platform: *d.Platform, digest: d.Digest, image: img, config: cf, manifest: m, boundary: b})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has no platform images", ErrNoBoundary, ref)
	}
	return out, nil
}

// appLayers returns the application layers of p (those above the
// boundary) as addenda that reproduce their descriptors and history.
func (p appPlatform) appLayers() ([]mutate.Addendum, error) {
	layers, err := p.image.Layers()
	if err != nil {
		return nil, err
	}
	k := p.boundary.BaseLayers
	n := len(layers) - k
	hist := p.config.History
	if len(hist) < n {
		return nil, fmt.Errorf("%w: platform %s has %d history entries for %d application layers", ErrNoBoundary, platformString(p.platform), len(hist), n)
	}
	hist = hist[len(hist)-n:]
	adds := make([]mutate.Addendum, 0, n)
	for i, l := range layers[k:] {
		if hist[i].EmptyLayer {
			return nil, fmt.Errorf("%w: platform %s: the history of application layer %d is an empty layer", ErrNoBoundary, platformString(p.platform), i+1)
		}
		desc := p.manifest.Layers[k+i]
		adds = append(adds, mutate.Addendum{Layer: l, History: hist[i], Annotations: desc.Annotations, MediaType: desc.MediaType})
	}
	return adds, nil
}

// Rebase verifies the application's own signature and the new base, checks
// that the new base is of the application's runtime line (runtime and
// tier; the version may change), has each of its architectures and runs as
// the same user, and lays the application layers, byte for byte, over the
// new base's. The configuration is the one Build gives on the new base:
// the new base's, with the application's Config (recorded in its labels)
// applied. Nothing is written.
func Rebase(ctx context.Context, o RebaseOptions) (RebaseResult, error) {
	if err := checkIndexRef(o.App, o.AppIndex); err != nil {
		return RebaseResult{}, err
	}
	if err := checkIndexRef(o.Onto, o.OntoIndex); err != nil {
		return RebaseResult{}, err
	}
	if o.VerifyApp == nil || o.VerifyBase == nil {
		return RebaseResult{}, fmt.Errorf("%w: rebase needs a verifier for the application and one for the base", ErrBadOptions)
	}
	res := RebaseResult{App: o.App.String()}
	var err error
	if res.AppVerification, err = o.VerifyApp(ctx, o.App, o.AppIndex); err != nil {
		return res, err
	}
	if sig := res.AppVerification.Channel(verify.ChannelSignature); sig.Status != verify.StatusVerified {
		return res, fmt.Errorf("%w: %s: signature %s%s", ErrAppSignature, o.App, sig.Status, firstReason(sig))
	}
	apps, err := readApp(o.App, o.AppIndex)
	if err != nil {
		return res, err
	}
	res.OldBase = apps[0].boundary.BaseName
	if res.BaseVerification, err = verifyBase(ctx, o.VerifyBase, "new base", o.Onto, o.OntoIndex); err != nil {
		return res, err
	}
	base, plats, err := readBase(o.Onto, o.OntoIndex)
	if err != nil {
		return res, err
	}
	res.NewBase = base
	if err := checkDeployable(base, o.BuildOnlyTiers, o.AllowBuildOnlyBaseUnsafe); err != nil {
		return res, err
	}
	var images []oci.PlatformImage
	for _, ap := range apps {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		where := platformString(ap.platform)
		if err := sameLine(ap, base); err != nil {
			return res, fmt.Errorf("%s: platform %s: %w", o.Onto, where, err)
		}
		bp, ok := findPlatform(plats, ap.platform)
		if !ok {
			return res, fmt.Errorf("%w: %s has no %s image (it has %v); the application has one", ErrIncompatible, o.Onto, where, base.Platforms)
		}
		adds, err := ap.appLayers()
		if err != nil {
			return res, fmt.Errorf("%s: %w", o.App, err)
		}
		img, p, err := compose(bp, ap.boundary.Config, ap.config.Created.Time, o.Onto.String(), adds)
		if err != nil {
			return res, err
		}
		res.Platforms = append(res.Platforms, RebasedPlatform{Platform: p.Platform, Before: ap.digest, After: p.Digest,
			OldBase: ap.boundary.BaseDigest, NewBase: bp.digest, AppLayers: p.AppLayers})
		images = append(images, oci.PlatformImage{Platform: ap.platform, Image: img, Digest: p.Digest})
	}
	if res.Index, res.Digest, err = newIndex(images); err != nil {
		return res, err
	}
	return res, nil
}

// sameLine refuses a base of another runtime or tier, or running as
// another user, than the application platform image (whose runtime, tier
// and user labels come from the base it was built on).
func sameLine(ap appPlatform, b Base) error {
	l := ap.config.Config.Labels
	rt, tier := l[oci.LabelRuntime], l[oci.LabelTier]
	switch {
	case rt == "" || tier == "":
		return fmt.Errorf("%w: the application has no %s and %s labels", ErrNoBoundary, oci.LabelRuntime, oci.LabelTier)
	case rt != b.Runtime || tier != b.Tier:
		return fmt.Errorf("%w: the application is on the %s:%s line, the new base is %s", ErrIncompatible, rt, tier, b.Line())
	case ap.config.Config.User != b.User:
		return fmt.Errorf("%w: the application's files are owned by %s, the new base runs as %s", ErrIncompatible, ap.config.Config.User, b.User)
	}
	return nil
}

func firstReason(c verify.ChannelReport) string {
	for _, e := range c.Entries {
		if e.Status != verify.StatusVerified && e.Reason != "" {
			return " (" + e.Arch + ": " + e.Reason + ")"
		}
	}
	return ""
}

// RebasePredicate is the predicate of the rebase attestation: which
// application index was rebased from which base onto which, and, per
// platform, the images before and after and the application layers they
// share.
type RebasePredicate struct {
	App       string            `json:"app"`
	OldBase   string            `json:"oldBase"`
	NewBase   string            `json:"newBase"`
	Platforms []RebasedPlatform `json:"platforms"`
}

// Statement is the in-toto statement about the rebased index (named name
// when not empty) with the rebase predicate.
func (r RebaseResult) Statement(name string) ([]byte, error) {
	pred, err := json.Marshal(RebasePredicate{App: r.App, OldBase: r.OldBase, NewBase: r.NewBase.Reference, Platforms: r.Platforms})
	if err != nil {
		return nil, err
	}
	return attest.WrapPredicate(name, r.Digest, PredicateRebase, pred)
}

// SignRebase signs the rebased index and each platform image (the
// statement cosign v3 signs, as 'clearcutt attest' does) and the rebase
// attestation about the index, and stores every bundle with store, which
// must hold the rebased index. name is the subject name of the statements.
func SignRebase(ctx context.Context, store attest.Store, signer attest.Signer, name string, r RebaseResult) ([]attest.Attached, error) {
	if r.Index == nil {
		return nil, fmt.Errorf("%w: no rebased index", ErrBadOptions)
	}
	mt, err := r.Index.MediaType()
	if err != nil {
		return nil, err
	}
	size, err := r.Index.Size()
	if err != nil {
		return nil, err
	}
	im, err := r.Index.IndexManifest()
	if err != nil {
		return nil, err
	}
	type job struct {
		subject   v1.Descriptor
		platform  string
		predicate string
		statement []byte
	}
	indexDesc := v1.Descriptor{MediaType: mt, Digest: r.Digest, Size: size}
	var jobs []job
	for _, d := range append([]v1.Descriptor{indexDesc}, im.Manifests...) {
		st, err := attest.SignatureStatement(name, d.Digest)
		if err != nil {
			return nil, err
		}
		p := ""
		if d.Platform != nil {
			p = platformString(*d.Platform)
		}
		jobs = append(jobs, job{subject: v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, platform: p, predicate: attest.PredicateSignature, statement: st})
	}
	st, err := r.Statement(name)
	if err != nil {
		return nil, err
	}
	jobs = append(jobs, job{subject: indexDesc, predicate: PredicateRebase, statement: st})
	var out []attest.Attached
	for _, j := range jobs {
		b, err := attest.SignStatement(ctx, signer, j.statement)
		if err != nil {
			return out, fmt.Errorf("sign %s %s: %w", j.subject.Digest, j.predicate, err)
		}
		a, err := store.Attach(ctx, j.subject, b, j.predicate)
		if err != nil {
			return out, fmt.Errorf("store %s %s: %w", j.subject.Digest, j.predicate, err)
		}
		logs, _ := attest.TransparencyOf(b)
		out = append(out, attest.Attached{Subject: j.subject.Digest, Platform: j.platform, PredicateType: j.predicate, Artifact: a, LogIndexes: logs})
	}
	return out, nil
}
