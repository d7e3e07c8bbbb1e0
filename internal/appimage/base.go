package appimage

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// Verifier verifies the evidence of the index idx named by ref. The CLI
// passes internal/verify with the fleet's identity (or public key) for
// bases, and with the application repository's identity for application
// images.
type Verifier func(ctx context.Context, ref oci.Ref, idx v1.ImageIndex) (verify.Report, error)

// Base describes a fleet base index.
type Base struct {
	// Reference names the index by digest.
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
	// Runtime and Tier are the runtime line (dev.clearcutt.runtime and
	// dev.clearcutt.tier); Version is the runtime version label, which
	// may change within a line.
	Runtime string `json:"runtime"`
	Tier    string `json:"tier"`
	Version string `json:"version,omitempty"`
	Fleet   string `json:"fleet,omitempty"`
	// User is the non-root uid:gid the base runs as.
	User string `json:"user"`
	// Platforms are os/arch[/variant], sorted.
	Platforms []string `json:"platforms"`
}

// Line is "runtime:tier".
func (b Base) Line() string { return b.Runtime + ":" + b.Tier }

// basePlatform is one platform image of a base.
type basePlatform struct {
	platform v1.Platform
	digest   v1.Hash
	image    v1.Image
	config   *v1.ConfigFile
}

// readBase reads every platform image of a base index and checks that it
// is a fleet base: each platform carries the same runtime and tier labels
// and runs as the same numeric non-root user.
func readBase(ref oci.Ref, idx v1.ImageIndex) (Base, []basePlatform, error) {
	d, err := idx.Digest()
	if err != nil {
		return Base{}, nil, fmt.Errorf("%s: %w", ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return Base{}, nil, fmt.Errorf("%s: %w", ref, err)
	}
	b := Base{Reference: ref.String(), Digest: d.String()}
	var out []basePlatform
	for _, desc := range im.Manifests {
		if desc.Platform == nil {
			return Base{}, nil, fmt.Errorf("%w: %s: index entry %s has no platform", ErrNotFleetBase, ref, desc.Digest)
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return Base{}, nil, fmt.Errorf("%s: platform %s: %w", ref, platformString(*desc.Platform), err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return Base{}, nil, fmt.Errorf("%s: platform %s: config: %w", ref, platformString(*desc.Platform), err)
		}
		p := basePlatform{platform: *desc.Platform, digest: desc.Digest, image: img, config: cf}
		l := cf.Config.Labels
		rt, tier := l[oci.LabelRuntime], l[oci.LabelTier]
		if rt == "" || tier == "" {
			return Base{}, nil, fmt.Errorf("%w: %s: platform %s has no %s and %s labels", ErrNotFleetBase, ref, platformString(p.platform), oci.LabelRuntime, oci.LabelTier)
		}
		if _, _, err := nonRootUser(cf.Config.User); err != nil {
			return Base{}, nil, fmt.Errorf("%w: %s: platform %s: %w", ErrNotFleetBase, ref, platformString(p.platform), err)
		}
		if len(out) == 0 {
			b.Runtime, b.Tier, b.Version, b.Fleet, b.User = rt, tier, l[LabelVersion], l[LabelFleet], cf.Config.User
		} else if rt != b.Runtime || tier != b.Tier || cf.Config.User != b.User {
			return Base{}, nil, fmt.Errorf("%w: %s: platform %s is %s:%s as %s, platform %s is %s:%s as %s", ErrNotFleetBase, ref,
				b.Platforms[0], b.Runtime, b.Tier, b.User, platformString(p.platform), rt, tier, cf.Config.User)
		}
		b.Platforms = append(b.Platforms, platformString(p.platform))
		out = append(out, p)
	}
	if len(out) == 0 {
		return Base{}, nil, fmt.Errorf("%w: %s has no platform images", ErrNotFleetBase, ref)
	}
	sort.SliceStable(out, func(i, j int) bool { return platformString(out[i].platform) < platformString(out[j].platform) })
	sort.Strings(b.Platforms)
	return b, out, nil
}

// nonRootUser parses a numeric "uid:gid" (or "uid", gid = uid) other than root.
func nonRootUser(user string) (int, int, error) {
	u, g, hasGroup := strings.Cut(user, ":")
	if !hasGroup {
		g = u
	}
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	switch {
	case user == "":
		return 0, 0, fmt.Errorf("it runs as root (no user)")
	case err1 != nil || err2 != nil || uid < 0 || gid < 0:
		return 0, 0, fmt.Errorf("user %q is not a numeric uid:gid", user)
	case uid == 0:
		return 0, 0, fmt.Errorf("it runs as root (user %q)", user)
	}
	return uid, gid, nil
}

// platformString is os/arch[/variant].
func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// samePlatform matches os and architecture, and the variant when both name one.
func samePlatform(a, b v1.Platform) bool {
	return a.OS == b.OS && a.Architecture == b.Architecture && (a.Variant == "" || b.Variant == "" || a.Variant == b.Variant)
}

func findPlatform(ps []basePlatform, p v1.Platform) (basePlatform, bool) {
	for _, bp := range ps {
		if samePlatform(bp.platform, p) {
			return bp, true
		}
	}
	return basePlatform{}, false
}

// verifyBase runs the verifier and refuses a base whose required channels
// are not all verified, naming them.
func verifyBase(ctx context.Context, v Verifier, what string, ref oci.Ref, idx v1.ImageIndex) (verify.Report, error) {
	if v == nil {
		return verify.Report{}, fmt.Errorf("%w: no verifier for the %s", ErrBadOptions, what)
	}
	rep, err := v(ctx, ref, idx)
	if err != nil {
		return rep, err
	}
	if !rep.Passed() {
		return rep, fmt.Errorf("%w: %s %s: %s", ErrBaseRejected, what, ref, failedChannels(rep))
	}
	return rep, nil
}

// failedChannels names each required channel that is not verified, with
// the first reason given for it.
func failedChannels(rep verify.Report) string {
	var out []string
	for _, c := range rep.Channels {
		if !c.Required || c.Status == verify.StatusVerified {
			continue
		}
		s := fmt.Sprintf("%s %s", c.Channel, c.Status)
		for _, e := range c.Entries {
			if e.Status != verify.StatusVerified && e.Reason != "" {
				s += " (" + e.Arch + ": " + e.Reason + ")"
				break
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return "no required channel is verified"
	}
	return strings.Join(out, "; ")
}

// checkDeployable refuses a base of a build-time tier unless allowed.
func checkDeployable(b Base, buildOnly []string, allowUnsafe bool) error {
	if slices.Contains(buildOnly, b.Tier) && !allowUnsafe {
		return fmt.Errorf("%w: %s is %s, a build-time tier never deployed; build on a deployable tier (or pass --allow-dev-base-unsafe)", ErrBuildOnlyBase, b.Reference, b.Line())
	}
	return nil
}
