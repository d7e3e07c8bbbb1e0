// Package verify fetches and verifies every evidence channel of an image
// index on its own — signature, SBOM, provenance, test results,
// vulnerability scan and VEX — against an identity policy taken from
// clearcutt.yaml (or a public key), and reports verified, failed, missing
// or pending per channel and per architecture. It verifies by digest only.
package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/clearcutt/clearcutt/internal/oci"
)

// Options configure Run.
type Options struct {
	// Image names the index in the report (e.g. the reference given).
	Image string
	Index v1.ImageIndex
	// IndexDigest must be the digest of Index.
	IndexDigest v1.Hash
	Sources     Sources
	// Trusted is the Sigstore trusted material (keyless mode).
	Trusted root.TrustedMaterial
	Policy  Policy
	// Now is the time freshness is judged at (default time.Now()).
	Now time.Time
	// WithoutSCTUnsafe stops requiring a certificate transparency
	// timestamp in Fulcio certificates (private CAs without a CT log).
	WithoutSCTUnsafe bool
	// Progress, if set, receives one line per step.
	Progress func(string)
}

// target is one digest evidence is about.
type target struct {
	arch   string
	digest v1.Hash
	// unplatformed marks an index entry without a platform: no channel
	// can pass for it, so the image fails, naming the entry.
	unplatformed bool
	// name is the runtime the image says it is (its dev.clearcutt.runtime
	// label), which VEX products name.
	name string
}

// found is the evidence of one channel for one target.
type found struct {
	ok  []verified
	bad []error
}

// Run verifies every channel. An error means verification could not run
// (bad options, unreadable index or source); evidence problems are in the
// report.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Index == nil || o.Sources.Bundles == nil {
		return Report{}, fmt.Errorf("%w: an index and a bundle source are required", ErrInvalidOptions)
	}
	if err := o.Policy.Validate(); err != nil {
		return Report{}, err
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	d, err := o.Index.Digest()
	if err != nil {
		return Report{}, fmt.Errorf("index digest: %w", err)
	}
	if d != o.IndexDigest {
		return Report{}, fmt.Errorf("%w: index digest is %s, not %s", ErrInvalidOptions, d, o.IndexDigest)
	}
	platforms, err := platformTargets(o.Index)
	if err != nil {
		return Report{}, err
	}
	for i := range platforms {
		if platforms[i].name == "" {
			platforms[i].name = repositoryName(o.Image)
		}
	}
	sv, err := newSignedVerifier(o.Trusted, o.Policy, o.WithoutSCTUnsafe)
	if err != nil {
		return Report{}, err
	}

	index := target{arch: indexArch, digest: d}
	evidence := map[v1.Hash]map[Channel]*found{}
	for _, t := range append([]target{index}, platforms...) {
		progress(fmt.Sprintf("verifying evidence of %s (%s)", t.digest, t.arch))
		ev, err := collect(ctx, o, sv, t, t == index)
		if err != nil {
			return Report{}, err
		}
		evidence[t.digest] = ev
	}

	rep := Report{Image: o.Image, Digest: d.String(), VerifiedAt: o.Now, KeyMode: sv.keyMode}
	for _, c := range AllChannels() {
		var ts []target
		switch {
		case c == ChannelSignature:
			ts = append([]target{index}, platforms...)
		case perIndex(c):
			ts = []target{index}
		default:
			ts = platforms
		}
		var entries []Entry
		for _, t := range ts {
			f := evidence[t.digest][c]
			if f == nil {
				f = &found{}
			}
			entries = append(entries, evaluate(c, t, *f, o.Policy, o.Now, sv.keyMode))
		}
		rep.Channels = append(rep.Channels, aggregate(c, isRequired(o.Policy, c), entries))
	}
	return rep, nil
}

