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
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
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
			entries = append(entries, evaluate(c, t, *f, o.Policy, o.Now))
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
	for _, m := range im.Manifests {
		p := m.Platform
		if p == nil || p.OS == "" || p.OS == "unknown" {
			continue
		}
		arch := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			arch += "/" + p.Variant
		}
		out = append(out, target{arch: arch, digest: m.Digest})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: index has no platform images", ErrInvalidOptions)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].arch < out[j].arch })
	return out, nil
}

// collect verifies every bundle and legacy signature (and, for the index,
// every legacy attestation) attached to t, grouped by channel.
func collect(ctx context.Context, o Options, sv *signedVerifier, t target, isIndex bool) (map[Channel]*found, error) {
	out := map[Channel]*found{}
	add := func(c Channel) *found {
		if out[c] == nil {
			out[c] = &found{}
		}
		return out[c]
	}
	stored, err := o.Sources.Bundles.List(ctx, t.digest)
	if err != nil {
		return nil, fmt.Errorf("list evidence of %s: %w", t.digest, err)
	}
	for _, sb := range stored {
		b, pt, err := parseBundle(sb.Bundle)
		if err != nil {
			if c := channelOf(sb.PredicateType); c != "" {
				add(c).bad = append(add(c).bad, fmt.Errorf("bundle %s: %w", sb.Digest, err))
			}
			continue
		}
		c := channelOf(pt)
		if c == "" {
			continue // evidence ClearCutt does not verify
		}
		v, err := sv.verify(b, o.Policy.identities(c), t.digest)
		if err != nil {
			add(c).bad = append(add(c).bad, fmt.Errorf("bundle %s: %w", sb.Digest, err))
			continue
		}
		v.Source = sourceBundle
		add(c).ok = append(add(c).ok, v)
	}
	if o.Sources.Legacy == nil {
		return out, nil
	}
	if err := collectLegacySignatures(ctx, o, sv, t, add(ChannelSignature)); err != nil {
		return nil, err
	}
	if !isIndex || sv.keyMode {
		return out, nil
	}
	layers, err := o.Sources.Legacy.Attestations(ctx, t.digest)
	if err != nil {
		return nil, fmt.Errorf("legacy attestations of %s: %w", t.digest, err)
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
func evaluate(c Channel, t target, f found, p Policy, now time.Time) Entry {
	e := Entry{Arch: t.arch, Digest: t.digest.String(), Rejected: len(f.bad)}
	fail := func(st Status, err error) Entry {
		e.Status, e.Err, e.Reason = st, err, err.Error()
		return e
	}
	if len(f.ok) == 0 {
		if len(f.bad) == 0 {
			return fail(StatusMissing, fmt.Errorf("%w: no %s evidence for %s", ErrMissing, c, t.digest))
		}
		e.Rejected = len(f.bad) - 1
		return fail(StatusFailed, f.bad[0])
	}
	// Newest signature first: the latest evidence decides.
	sort.SliceStable(f.ok, func(i, j int) bool { return f.ok[i].SignedAt.After(f.ok[j].SignedAt) })
	use := func(v verified) { record(&e, v) }
	var firstErr error
	switch c {
	case ChannelVulnerabilities:
		return evaluateScans(e, f.ok, p, now)
	case ChannelTests:
		use(f.ok[0])
		reason, err := checkTests(f.ok[0])
		if err != nil {
			return fail(StatusFailed, err)
		}
		e.Status, e.Reason = StatusVerified, reason
		return e
	}
	for _, v := range f.ok {
		var err error
		switch c {
		case ChannelSBOM:
			err = checkSBOM(v, t.digest.Hex)
		case ChannelVEX:
			err = checkVEX(v)
		case ChannelProvenance:
			err = checkProvenance(v, p.ProvenanceBuilderID)
		}
		if err == nil {
			use(v)
			e.Status = StatusVerified
			return e
		}
		if firstErr == nil {
			use(v)
			firstErr = err
		}
	}
	return fail(StatusFailed, firstErr)
}

// evaluateScans uses the freshest readable scan: a failing gate fails the
// channel, a scan older than MaxScanAge leaves it pending.
func evaluateScans(e Entry, vs []verified, p Policy, now time.Time) Entry {
	var best *scan
	var firstErr error
	for _, v := range vs {
		s := parseScan(v)
		if s.parseErr != nil {
			if firstErr == nil {
				firstErr = s.parseErr
			}
			continue
		}
		if best == nil || s.at.After(best.at) {
			best = &s
		}
	}
	if best == nil {
		record(&e, vs[0])
		e.Status, e.Err, e.Reason = StatusFailed, firstErr, firstErr.Error()
		return e
	}
	record(&e, best.v)
	at := best.at
	e.ScanTime, e.DBBuiltAt = &at, best.dbBuilt
	switch age := now.Sub(best.at); {
	case best.gateErr != nil:
		e.Status, e.Err = StatusFailed, best.gateErr
	case age > p.maxScanAge():
		e.Status = StatusPending
		e.Err = fmt.Errorf("%w: newest scan is from %s, %s old (maximum %s)", ErrStale, best.at.Format(time.RFC3339), age.Round(time.Minute), p.maxScanAge())
	default:
		e.Status = StatusVerified
	}
	if e.Err != nil {
		e.Reason = e.Err.Error()
	}
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
