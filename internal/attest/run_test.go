package attest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/oci"
)

func statementFor(d v1.Hash, predicateType string) string {
	pred := `{"result":"PASSED"}`
	if predicateType == PredicateVulns {
		pred = `{"scanner":{"uri":"pkg:golang/github.com/anchore/grype@v0.121.2","version":"v0.121.2","db":{"uri":"file:vulndb","version":"v6.1.4","lastUpdate":"2026-01-01T00:00:00Z"},"result":[]},` +
			`"metadata":{"scanStartedOn":"2026-01-01T01:00:00Z","scanFinishedOn":"2026-01-01T01:00:01Z"},"gate":{"pass":true,"policy":"fail on high or above","counts":{"active":0,"suppressed":0,"excepted":0,"blocking":0,"expiredExceptions":0,"bySeverity":{}}}}`
	}
	return fmt.Sprintf(`{"_type":%q,"predicate":%s,"predicateType":%q,"subject":[{"digest":{%q:%q},"name":"python:distroless"}]}`,
		StatementType, pred, predicateType, d.Algorithm, d.Hex)
}

// writeAllEvidence writes the four evidence files for every platform of idx.
func writeAllEvidence(t *testing.T, dir string, idx v1.ImageIndex) {
	t.Helper()
	for _, p := range platforms(t, idx) {
		files := map[string]string{
			FileSBOM:       platformSBOM(p.Digest, p.Platform.String(), "2026-01-01T00:00:00Z"),
			FileTestResult: statementFor(p.Digest, PredicateTestResult),
			FileVulns:      statementFor(p.Digest, PredicateVulns),
			FileVEX:        statementFor(p.Digest, PredicateOpenVEX),
		}
		for name, content := range files {
			writeFile(t, EvidencePath(dir, p.Digest, name), content)
		}
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(content), 0o644))
}

func runOpts(t *testing.T, idx v1.ImageIndex, store Store, signer Signer, evidence string) Options {
	d := descOf(t, idx)
	return Options{
		Target:      Target{Ref: oci.Ref{Layout: "x", Digest: d.Digest.String()}, Index: idx, Name: "example.com/fleet/python"},
		Store:       store,
		Signer:      signer,
		EvidenceDir: evidence,
	}
}

func TestRunAttachesEveryChannelPerPlatform(t *testing.T) {
	ctx := context.Background()
	idx := testIndex(t)
	store, _ := layoutKind.open(t, idx)
	signer := testKey(t)
	ev := t.TempDir()
	writeAllEvidence(t, ev, idx)
	var events int
	o := runOpts(t, idx, store, signer, ev)
	o.Progress = func(Event) { events++ }
	res, err := Run(ctx, o)
	must(t, err)
	// index (signature, derived SBOM, tests and vulns) + 2 × (signature,
	// SBOM, tests, vulns, VEX)
	if len(res.Attached) != 14 || events != 14 || res.Mode != ModeKey || len(res.Missing) != 0 {
		t.Fatalf("attached %d, events %d, mode %s, missing %v", len(res.Attached), events, res.Mode, res.Missing)
	}
	index := descOf(t, idx).Digest
	got, err := store.List(ctx, index)
	must(t, err)
	onIndex := map[string]bool{}
	for _, s := range got {
		pt, err := verifyKeyBundle(t, signer, s.Bundle, index)
		if err != nil {
			t.Error(err)
		}
		onIndex[pt] = true
	}
	if len(got) != 4 || !onIndex[PredicateSignature] || !onIndex[PredicateSPDX] || !onIndex[PredicateTestResult] || !onIndex[PredicateVulns] {
		t.Fatalf("index referrers %+v", got)
	}
	want := []string{PredicateSignature, PredicateSPDX, PredicateTestResult, PredicateVulns, PredicateOpenVEX}
	for _, p := range platforms(t, idx) {
		got, err := store.List(ctx, p.Digest)
		must(t, err)
		seen := map[string]bool{}
		for _, s := range got {
			pt, err := verifyKeyBundle(t, signer, s.Bundle, p.Digest)
			if err != nil {
				t.Errorf("%s %s: %v", p.Digest, s.PredicateType, err)
			}
			if pt != s.PredicateType {
				t.Errorf("annotation says %s, statement %s", s.PredicateType, pt)
			}
			seen[pt] = true
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d bundles, want %d", p.Digest, len(got), len(want))
		}
		for _, w := range want {
			if !seen[w] {
				t.Errorf("%s lacks %s", p.Digest, w)
			}
		}
	}
	// A second run stores new signatures (ECDSA is randomised) but no
	// duplicate of anything identical; it must succeed.
	if _, err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
}

