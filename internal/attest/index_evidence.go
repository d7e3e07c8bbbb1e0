package attest

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/scan"
)

// Index evidence. A Pod names the multi-platform index
// (repo@sha256:<index>), and admission controllers (Kyverno,
// sigstore policy-controller) check attestations on exactly that digest.
// Run therefore attaches to the index digest, besides its signature, an
// SBOM and a test result derived from the platforms' own evidence: the
// index SBOM (IndexSBOM) lists the platform images and pins each
// platform's SPDX document by SHA256, and the index test result
// (IndexTestResult) is PASSED only when every platform's is, and the
// index vulnerability statement (scan.IndexStatement) passes the gate only
// when every platform's scan did. Evidence
// supplied for the index in the evidence directory
// (sha256-<index hex>/sbom.spdx.json, test-result.json) is attached
// instead of the derived statement of that channel.

// PlatformEvidence is the evidence of one platform image of an index, as
// Run signs it for that image.
type PlatformEvidence struct {
	// Platform is "os/arch[/variant]".
	Platform string
	// Digest is the platform image's manifest digest.
	Digest v1.Hash
	// SBOM is the platform's SPDX 2.3 JSON document exactly as its signed
	// SBOM statement carries it: the statement's predicate bytes
	// (canonical JSON, as WrapPredicate writes it). Nil when absent.
	SBOM []byte
	// SBOMFile is the file the document was read from (for errors).
	SBOMFile string
	// TestResult is the platform's test-result statement exactly as it is
	// signed. Nil when absent.
	TestResult []byte
	// TestResultFile is the file the statement was read from.
	TestResultFile string
	// Scan is the platform's vulnerability statement exactly as it is
	// signed. Nil when absent.
	Scan []byte
}

// platformEvidence gathers the SBOM and test-result statements of one
// platform from its jobs.
func platformEvidence(d v1.Descriptor, platform string, jobs []job) (PlatformEvidence, error) {
	p := PlatformEvidence{Platform: platform, Digest: d.Digest}
	for _, j := range jobs {
		switch j.predicate {
		case PredicateSPDX:
			st, err := ParseStatement(j.statement)
			if err != nil {
				return p, fmt.Errorf("%w: %s: %w", ErrBadEvidence, j.file, err)
			}
			p.SBOM, p.SBOMFile = []byte(st.Predicate), j.file
		case PredicateTestResult:
			p.TestResult, p.TestResultFile = j.statement, j.file
		case PredicateVulns:
			p.Scan = j.statement
		}
	}
	return p, nil
}

// deriveIndexEvidence returns the jobs of the derived index SBOM and test
// result: each only when the index has no supplied statement of that
// predicate type (have) and every platform has the evidence it is derived
// from. A platform whose evidence is missing (allowed only with
// AllowMissingEvidenceUnsafe) leaves the index without that channel.
func (o Options) deriveIndexEvidence(index v1.Descriptor, have []job, platforms []PlatformEvidence) ([]job, error) {
	if len(platforms) == 0 {
		return nil, nil
	}
	supplied := map[string]bool{}
	for _, j := range have {
		supplied[j.predicate] = true
	}
	all := func(has func(PlatformEvidence) bool) bool {
		for _, p := range platforms {
			if !has(p) {
				return false
			}
		}
		return true
	}
	var out []job
	if !supplied[PredicateSPDX] && all(func(p PlatformEvidence) bool { return p.SBOM != nil }) {
		doc, err := IndexSBOM(o.Target.Name, index.Digest, platforms)
		if err != nil {
			return nil, fmt.Errorf("attest: index SBOM: %w", err)
		}
		st, err := WrapPredicate(o.Target.Name, index.Digest, PredicateSPDX, doc)
		if err != nil {
			return nil, fmt.Errorf("attest: index SBOM: %w", err)
		}
		out = append(out, job{subject: index, predicate: PredicateSPDX, statement: st, derived: true})
	}
	if !supplied[PredicateTestResult] && all(func(p PlatformEvidence) bool { return p.TestResult != nil }) {
		st, err := IndexTestResult(o.Target.Name, index.Digest, platforms)
		if err != nil {
			return nil, fmt.Errorf("attest: index test result: %w", err)
		}
		out = append(out, job{subject: index, predicate: PredicateTestResult, statement: st, derived: true})
	}
	if !supplied[PredicateVulns] && all(func(p PlatformEvidence) bool { return p.Scan != nil }) {
		scans := make([]scan.PlatformScan, 0, len(platforms))
		for _, p := range platforms {
			scans = append(scans, scan.PlatformScan{Platform: p.Platform, Digest: p.Digest, Statement: p.Scan})
		}
		st, err := scan.IndexStatement(o.Target.Name, index.Digest, scans)
		if err != nil {
			return nil, fmt.Errorf("attest: index vulnerability statement: %w", err)
		}
		out = append(out, job{subject: index, predicate: PredicateVulns, statement: st, derived: true})
	}
	return out, nil
}
