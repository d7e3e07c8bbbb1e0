package appimage

import (
	"context"
	"fmt"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/sbom/spdxdiff"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// DiffOptions are the inputs of DiffBase.
type DiffOptions struct {
	// App names the application index by digest.
	App      oci.Ref
	AppIndex v1.ImageIndex
	// Current is the base the application is on (CurrentBase tells which);
	// Candidate the base it could move to. Both are named by digest.
	Current        oci.Ref
	CurrentIndex   v1.ImageIndex
	Candidate      oci.Ref
	CandidateIndex v1.ImageIndex
	// Verify verifies a base against the fleet identity.
	Verify Verifier
}

// PackageChange is one package of an SBOM comparison.
type PackageChange = spdxdiff.Change

// PackageDelta compares the packages of two SBOMs of one platform.
type PackageDelta = spdxdiff.Delta

// VulnChange is one vulnerability of a package, on the current base
// (Before*) and the candidate (After*).
type VulnChange struct {
	ID       string `json:"id"`
	Package  string `json:"package"`
	Severity string `json:"severity,omitempty"`
	// The versions carrying it and the scan's status (active, suppressed
	// by VEX, excepted); empty where it is not found.
	BeforeVersion string `json:"beforeVersion,omitempty"`
	AfterVersion  string `json:"afterVersion,omitempty"`
	BeforeStatus  string `json:"beforeStatus,omitempty"`
	AfterStatus   string `json:"afterStatus,omitempty"`
}

// VulnDelta compares the vulnerability attestations of two bases of one
// platform: Fixed are found on the current base only, New on the candidate
// only, Still on both.
type VulnDelta struct {
	Fixed []VulnChange `json:"fixed"`
	New   []VulnChange `json:"new"`
	Still []VulnChange `json:"still"`
}

// PlatformDiff is the comparison of one platform.
type PlatformDiff struct {
	Platform        string       `json:"platform"`
	Current         v1.Hash      `json:"current"`
	Candidate       v1.Hash      `json:"candidate"`
	Packages        PackageDelta `json:"packages"`
	Vulnerabilities VulnDelta    `json:"vulnerabilities"`
}

// DiffReport is what DiffBase found.
type DiffReport struct {
	App       string `json:"app"`
	Current   Base   `json:"current"`
	Candidate Base   `json:"candidate"`
	// SameLine is true when runtime and tier are equal; VersionChanged
	// when the runtime version label differs (allowed within a line).
	SameLine       bool `json:"sameLine"`
	VersionChanged bool `json:"versionChanged"`
	// CandidateVerified is true when every required channel of the
	// candidate verified.
	CandidateVerified bool `json:"candidateVerified"`
	// Passed is false when the candidate cannot replace the current base
	// or the comparison could not use verified evidence; Problems say why.
	Passed    bool           `json:"passed"`
	Problems  []string       `json:"problems,omitempty"`
	Platforms []PlatformDiff `json:"platforms"`
	// CurrentVerification and CandidateVerification are the reports the
	// evidence was read from.
	CurrentVerification   verify.Report `json:"currentVerification"`
	CandidateVerification verify.Report `json:"candidateVerification"`
}

// CurrentBase returns the base index reference (by digest) an application
// index was built on: the base.name label, which every platform must agree on.
func CurrentBase(ref oci.Ref, idx v1.ImageIndex) (string, error) {
	apps, err := readApp(ref, idx)
	if err != nil {
		return "", err
	}
	return apps[0].boundary.BaseName, nil
}

// DiffBase compares the base an application is on with a candidate, per
// platform of the application: the package delta from the two bases'
// verified SBOMs and the vulnerability delta from their verified
// vulnerability attestations. The candidate must verify and be of the same
// runtime line, with every platform of the application. Only evidence
// whose signature verified is read. An error means the comparison could
// not run; a refusal is Passed false with Problems.
func DiffBase(ctx context.Context, o DiffOptions) (DiffReport, error) {
	for _, r := range []struct {
		ref oci.Ref
		idx v1.ImageIndex
	}{{o.App, o.AppIndex}, {o.Current, o.CurrentIndex}, {o.Candidate, o.CandidateIndex}} {
		if err := checkIndexRef(r.ref, r.idx); err != nil {
			return DiffReport{}, err
		}
	}
	if o.Verify == nil {
		return DiffReport{}, fmt.Errorf("%w: no verifier", ErrBadOptions)
	}
	rep := DiffReport{App: o.App.String(), Platforms: []PlatformDiff{}}
	apps, err := readApp(o.App, o.AppIndex)
	if err != nil {
		return rep, err
	}
	if name := apps[0].boundary.BaseName; name != o.Current.String() {
		return rep, fmt.Errorf("%w: %s is built on %s, not %s", ErrBadOptions, o.App, name, o.Current)
	}
	cur, curPlats, err := readBase(o.Current, o.CurrentIndex)
	if err != nil {
		return rep, err
	}
	cand, candPlats, err := readBase(o.Candidate, o.CandidateIndex)
	if err != nil {
		return rep, err
	}
	rep.Current, rep.Candidate = cur, cand
	rep.SameLine = cur.Runtime == cand.Runtime && cur.Tier == cand.Tier
	rep.VersionChanged = cur.Version != cand.Version
	if !rep.SameLine {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the candidate is %s, the application is on the %s line", cand.Line(), cur.Line()))
	}
	if cur.User != cand.User {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the candidate runs as %s, the application's files are owned by %s", cand.User, cur.User))
	}
	if rep.CurrentVerification, err = o.Verify(ctx, o.Current, o.CurrentIndex); err != nil {
		return rep, err
	}
	if rep.CandidateVerification, err = o.Verify(ctx, o.Candidate, o.CandidateIndex); err != nil {
		return rep, err
	}
	rep.CandidateVerified = rep.CandidateVerification.Passed()
	if !rep.CandidateVerified {
		rep.Problems = append(rep.Problems, "the candidate is not verified: "+failedChannels(rep.CandidateVerification))
	}
	for _, ap := range apps {
		where := platformString(ap.platform)
		cp, ok := findPlatform(curPlats, ap.platform)
		if !ok || cp.digest != ap.boundary.BaseDigest {
			return rep, fmt.Errorf("%w: %s: platform %s is on base image %s, which %s does not hold", ErrNoBoundary, o.App, where, ap.boundary.BaseDigest, o.Current)
		}
		np, ok := findPlatform(candPlats, ap.platform)
		if !ok {
			rep.Problems = append(rep.Problems, fmt.Sprintf("the candidate has no %s image", where))
			continue
		}
		if !rep.CandidateVerified || !rep.SameLine {
			continue
		}
		pd := PlatformDiff{Platform: where, Current: cp.digest, Candidate: np.digest}
		pd.Packages, err = comparePackages(rep.CurrentVerification, rep.CandidateVerification, cp.digest, np.digest)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", where, err))
			continue
		}
		pd.Vulnerabilities, err = compareVulns(rep.CurrentVerification, rep.CandidateVerification, cp.digest, np.digest)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", where, err))
			continue
		}
		rep.Platforms = append(rep.Platforms, pd)
	}
	rep.Passed = len(rep.Problems) == 0
	return rep, nil
}

