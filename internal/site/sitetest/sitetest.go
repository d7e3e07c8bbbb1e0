// Package sitetest builds catalog directories for the tests of the static
// site: a fleet of several runtimes and tiers on two architectures, with
// every channel status, findings that are active, suppressed by VEX and
// excepted, package lists (one of which differs by architecture), and a
// history of scans.
package sitetest

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/closure"
)

// Hostile is markup and shell syntax that the site must show as text.
const Hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>'$(touch /tmp/pwned)&amp;`

// Options shape the fleet.
type Options struct {
	// Registry is the repository prefix images are published under
	// (default ghcr.io/acme/fleet); oci:DIR makes a local layout.
	Registry string
	// KeyMode signs with a public key instead of a keyless identity.
	KeyMode bool
	// Hostile puts Hostile into every free-text value: names, reasons,
	// package names, identities.
	Hostile bool
	// FailedReleases records the latest release of python:slim as failed
	// (ReleaseReason; its earlier release is still served) and adds
	// static:slim, whose release failed with no release served
	// (UnreleasedReason).
	FailedReleases bool
}

// Reasons of the failed releases of Options.FailedReleases.
const (
	ReleaseReason    = "gate: 2 critical findings on linux/arm64 (CVE-2024-5535)"
	UnreleasedReason = "build: nix build of static-slim-amd64 failed"
)

// Identity of the example fleet: the reusable publishing workflow of the
// kit, called from the fleet repository acme/fleet on main.
var Identity = catalog.Identity{
	Issuer:              "https://token.actions.githubusercontent.com",
	BuildSignerURI:      "https://github.com/clearcutt/clearcutt/.github/workflows/publish.yml@refs/tags/v1.4.0",
	SourceRepositoryURI: "https://github.com/acme/fleet",
	SourceRepositoryRef: "refs/heads/main",
	RescanSignerURI:     "https://github.com/clearcutt/clearcutt/.github/workflows/rescan.yml@refs/tags/v1.4.0",
}

// BuilderID is the SLSA builder of the example fleet's provenance.
const BuilderID = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0"

// PublicKey is the key file named in key mode.
const PublicKey = "keys/signing.key.pub"

