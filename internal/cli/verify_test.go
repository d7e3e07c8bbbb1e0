package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// verifyJSON runs `clearcutt verify --json` and decodes the report.
func verifyJSON(t *testing.T, wantCode int, args ...string) verify.Report {
	t.Helper()
	code, out, errs := run(t, append(append([]string{"verify"}, args...), "--json")...)
	if code != wantCode {
		t.Fatalf("verify exit %d, want %d\nstderr: %s\nstdout: %s", code, wantCode, tail(errs, 3000), tail(out, 3000))
	}
	var rep verify.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, tail(out, 2000))
	}
	return rep
}

// channelStatuses maps each channel of rep to its status.
func channelStatuses(rep verify.Report) map[verify.Channel]verify.Status {
	out := map[verify.Channel]verify.Status{}
	for _, c := range rep.Channels {
		out[c.Channel] = c.Status
	}
	return out
}

// wantStatuses checks every channel: want overrides, the rest verified
// (provenance is not_applicable in key mode).
func wantStatuses(t *testing.T, rep verify.Report, want map[verify.Channel]verify.Status) {
	t.Helper()
	got := channelStatuses(rep)
	for _, c := range verify.AllChannels() {
		w, ok := want[c]
		if !ok {
			w = verify.StatusVerified
			if c == verify.ChannelProvenance {
				w = verify.StatusNotApplicable
			}
		}
		if got[c] != w {
			t.Errorf("channel %s is %q, want %q: %+v", c, got[c], w, rep.Channel(c).Entries)
		}
	}
}

func entryFor(t *testing.T, rep verify.Report, c verify.Channel, arch string) verify.Entry {
	t.Helper()
	for _, e := range rep.Channel(c).Entries {
		if e.Arch == arch {
			return e
		}
	}
	t.Fatalf("no %s entry for %s: %+v", c, arch, rep.Channel(c))
	return verify.Entry{}
}

// rawIndex is an index manifest written as it is.
type rawIndex []byte

func (r rawIndex) RawManifest() ([]byte, error)        { return r, nil }
func (r rawIndex) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }

// dropFallbackReferrer removes the referrers of subject whose predicate
// type annotation is predicateType (except keep) from the sha256-<hex>
// fallback tag, as someone with push access could.
func dropFallbackReferrer(t *testing.T, repo name.Repository, subject v1.Hash, predicateType string, keep v1.Hash) {
	t.Helper()
	tag := repo.Tag(subject.Algorithm + "-" + subject.Hex)
	idx, err := remote.Index(tag)
	if err != nil {
		t.Fatalf("fallback tag %s: %v", tag, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	kept, dropped := im.DeepCopy(), 0
	kept.Manifests = nil
	for _, d := range im.Manifests {
		if d.Annotations[attest.AnnotationPredicateType] == predicateType && d.Digest != keep {
			dropped++
			continue
		}
		kept.Manifests = append(kept.Manifests, d)
	}
	if dropped == 0 {
		t.Fatalf("fallback tag %s has no %s referrer: %+v", tag, predicateType, im.Manifests)
	}
	js, err := json.Marshal(kept)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(tag, rawIndex(js)); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyKeyModeOnRegistryProcess publishes python:distroless with the
// pipeline to Debian's docker-registry (no referrers API: evidence lives
// under the sha256-<hex> fallback tags) and verifies it with the CLI
// against the local key, another key, and tampered evidence.
func TestVerifyKeyModeOnRegistryProcess(t *testing.T) {
	repo := needPipelineTools(t)
	host := ocitest.StartDistribution(t)
	dir := t.TempDir()
	fleetFile := filepath.Join(repo, "clearcutt.yaml")
	prep := pipelineJSON(t, ExitOK, "-f", fleetFile, "pipeline", "--nixpkgs", filepath.Join(repo, "nix/fixtures"),
		"--db", testDB(t, repo), "--no-smoke", "--only", "python:distroless",
		"--work", filepath.Join(dir, "work"), "--cache", filepath.Join(dir, "cache"), "--to", host+"/fleet")
	if len(prep.Images) != 1 || !prep.Verified {
		t.Fatalf("pipeline: %+v", prep)
	}
	published := prep.Images[0].Published
	if !strings.HasPrefix(published, host+"/fleet/python@sha256:") {
		t.Fatalf("published reference %q", published)
	}
	key, err := defaultKeyPath()
	if err != nil {
		t.Fatal(err)
	}
	pub := key + ".pub"
	ref, err := oci.RequireDigest(published)
	if err != nil {
		t.Fatal(err)
	}
	indexDigest, _ := ref.Hash()
	idx, err := remote.Index(ref.DigestRef(indexDigest))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	// Platform descriptors by architecture, and their names in the report.
	platforms, archName := map[string]v1.Descriptor{}, map[string]string{}
	for _, d := range im.Manifests {
		if p := d.Platform; p != nil {
			platforms[p.Architecture] = d
			archName[p.Architecture] = strings.TrimSuffix(p.OS+"/"+p.Architecture+"/"+p.Variant, "/")
		}
	}
	amd64, arm64 := platforms["amd64"], platforms["arm64"]
	if amd64.Digest.Hex == "" || arm64.Digest.Hex == "" {
		t.Fatalf("index platforms: %+v", im.Manifests)
	}

	t.Run("published key verifies every channel but provenance", func(t *testing.T) {
		rep := verifyJSON(t, ExitOK, "-f", fleetFile, published, "--key", pub)
		if !rep.KeyMode || rep.Digest != indexDigest.String() {
			t.Fatalf("report keyMode=%v digest=%s", rep.KeyMode, rep.Digest)
		}
		wantStatuses(t, rep, nil)
		if rep.Channel(verify.ChannelProvenance).Required {
			t.Error("provenance is required in key mode")
		}
		// Every channel is named, each platform has its SBOM from a bundle.
		var names []string
		for _, c := range rep.Channels {
			names = append(names, string(c.Channel))
		}
		if got, want := strings.Join(names, ", "), channelNames(); got != want {
			t.Errorf("channels %s, want %s", got, want)
		}
		for _, arch := range []string{archName["amd64"], archName["arm64"]} {
			if e := entryFor(t, rep, verify.ChannelSBOM, arch); e.Source != "bundle" || !strings.HasPrefix(e.Signer, "key ") {
				t.Errorf("sbom %s = %+v", arch, e)
			}
		}
		// The evidence was found through the tag fallback: the registry
		// process has no referrers API.
		fb, err := remote.Index(ref.Repo.Tag("sha256-" + amd64.Digest.Hex))
		if err != nil {
			t.Fatalf("fallback tag of %s: %v", amd64.Digest, err)
		}
		if m, err := fb.IndexManifest(); err != nil || len(m.Manifests) < 5 {
			t.Fatalf("fallback index of %s: %v %+v", amd64.Digest, err, m)
		}
		// The table names every channel too.
		code, out, errs := run(t, "-f", fleetFile, "verify", published, "--key", pub)
		if code != ExitOK {
			t.Fatalf("verify (table) exit %d: %s", code, errs)
		}
		for _, c := range verify.AllChannels() {
			if !strings.Contains(out, string(c)) {
				t.Errorf("table does not name channel %s:\n%s", c, out)
			}
		}
	})

	t.Run("the key alone needs no fleet file", func(t *testing.T) {
		rep := verifyJSON(t, ExitOK, "-f", filepath.Join(dir, "no-such.yaml"), published, "--key", pub)
		if !rep.KeyMode || rep.Digest != indexDigest.String() {
			t.Fatalf("report keyMode=%v digest=%s", rep.KeyMode, rep.Digest)
		}
		if code, _, errs := run(t, "-f", filepath.Join(dir, "no-such.yaml"), "verify", published); code != ExitUsage || !strings.Contains(errs, "without a fleet file") {
			t.Fatalf("no fleet file, no key: exit %d: %s", code, errs)
		}
	})

	t.Run("another key fails the signature channel", func(t *testing.T) {
		other, err := sigtest.NewKeySigner()
		if err != nil {
			t.Fatal(err)
		}
		otherPub := filepath.Join(t.TempDir(), "other.pub")
		writeFile(t, otherPub, string(other.PublicKeyPEM()))
		rep := verifyJSON(t, ExitFailed, "-f", fleetFile, published, "--key", otherPub)
		sig := rep.Channel(verify.ChannelSignature)
		if sig.Status != verify.StatusFailed {
			t.Fatalf("signature channel = %+v", sig)
		}
		for _, e := range sig.Entries {
			if e.Status != verify.StatusFailed || !strings.Contains(e.Reason, verify.ErrSignature.Error()) {
				t.Errorf("signature %s = %+v", e.Arch, e)
			}
		}
	})

	t.Run("a tag is refused", func(t *testing.T) {
		tagged := host + "/fleet/python:distroless"
		code, _, errs := run(t, "-f", fleetFile, "verify", tagged, "--key", pub)
		if code != ExitUsage || !strings.Contains(errs, tagged) {
			t.Fatalf("verify %s: exit %d: %s", tagged, code, errs)
		}
	})

	t.Run("every exit code as the audit guide documents it", func(t *testing.T) {
		badKey := filepath.Join(t.TempDir(), "bad.pub")
		writeFile(t, badKey, "not a key\n")
		badRoot := filepath.Join(t.TempDir(), "trusted_root.json")
		writeFile(t, badRoot, "{}")
		for _, tc := range []struct {
			name string
			args []string
			code int
			says string
		}{
			{"every required channel verified", []string{published, "--key", pub}, ExitOK, ""},
			{"a required channel pending", []string{published, "--key", pub, "--max-scan-age", "1ms"}, ExitFailed, ""},
			{"a key that is not a PEM public key", []string{published, "--key", badKey}, ExitUsage, "not a PEM public key"},
			{"a zero maximum scan age", []string{published, "--key", pub, "--max-scan-age", "0"}, ExitUsage, "must be a positive duration"},
			{"a negative maximum scan age", []string{published, "--key", pub, "--max-scan-age", "-1h"}, ExitUsage, "must be a positive duration"},
			{"a platform digest instead of the index", []string{host + "/fleet/python@" + amd64.Digest.String(), "--key", pub}, ExitUsage, "not an image index"},
			{"a trusted root that does not parse", []string{published, "--trusted-root", badRoot}, ExitRuntime, "--trusted-root " + badRoot},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, _, errs := run(t, append([]string{"-f", fleetFile, "verify"}, tc.args...)...)
				if code != tc.code || !strings.Contains(errs, tc.says) {
					t.Fatalf("exit %d, want %d saying %q:\n%s", code, tc.code, tc.says, tail(errs, 2000))
				}
				if strings.Contains(errs, "identity") && tc.code == ExitUsage {
					t.Errorf("blamed on the identity: %s", errs)
				}
			})
		}
	})

	t.Run("an old scan is pending", func(t *testing.T) {
		rep := verifyJSON(t, ExitFailed, "-f", fleetFile, published, "--key", pub, "--max-scan-age", "1ms")
		wantStatuses(t, rep, map[verify.Channel]verify.Status{verify.ChannelVulnerabilities: verify.StatusPending})
		if e := entryFor(t, rep, verify.ChannelVulnerabilities, archName["amd64"]); e.ScanTime == nil || !strings.Contains(e.Reason, verify.ErrStale.Error()) {
			t.Errorf("vulnerabilities amd64 = %+v", e)
		}
	})

	// Tampering from here on: the registry's evidence is changed.
	t.Run("an SBOM replaced by one signed with another key fails that SBOM only", func(t *testing.T) {
		other, err := sigtest.NewKeySigner()
		if err != nil {
			t.Fatal(err)
		}
		st, err := sigtest.Statement("fleet/python", amd64.Digest, verify.PredicateSBOM, map[string]any{
			"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "dataLicense": "CC0-1.0",
			"name": "forged", "packages": []any{}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := other.SignStatement(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		store, err := attest.Open(ref, attest.StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		forged, err := store.Attach(context.Background(), amd64, b, verify.PredicateSBOM)
		if err != nil {
			t.Fatal(err)
		}
		dropFallbackReferrer(t, ref.Repo, amd64.Digest, verify.PredicateSBOM, forged)
		rep := verifyJSON(t, ExitFailed, "-f", fleetFile, published, "--key", pub)
		wantStatuses(t, rep, map[verify.Channel]verify.Status{verify.ChannelSBOM: verify.StatusFailed})
		if e := entryFor(t, rep, verify.ChannelSBOM, archName["amd64"]); e.Status != verify.StatusFailed || !strings.Contains(e.Reason, verify.ErrSignature.Error()) {
			t.Errorf("sbom amd64 = %+v", e)
		}
		if e := entryFor(t, rep, verify.ChannelSBOM, archName["arm64"]); e.Status != verify.StatusVerified {
			t.Errorf("sbom arm64 = %+v", e)
		}
	})

	t.Run("a deleted vulnerability referrer is missing", func(t *testing.T) {
		dropFallbackReferrer(t, ref.Repo, arm64.Digest, verify.PredicateVulns, v1.Hash{})
		rep := verifyJSON(t, ExitFailed, "-f", fleetFile, published, "--key", pub)
		wantStatuses(t, rep, map[verify.Channel]verify.Status{
			verify.ChannelSBOM:            verify.StatusFailed, // from the previous step
			verify.ChannelVulnerabilities: verify.StatusMissing,
		})
		if e := entryFor(t, rep, verify.ChannelVulnerabilities, archName["arm64"]); e.Status != verify.StatusMissing {
			t.Errorf("vulnerabilities arm64 = %+v", e)
		}
		if e := entryFor(t, rep, verify.ChannelVulnerabilities, archName["amd64"]); e.Status != verify.StatusVerified {
			t.Errorf("vulnerabilities amd64 = %+v", e)
		}
	})

	t.Run("a referrer whose manifest was deleted fails its channel only", func(t *testing.T) {
		fb, err := remote.Index(ref.Repo.Tag("sha256-" + arm64.Digest.Hex))
		if err != nil {
			t.Fatal(err)
		}
		im, err := fb.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var gone v1.Hash
		for _, d := range im.Manifests {
			if d.Annotations[attest.AnnotationPredicateType] == verify.PredicateTestResult {
				gone = d.Digest
			}
		}
		if gone.Hex == "" {
			t.Fatalf("no test-result referrer of %s: %+v", arm64.Digest, im.Manifests)
		}
		// The fallback index still lists it: a deleted manifest.
		if err := remote.Delete(ref.Repo.Digest(gone.String())); err != nil {
			t.Fatal(err)
		}
		rep := verifyJSON(t, ExitFailed, "-f", fleetFile, published, "--key", pub)
		wantStatuses(t, rep, map[verify.Channel]verify.Status{
			verify.ChannelSBOM:            verify.StatusFailed,  // from the steps before
			verify.ChannelVulnerabilities: verify.StatusMissing, // from the step before
			verify.ChannelTests:           verify.StatusFailed,
		})
		e := entryFor(t, rep, verify.ChannelTests, archName["arm64"])
		if !strings.Contains(e.Reason, gone.String()) || !strings.Contains(e.Reason, "cannot be read") {
			t.Errorf("tests arm64 = %+v, want the referrer named", e)
		}
		if e := entryFor(t, rep, verify.ChannelTests, archName["amd64"]); e.Status != verify.StatusVerified {
			t.Errorf("tests amd64 = %+v", e)
		}
	})
}