// evidence returns the verified predicate of channel c for digest d. A
// vulnerability scan that is only stale (pending) is still read: its
// signature verified.
func evidence(rep verify.Report, c verify.Channel, d v1.Hash, which string) ([]byte, error) {
	for _, e := range rep.Channel(c).Entries {
		if e.Digest != d.String() {
			continue
		}
		ok := e.Status == verify.StatusVerified || c == verify.ChannelVulnerabilities && e.Status == verify.StatusPending
		if !ok || len(e.Predicate) == 0 {
			reason := e.Reason
			if reason == "" {
				reason = string(e.Status)
			}
			return nil, fmt.Errorf("the %s's %s of %s is not verified: %s", which, c, d, reason)
		}
		return e.Predicate, nil
	}
	return nil, fmt.Errorf("the %s has no %s entry for %s", which, c, d)
}

func comparePackages(cur, cand verify.Report, cd, nd v1.Hash) (PackageDelta, error) {
	before, err := evidence(cur, verify.ChannelSBOM, cd, "current base")
	if err != nil {
		return PackageDelta{}, err
	}
	after, err := evidence(cand, verify.ChannelSBOM, nd, "candidate")
	if err != nil {
		return PackageDelta{}, err
	}
	return DiffSBOMs(before, after)
}

func compareVulns(cur, cand verify.Report, cd, nd v1.Hash) (VulnDelta, error) {
	before, err := evidence(cur, verify.ChannelVulnerabilities, cd, "current base")
	if err != nil {
		return VulnDelta{}, err
	}
	after, err := evidence(cand, verify.ChannelVulnerabilities, nd, "candidate")
	if err != nil {
		return VulnDelta{}, err
	}
	return DiffVulns(before, after)
}

// DiffSBOMs compares the packages of two SPDX documents: a package (by
// package URL type and name) is added, removed, or changed when its
// versions differ.
func DiffSBOMs(before, after []byte) (PackageDelta, error) {
	return spdxdiff.Diff(before, after, "the current base's SBOM", "the candidate's SBOM")
}

func sortedKeys[V any](m map[[2]string]V) [][2]string {
	out := make([][2]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out
}

type vuln struct {
	severity, version, status string
}

// readVulns reads a verified vulns/v0.2 predicate as the catalog does, one
// entry per (vulnerability id, package).
func readVulns(which string, data []byte) (map[[2]string]vuln, error) {
	v, err := catalog.ReadVulnerabilities(data, time.Time{}, nil)
	if err != nil {
		return nil, fmt.Errorf("%s vulnerability attestation: %w", which, err)
	}
	out := map[[2]string]vuln{}
	for _, f := range v.Findings {
		k := [2]string{f.ID, f.Package}
		n := vuln{severity: f.Severity, version: f.Version, status: f.Status}
		// An active finding outranks a suppressed or excepted one of
		// another version.
		if prev, ok := out[k]; !ok || prev.status != "active" && n.status == "active" {
			out[k] = n
		}
	}
	return out, nil
}

// DiffVulns compares two vulns/v0.2 predicates by (vulnerability id,
// package): fixed (before only), new (after only) and still present.
func DiffVulns(before, after []byte) (VulnDelta, error) {
	b, err := readVulns("the current base's", before)
	if err != nil {
		return VulnDelta{}, err
	}
	a, err := readVulns("the candidate's", after)
	if err != nil {
		return VulnDelta{}, err
	}
	d := VulnDelta{Fixed: []VulnChange{}, New: []VulnChange{}, Still: []VulnChange{}}
	keys := map[[2]string]bool{}
	for k := range b {
		keys[k] = true
	}
	for k := range a {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		bv, bok := b[k]
		av, aok := a[k]
		c := VulnChange{ID: k[0], Package: k[1], Severity: av.severity,
			BeforeVersion: bv.version, AfterVersion: av.version, BeforeStatus: bv.status, AfterStatus: av.status}
		switch {
		case bok && !aok:
			c.Severity = bv.severity
			d.Fixed = append(d.Fixed, c)
		case !bok && aok:
			d.New = append(d.New, c)
		default:
			d.Still = append(d.Still, c)
		}
	}
	return d, nil
}