// PublicKeyPEM is the key itself (a P-256 key), as key-mode catalogs carry it.
const PublicKeyPEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEik6YgtrHwnbyXecBNbeEv+YsoGTg
6s3kM/jW9jtMPthbHo/3PF9zjBKIrkzThmEZuvzgha6AyfqKF3B7Y97M6A==
-----END PUBLIC KEY-----
`

// Descriptions are the runtimes' descriptions, by runtime.
var Descriptions = map[string]string{
	"java":   "The headless OpenJDK 17 JDK with its CA trust store, for running Java applications",
	"nodejs": "Node.js 20 with CA certificates, for running JavaScript applications",
	"python": "CPython 3.11 with its standard library and CA certificates, for running Python applications",
	"static": "Time zone data and CA certificates without a language runtime, for statically linked programs",
}

// Digest is a deterministic sha256 digest for seed.
func Digest(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return "sha256:" + hex.EncodeToString(sum[:])
}

var base = time.Date(2026, 3, 14, 4, 0, 0, 0, time.UTC)

func day(n int) time.Time { return base.AddDate(0, 0, n) }
func ptr[T any](v T) *T   { return &v }

// Catalog returns the example fleet.
func Catalog(o Options) *catalog.Catalog {
	h := func(s string) string {
		if o.Hostile {
			return s + " " + Hostile
		}
		return s
	}
	reg := o.Registry
	if reg == "" {
		reg = "ghcr.io/acme/fleet"
	}
	f := catalog.Fleet{
		Name: h("acme-fleet"), Repository: "acme/fleet", Registry: reg,
		RequiredChannels: []string{"signature", "sbom", "provenance", "tests", "vulnerabilities", "vex"},
	}
	signer, issuer := Identity.BuildSignerURI, Identity.Issuer
	if o.KeyMode {
		f.PublicKey, f.PublicKeyPEM = PublicKey, PublicKeyPEM
		if o.Hostile {
			f.PublicKey = "keys/it's $(id) key.pub"
		}
		f.RequiredChannels = []string{"signature", "sbom", "tests", "vulnerabilities", "vex"}
		signer, issuer = "ecdsa-p256:"+Digest("key")[7:23], ""
		// The fleet's policy names the builder whatever the mode, as
		// clearcutt catalog records it.
		f.ProvenanceBuilderID = BuilderID
	} else {
		id := Identity
		if o.Hostile {
			id.SourceRepositoryRef = "refs/heads/it's $(id) <b>"
		}
		f.Identity = &id
		f.ProvenanceBuilderID = BuilderID
	}
	b := builder{o: o, reg: reg, signer: signer, issuer: issuer, h: h}
	c := &catalog.Catalog{APIVersion: catalog.APIVersion, GeneratedAt: day(0).Add(2 * time.Hour), Fleet: f}
	c.Images = []catalog.Image{
		b.image("java", "17", "dev", map[string]catalog.Status{"amd64/tests": catalog.StatusFailed, "arm64/tests": catalog.StatusFailed, "amd64/vex": catalog.StatusMissing, "arm64/vex": catalog.StatusMissing}, javaFindings(h), 3),
		b.image("nodejs", "20", "distroless", map[string]catalog.Status{"arm64/signature": catalog.StatusFailed, "index/provenance": catalog.StatusMissing}, nodeFindings(h), 4),
		b.image("python", "3.11", "distroless", nil, pythonFindings(h), 6),
		b.image("python", "3.11", "slim", map[string]catalog.Status{"arm64/vulnerabilities": catalog.StatusPending}, pythonFindings(h), 2),
		b.image("static", "1", "distroless", nil, nil, 5),
	}
	if o.FailedReleases {
		recorded := c.GeneratedAt
		c.Images[3].Release = &catalog.Release{Failed: true, Reason: h(ReleaseReason), RecordedAt: recorded}
		c.Images = append(c.Images, catalog.Image{
			Name: h("static:slim"), Runtime: "static", Version: "1", Tier: "slim", Description: h(Descriptions["static"]),
			Tags: []string{}, Status: catalog.StatusMissing, Channels: []catalog.ChannelStatus{}, Platforms: []catalog.Platform{},
			Release: &catalog.Release{Failed: true, Reason: h(UnreleasedReason), RecordedAt: recorded},
			History: []catalog.ScanPoint{{ScanTime: day(-3), Active: catalog.Severities{Low: 1}}},
		})
	}
	return c
}

type builder struct {
	o              Options
	reg            string
	signer, issuer string
	h              func(string) string
}

var predicates = map[string]string{
	"signature": "https://sigstore.dev/cosign/sign/v1", "sbom": "https://spdx.dev/Document",
	"provenance": "https://slsa.dev/provenance/v0.2", "tests": "https://in-toto.io/attestation/test-result/v0.1",
	"vulnerabilities": "https://in-toto.io/attestation/vulns/v0.2", "vex": "https://openvex.dev/ns/v0.2.0",
}

var reasons = map[catalog.Status]string{
	catalog.StatusFailed:        "certificate identity https://github.com/evil/fork/.github/workflows/publish.yml@refs/heads/main does not match the fleet's",
	catalog.StatusMissing:       "no evidence of this channel for this digest",
	catalog.StatusPending:       "newest scan is 30h old (max 24h)",
	catalog.StatusNotApplicable: "provenance from slsa-github-generator exists only in keyless mode",
}

// channel makes one channel result; overrides maps "<arch>/<channel>" to a
// status other than verified.
func (b builder) channel(where, name, digest string, at time.Time, overrides map[string]catalog.Status) catalog.ChannelStatus {
	st := catalog.StatusVerified
	if s, ok := overrides[where+"/"+name]; ok {
		st = s
	}
	required := true
	if name == "provenance" && b.o.KeyMode {
		st, required = catalog.StatusNotApplicable, false
	}
	cs := catalog.ChannelStatus{Channel: name, Status: st, Required: required, Digest: digest}
	if st != catalog.StatusVerified {
		cs.Reason = b.h(reasons[st])
	}
	if st == catalog.StatusVerified || st == catalog.StatusFailed || st == catalog.StatusPending {
		cs.Signer, cs.Issuer, cs.PredicateType, cs.Source = b.h(b.signer), b.issuer, predicates[name], "bundle"
		// A key signs without a transparency log or timestamp: nothing
		// vouches for when.
		if !b.o.KeyMode {
			cs.SignedAt = ptr(at)
		}
		if name == "provenance" {
			cs.Signer, cs.Source = BuilderID, "legacy"
		}
		if name == "vulnerabilities" {
			scan := at
			if st == catalog.StatusPending {
				scan = at.Add(-30 * time.Hour)
			}
			cs.ScanTime, cs.DBBuiltAt = ptr(scan), ptr(scan.Add(-5*time.Hour))
		}
	}
	return cs
}

// rank orders statuses as clearcutt verify aggregates them.
var rank = map[catalog.Status]int{catalog.StatusVerified: 0, catalog.StatusNotApplicable: 1, catalog.StatusPending: 2, catalog.StatusMissing: 3, catalog.StatusFailed: 4}

// imageChannels aggregates each channel over the index and the platforms,
// with the details of the first entry of the worst status.
func imageChannels(index []catalog.ChannelStatus, ps []catalog.Platform) []catalog.ChannelStatus {
	var out []catalog.ChannelStatus
	for _, ch := range channelNames {
		var decided *catalog.ChannelStatus
		where := ""
		consider := func(arch string, cs []catalog.ChannelStatus) {
			for i := range cs {
				if cs[i].Channel == ch && (decided == nil || rank[cs[i].Status] > rank[decided.Status]) {
					decided, where = &cs[i], arch
				}
			}
		}
		consider("index", index)
		for _, p := range ps {
			consider(strings.TrimPrefix(p.Platform, "linux/"), p.Channels)
		}
		c := *decided
		if where != "index" && c.Reason != "" {
			c.Reason = where + ": " + c.Reason
		}
		out = append(out, c)
	}
	return out
}

var channelNames = []string{"signature", "sbom", "provenance", "tests", "vulnerabilities", "vex"}

func worst(im catalog.Image) catalog.Status {
	st := catalog.StatusVerified
	for _, c := range im.Channels {
		if c.Required && rank[c.Status] > rank[st] {
			st = c.Status
		}
	}
	return st
}

func (b builder) image(runtime, version, tier string, overrides map[string]catalog.Status, findings []catalog.Finding, points int) catalog.Image {
	name := runtime + ":" + tier
	repo := b.reg + "/" + runtime
	idx := Digest(name + "/index")
	at := day(0)
	im := catalog.Image{
		Name: b.h(name), Runtime: runtime, Version: version, Tier: tier, Description: b.h(Descriptions[runtime]),
		Reference: repo + "@" + idx, IndexDigest: idx,
		Tags:       []string{version + "-" + tier, b.h(tier)},
		VerifiedAt: at.Add(time.Hour),
		Config: &catalog.ImageConfig{
			Entrypoint: []string{"/nix/store/" + Digest(name)[7:39] + "-" + runtime + "-" + version + "/bin/" + runtime},
			User:       "65532:65532",
			Env:        []string{"PATH=/nix/store/" + Digest(name)[7:39] + "-" + runtime + "-" + version + "/bin", b.h("LANG=C.UTF-8")},
			WorkingDir: "/home/nonroot",
		},
	}
	index := []catalog.ChannelStatus{
		b.channel("index", "signature", idx, at, overrides),
		b.channel("index", "provenance", idx, at, overrides),
	}
	for i, arch := range []string{"amd64", "arm64"} {
		d := Digest(name + "/" + arch)
		p := catalog.Platform{
			Platform: "linux/" + arch, Digest: d,
			Size: 31_457_280 + int64(i)*1_048_576 + int64(len(name))*4096, Layers: 12 + i,
			ClosureSize: 104_857_600 + int64(len(name))*65_536,
			PruningCandidates: []catalog.PruningCandidate{
				{Path: "/nix/store/" + Digest(name)[7:39] + "-" + runtime + "-" + version + "-dev/include", Reason: b.h("C headers"), Size: 2_411_724},
				{Path: "/nix/store/" + Digest(name)[39:71] + "-openssl-3.0.13-man/share/man", Reason: "manual pages", Size: 786_432},
			},
		}
		if tier != "dev" {
			p.Scrub = &closure.Scrub{Schema: closure.ScrubSchema, Runtime: runtime + "-" + version,
				RemovedFromClosure: []string{b.h("bash-5.2.15")},
				Files: []closure.ScrubFile{
					{Path: b.h("bin/" + runtime + "-config"), Action: closure.ScrubRemoved, Reason: b.h("shell script: #!…-bash-5.2.15/bin/sh")},
					{Path: "lib/" + runtime + "/subprocess.py", Action: closure.ScrubRewrote, Reason: "named the shell bash-5.2.15/...; now names /bin/sh, the image's own"},
				}}
		}
		for _, ch := range channelNames {
			where := arch
			if ch == "provenance" {
				where = "index"
			}
			p.Channels = append(p.Channels, b.channel(where, ch, d, at, overrides))
		}
		if p.Channels[1].Status == catalog.StatusVerified {
			p.SBOM = "sbom/" + d[7:] + ".spdx.json"
			p.PackageList = b.packages(runtime, version, tier, arch)
			p.Packages = ptr(len(p.PackageList))
		}
		if vc := p.Channels[4]; vc.Status == catalog.StatusVerified || vc.Status == catalog.StatusPending {
			p.Vulnerabilities = vulnerabilities(*vc.ScanTime, findings)
		}
		im.Platforms = append(im.Platforms, p)
	}
	im.Channels = imageChannels(index, im.Platforms)
	for n := 0; n < points; n++ {
		t := day(n - points + 1)
		sp := catalog.ScanPoint{ScanTime: t, DBBuiltAt: ptr(t.Add(-5 * time.Hour))}
		// Older scans saw more: fixes landed over time.
		extra := points - 1 - n
		for _, f := range findings {
			switch f.Status {
			case "suppressed":
				sp.Suppressed++
			case "excepted":
				sp.Excepted++
			default:
				addSeverity(&sp.Active, f.Severity)
			}
		}
		sp.Active.Medium += extra
		sp.Active.High += extra / 2
		im.History = append(im.History, sp)
	}
	im.Status = worst(im)
	return im
}

// basePackages are in every image's SBOM: name, version, license ("":
// none stated); openssl twice, its out and bin outputs.
var basePackages = [][3]string{
	{"glibc", "2.38", "LGPL-2.1-or-later"}, {"libgcc", "13.2.0", ""}, {"nss-cacert", "3.98", "MPL-2.0"},
	{"openssl", "3.0.13", "Apache-2.0"}, {"openssl", "3.0.13", "Apache-2.0"}, {"tzdata", "2024a", ""},
	{"zlib", "1.3.1", "Zlib"},
}

// runtimePackages are each runtime's packages besides.
var runtimePackages = map[string][][3]string{
	"java":   {{"alsa-lib", "1.2.11", "LGPL-2.1-or-later"}, {"freetype", "2.13.2", "FTL OR GPL-2.0-or-later"}, {"openjdk", "17.0.9+9", "GPL-2.0-only WITH Classpath-exception-2.0"}},
	"nodejs": {{"icu4c", "74.2", "Unicode-DFS-2016"}, {"libuv", "1.48.0", "MIT"}, {"nodejs", "20.11.1", "MIT"}},
	"python": {{"bzip2", "1.0.8", "bzip2-1.0.6"}, {"expat", "2.6.2", "MIT"}, {"libffi", "3.4.6", "MIT"}, {"ncurses", "6.4", "MIT"},
		{"python3", "3.11.2", "Python-2.0"}, {"python3.11-certifi", "2024.02.02", ""}, {"sqlite", "3.45.1", "blessing"}, {"xz", "5.4.6", "0BSD"}},
}

// packages is the package list of an architecture's verified SBOM, sorted
// as the catalog sorts it. The tools of dev images are listed too;
// nodejs:distroless differs by architecture: libuv is another version on
// arm64, which alone carries libatomic.
func (b builder) packages(runtime, version, tier, arch string) []catalog.Package {
	var out []catalog.Package
	add := func(ps [][3]string) {
		for _, p := range ps {
			pk := catalog.Package{Name: p[0], Version: p[1], License: p[2], PURL: "pkg:nix/" + p[0] + "@" + p[1]}
			if runtime == "python" && p[0] == "python3" {
				pk.Name = b.h(pk.Name)
			}
			if runtime == "nodejs" && tier == "distroless" && arch == "arm64" && p[0] == "libuv" {
				pk.Version, pk.PURL = "1.47.0", "pkg:nix/libuv@1.47.0"
			}
			out = append(out, pk)
		}
	}
	add(basePackages)
	add(runtimePackages[runtime])
	if tier == "dev" {
		add([][3]string{{"bash", "5.2p26", "GPL-3.0-or-later"}, {"coreutils", "9.4", "GPL-3.0-or-later"}})
	}
	if runtime == "nodejs" && tier == "distroless" && arch == "arm64" {
		add([][3]string{{"libatomic", "13.2.0", ""}})
	}
	slices.SortStableFunc(out, func(a, b catalog.Package) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version))
	})
	return out
}

func addSeverity(s *catalog.Severities, sev string) {
	switch sev {
	case "Critical":
		s.Critical++
	case "High":
		s.High++
	case "Medium":
		s.Medium++
	case "Low":
		s.Low++
	case "Negligible":
		s.Negligible++
	default:
		s.Unknown++
	}
}

func vulnerabilities(scan time.Time, findings []catalog.Finding) *catalog.Vulnerabilities {
	v := &catalog.Vulnerabilities{ScanTime: scan, DBBuiltAt: ptr(scan.Add(-5 * time.Hour)), Findings: findings}
	for _, f := range findings {
		switch f.Status {
		case "suppressed":
			addSeverity(&v.Suppressed, f.Severity)
		case "excepted":
			addSeverity(&v.Excepted, f.Severity)
		default:
			addSeverity(&v.Active, f.Severity)
		}
	}
	return v
}

func pythonFindings(h func(string) string) []catalog.Finding {
	return []catalog.Finding{
		{ID: "CVE-2024-5535", Aliases: []string{"GHSA-4h8f-2wvx-gg5w"}, Severity: "High", Package: "openssl", Version: "3.0.13", Type: "nix",
			PURL: "pkg:nix/openssl@3.0.13", Origin: "closure", Status: "active", FixState: "fixed", FixedIn: []string{"3.0.14"}},
		{ID: "CVE-2023-27043", Severity: "Medium", Package: h("python3"), Version: "3.11.2", Type: "nix", PURL: "pkg:nix/python3@3.11.2",
			Origin: "closure", Status: "suppressed", FixState: "not-fixed", VEXStatus: "not_affected", VEXJustification: h("vulnerable_code_not_in_execute_path")},
		{ID: "CVE-2023-50495", Severity: "Low", Package: "ncurses", Version: "6.4", Type: "nix", Origin: "base", Status: "excepted",
			FixState: "wont-fix", ExceptionOwner: h("platform-team@acme.example"), ExceptionExpires: "2026-09-30"},
		{ID: "CVE-2022-48560", Severity: "Negligible", Package: "python3", Version: "3.11.2", Type: "nix", Origin: "closure", Status: "active", FixState: "unknown"},
	}
}

func nodeFindings(h func(string) string) []catalog.Finding {
	return []catalog.Finding{
		{ID: "CVE-2024-27983", Severity: "High", Package: "nodejs", Version: "20.11.1", Type: "nix", Origin: "closure", Status: "active", FixState: "fixed", FixedIn: []string{"20.12.1", "21.7.2"}},
		{ID: "CVE-2024-22019", Severity: "Medium", Package: h("nodejs"), Version: "20.11.1", Type: "nix", Origin: "closure", Status: "suppressed",
			VEXStatus: "not_affected", VEXJustification: "inline_mitigations_already_exist"},
	}
}

func javaFindings(h func(string) string) []catalog.Finding {
	return []catalog.Finding{
		{ID: "CVE-2024-20918", Severity: "Critical", Package: "openjdk", Version: "17.0.9", Type: "nix", Origin: "closure", Status: "active", FixState: "fixed", FixedIn: []string{"17.0.10"}},
		{ID: "CVE-2023-4911", Aliases: []string{"GHSA-m77w-6vjw-wh2f"}, Severity: "High", Package: "glibc", Version: "2.38", Type: "nix", Origin: "base",
			Status: "excepted", FixState: "fixed", FixedIn: []string{"2.38-27"}, ExceptionOwner: "runtime-java", ExceptionExpires: "2026-04-01"},
		{ID: h("CVE-2024-0000"), Severity: "Unknown", Package: "gcc", Version: "13.2.0", Type: "nix", Origin: "closure", Status: "active"},
	}
}

// Write writes c as DIR/catalog.json, and an SPDX document for every
// platform that names one.
func Write(t testing.TB, dir string, c *catalog.Catalog) {
	t.Helper()
	for _, im := range c.Images {
		for _, p := range im.Platforms {
			if p.SBOM == "" {
				continue
			}
			doc := map[string]any{
				"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
				"name":              strings.SplitN(im.Reference, "@", 2)[0] + "@" + p.Digest,
				"documentNamespace": "https://clearcutt.dev/spdx/" + p.Digest[7:],
				"creationInfo":      map[string]any{"created": "2026-03-14T04:00:00Z", "creators": []string{"Tool: syft-1.57.1"}},
				"documentDescribes": []string{"SPDXRef-Package-" + im.Runtime},
				"packages": []map[string]any{{
					"name": im.Runtime, "SPDXID": "SPDXRef-Package-" + im.Runtime, "versionInfo": im.Version, "downloadLocation": "NOASSERTION",
				}},
			}
			for k, pk := range p.PackageList {
				license := pk.License
				if license == "" {
					license = "NOASSERTION"
				}
				doc["packages"] = append(doc["packages"].([]map[string]any), map[string]any{
					"name": pk.Name, "SPDXID": fmt.Sprintf("SPDXRef-Package-%d", k), "versionInfo": pk.Version, "downloadLocation": "NOASSERTION",
					"licenseConcluded": license, "licenseDeclared": "NOASSERTION",
					"externalRefs": []map[string]string{{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": pk.PURL}},
				})
			}
			writeJSON(t, filepath.Join(dir, filepath.FromSlash(p.SBOM)), doc)
		}
	}
	writeJSON(t, filepath.Join(dir, catalog.FileName), c)
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