func platformTargets(idx v1.ImageIndex) ([]target, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("index manifest: %w", err)
	}
	var out []target
	platforms := 0
	for i, m := range im.Manifests {
		p := m.Platform
		if p == nil || p.OS == "" || p.OS == "unknown" || p.Architecture == "" {
			out = append(out, target{arch: fmt.Sprintf("manifests[%d]", i), digest: m.Digest, unplatformed: true})
			continue
		}
		platforms++
		arch := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			arch += "/" + p.Variant
		}
		out = append(out, target{arch: arch, digest: m.Digest, name: runtimeLabel(idx, m.Digest)})
	}
	if platforms == 0 {
		return nil, fmt.Errorf("%w: index has no platform images", ErrInvalidOptions)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].arch < out[j].arch })
	return out, nil
}

// repositoryName is the last path segment of a reference's repository
// (python for ghcr.io/acme/fleet/python@sha256:…).
func repositoryName(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		ref = ref[i+1:]
	}
	if i := strings.IndexByte(ref, ':'); i >= 0 {
		ref = ref[:i]
	}
	return ref
}

// runtimeLabel reads the runtime label of a platform image ("" when it
// cannot be read: the VEX check then names the image by digest only).
func runtimeLabel(idx v1.ImageIndex, d v1.Hash) string {
	img, err := idx.Image(d)
	if err != nil {
		return ""
	}
	cf, err := img.ConfigFile()
	if err != nil || cf == nil {
		return ""
	}
	return cf.Config.Labels[oci.LabelRuntime]
}

// collect verifies every bundle and legacy signature (and, for the index,
// every legacy attestation) attached to t, grouped by channel. Evidence
// that cannot be read or does not verify is recorded against its channel;
// only a source that cannot be listed at all stops verification.
func collect(ctx context.Context, o Options, sv *signedVerifier, t target, isIndex bool) (map[Channel]*found, error) {
	out := map[Channel]*found{}
	add := func(c Channel) *found {
		if out[c] == nil {
			out[c] = &found{}
		}
		return out[c]
	}
	// reject records err against channel c, or, when the evidence does not
	// say what it is, against every channel of t.
	reject := func(c Channel, err error) {
		if c != "" {
			add(c).bad = append(add(c).bad, err)
			return
		}
		for _, k := range AllChannels() {
			if perIndex(k) == isIndex || k == ChannelSignature {
				add(k).bad = append(add(k).bad, err)
			}
		}
	}
	stored, err := o.Sources.Bundles.List(ctx, t.digest)
	if err != nil {
		return nil, fmt.Errorf("list evidence of %s: %w", t.digest, err)
	}
	for _, sb := range stored {
		claimed := channelOf(sb.PredicateType)
		if sb.Err != nil {
			reject(claimed, fmt.Errorf("%w: referrer %s cannot be read: %v", ErrSignature, sb.Digest, sb.Err))
			continue
		}
		b, pt, err := parseBundle(sb.Bundle)
		if err != nil {
			reject(claimed, fmt.Errorf("bundle %s: %w", sb.Digest, err))
			continue
		}
		c := channelOf(pt)
		if c == "" && claimed == "" {
			continue // evidence ClearCutt does not verify
		}
		ids := o.Policy.identities(c)
		if c == "" {
			ids = o.Policy.identities(claimed)
		}
		v, err := sv.verify(b, ids, t.digest)
		switch {
		case err != nil:
			// A payload altered after signing (its predicate type
			// unreadable or changed) fails here, on the channel the
			// referrer claims.
			if claimed != "" && claimed != c {
				reject(claimed, fmt.Errorf("bundle %s: %w", sb.Digest, err))
			}
			if c != "" {
				add(c).bad = append(add(c).bad, fmt.Errorf("bundle %s: %w", sb.Digest, err))
			}
			continue
		case claimed != "" && claimed != c:
			reject(claimed, fmt.Errorf("%w: bundle %s holds a %q statement, not the %q its referrer claims", ErrContent, sb.Digest, pt, sb.PredicateType))
			if c == "" {
				continue
			}
		}
		v.Source = sourceBundle
		add(c).ok = append(add(c).ok, v)
	}
	if o.Sources.Legacy == nil {
		return out, nil
	}
	if err := collectLegacySignatures(ctx, o, sv, t, add(ChannelSignature)); err != nil {
		add(ChannelSignature).bad = append(add(ChannelSignature).bad, fmt.Errorf("%w: %v", ErrLegacyFormat, err))
	}
	if !isIndex || sv.keyMode {
		return out, nil
	}
	layers, err := o.Sources.Legacy.Attestations(ctx, t.digest)
	if err != nil {
		add(ChannelProvenance).bad = append(add(ChannelProvenance).bad, fmt.Errorf("%w: legacy attestations of %s cannot be read: %v", ErrLegacyFormat, t.digest, err))
		return out, nil
	}
	for i, l := range layers {
		e, err := parseLegacyAttestation(l)
		if err != nil {
			add(ChannelProvenance).bad = append(add(ChannelProvenance).bad, fmt.Errorf(".att layer %d: %w", i, err))
			continue
		}
		c := channelOf(e.predicateType())
		if c != ChannelProvenance {
			continue // the legacy form is read for generator provenance only
		}
		v, err := sv.verify(e, o.Policy.identities(c), t.digest)
		if err != nil {
			add(c).bad = append(add(c).bad, fmt.Errorf(".att layer %d: %w", i, err))
			continue
		}
		v.Source = sourceLegacy
		add(c).ok = append(add(c).ok, v)
	}
	return out, nil
}