func TestRunRefusesStatementAboutAnotherDigest(t *testing.T) {
	idx := testIndex(t)
	store, _ := layoutKind.open(t, idx)
	ev := t.TempDir()
	writeAllEvidence(t, ev, idx)
	ps := platforms(t, idx)
	// The arm64 scan claims to be about the amd64 image.
	p := EvidencePath(ev, ps[1].Digest, FileVulns)
	writeFile(t, p, statementFor(ps[0].Digest, PredicateVulns))
	_, err := Run(context.Background(), runOpts(t, idx, store, testKey(t), ev))
	if !errors.Is(err, ErrSubjectMismatch) || !strings.Contains(err.Error(), p) {
		t.Fatalf("got %v", err)
	}
	assertNothingStored(t, store, idx)

	// A statement of the wrong kind in a channel's file.
	writeFile(t, p, statementFor(ps[1].Digest, PredicateTestResult))
	if _, err := Run(context.Background(), runOpts(t, idx, store, testKey(t), ev)); !errors.Is(err, ErrBadStatement) {
		t.Fatalf("wrong predicate type: %v", err)
	}
	// An SBOM that is not SPDX 2.3.
	writeFile(t, p, statementFor(ps[1].Digest, PredicateVulns))
	sb := EvidencePath(ev, ps[0].Digest, FileSBOM)
	writeFile(t, sb, `{"bomFormat":"CycloneDX"}`)
	if _, err := Run(context.Background(), runOpts(t, idx, store, testKey(t), ev)); !errors.Is(err, ErrBadEvidence) || !strings.Contains(err.Error(), sb) {
		t.Fatalf("CycloneDX as SPDX: %v", err)
	}
	assertNothingStored(t, store, idx)
}

func TestRunMissingEvidenceFails(t *testing.T) {
	idx := testIndex(t)
	store, _ := layoutKind.open(t, idx)
	ev := t.TempDir()
	writeAllEvidence(t, ev, idx)
	ps := platforms(t, idx)
	missing := EvidencePath(ev, ps[1].Digest, FileSBOM)
	must(t, os.Remove(missing))
	must(t, os.Remove(EvidencePath(ev, ps[0].Digest, FileVEX))) // optional
	_, err := Run(context.Background(), runOpts(t, idx, store, testKey(t), ev))
	if !errors.Is(err, ErrMissingEvidence) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("got %v", err)
	}
	assertNothingStored(t, store, idx)

	o := runOpts(t, idx, store, testKey(t), ev)
	o.AllowMissingEvidenceUnsafe = true
	res, err := Run(context.Background(), o)
	must(t, err)
	// index (signature, derived tests and vulns; no SBOM without arm64's)
	// + amd64 (signature, SBOM, tests, vulns) + arm64 (signature, tests,
	// vulns, VEX)
	if len(res.Missing) != 1 || res.Missing[0] != missing || len(res.Attached) != 11 {
		t.Fatalf("missing %v, attached %d", res.Missing, len(res.Attached))
	}
}

func TestRunRefusesIndexOtherThanRef(t *testing.T) {
	idx := testIndex(t)
	store, _ := layoutKind.open(t, idx)
	o := runOpts(t, idx, store, testKey(t), t.TempDir())
	o.Target.Index = testIndex(t)
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("got %v", err)
	}
}

func assertNothingStored(t *testing.T, s Store, idx v1.ImageIndex) {
	t.Helper()
	for _, d := range append([]v1.Descriptor{descOf(t, idx)}, platforms(t, idx)...) {
		got, err := s.List(context.Background(), d.Digest)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("%s: %d bundles stored by a failed run", d.Digest, len(got))
		}
	}
}