// evaluate decides one channel for one target from its verified and rejected evidence.
func evaluate(c Channel, t target, f found, p Policy, now time.Time, keyMode bool) Entry {
	e := Entry{Arch: t.arch, Digest: t.digest.String(), Rejected: len(f.bad)}
	fail := func(st Status, err error) Entry {
		e.Status, e.Err, e.Reason = st, err, err.Error()
		return e
	}
	if t.unplatformed {
		return fail(StatusFailed, fmt.Errorf("%w: index entry %s (%s) has no platform: every manifest of the index must be a platform image", ErrContent, t.arch, t.digest))
	}
	if len(f.ok) == 0 {
		switch {
		case c == ChannelProvenance && keyMode && len(f.bad) == 0:
			e.Status, e.Reason = StatusNotApplicable, "SLSA provenance from slsa-github-generator is keyless; it is not verified against a public key"
			return e
		case len(f.bad) == 0:
			return fail(StatusMissing, fmt.Errorf("%w: no %s evidence for %s", ErrMissing, c, t.digest))
		}
		e.Rejected = len(f.bad) - 1
		return fail(StatusFailed, f.bad[0])
	}
	// Newest verified signature first (key-signed evidence has none and
	// keeps the store's order).
	sort.SliceStable(f.ok, func(i, j int) bool { return f.ok[i].SignedAt.After(f.ok[j].SignedAt) })
	use := func(v verified) { record(&e, v) }
	if c == ChannelVulnerabilities {
		return evaluateScans(e, f.ok, p, now, keyMode)
	}
	// Every other statement is made once per build (or is a document a
	// person signed off): a failing one is never hidden by a passing one,
	// of any age.
	var reason string
	for _, v := range f.ok {
		var err error
		switch c {
		case ChannelSBOM:
			err = checkSBOM(v, t.digest.Hex)
		case ChannelTests:
			var r string
			if r, err = checkTests(v); err == nil && reason == "" {
				reason = r
			}
		case ChannelVEX:
			err = checkVEX(v, t, now)
		case ChannelProvenance:
			err = checkProvenance(v, p.ProvenanceBuilderID)
		}
		if err != nil {
			use(v)
			return fail(StatusFailed, err)
		}
	}
	use(f.ok[0])
	e.Status, e.Reason = StatusVerified, reason
	return e
}

// record copies what the entry reports about the evidence it was decided on.
func record(e *Entry, v verified) {
	e.Source, e.Signer, e.Issuer, e.PredicateType = v.Source, v.Signer, v.Issuer, v.PredicateType
	e.SignedAt, e.Predicate = nil, nil
	if !v.SignedAt.IsZero() {
		at := v.SignedAt
		e.SignedAt = &at
	}
	if v.Statement != nil && v.PredicateType != PredicateSignature {
		if js, err := predicateJSON(v); err == nil {
			e.Predicate = js
		}
	}
}
