package attest

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/oci"
)

// Target is the image index to attest.
type Target struct {
	// Ref names the index by digest.
	Ref   oci.Ref
	Index v1.ImageIndex
	// Name is the subject name written into the statements attest builds
	// (the signature and SBOM statements); may be empty.
	Name string
}

// Options are the inputs of Run.
type Options struct {
	Target Target
	Store  Store
	Signer Signer
	// EvidenceDir holds <dir>/sha256-<hex>/{sbom.spdx.json, test-result.json,
	// vulns.json, vex.json} per platform digest (and optionally the index
	// digest, whose files take the place of the derived index SBOM and
	// test result).
	EvidenceDir string
	// AllowMissingEvidenceUnsafe attaches what exists instead of failing
	// when a platform lacks its SBOM, test result or vulnerability scan.
	AllowMissingEvidenceUnsafe bool
	Progress                   func(Event)
}

// Event reports one bundle signed and stored.
type Event struct {
	Subject       v1.Hash
	PredicateType string
	N, Total      int
}

// Attached is one bundle Run stored.
type Attached struct {
	Subject v1.Hash `json:"subject"`
	// Platform is "os/arch[/variant]", or empty for the index.
	Platform      string `json:"platform,omitempty"`
	PredicateType string `json:"predicateType"`
	// File is the evidence file signed; empty for signatures and derived
	// statements.
	File string `json:"file,omitempty"`
	// Derived marks a statement about the index that Run derived from the
	// platforms' evidence (the index SBOM and test result) because the
	// evidence directory supplied none.
	Derived  bool    `json:"derived,omitempty"`
	Artifact v1.Hash `json:"artifact"`
	// LogIndexes are the bundle's transparency-log indexes (none for key
	// signatures).
	LogIndexes []int64 `json:"logIndexes,omitempty"`
}

// Result reports what Run stored.
type Result struct {
	Index    v1.Hash    `json:"index"`
	Store    string     `json:"store"`
	Mode     string     `json:"mode"`
	Attached []Attached `json:"attached"`
	// Missing lists evidence files that were absent (only with
	// AllowMissingEvidenceUnsafe).
	Missing []string `json:"missing,omitempty"`
}

// job is one statement to sign and attach.
type job struct {
	subject   v1.Descriptor
	platform  string
	predicate string
	file      string
	statement []byte
	// derived: the statement was derived from the platforms' evidence.
	derived bool
}

// Run signs the index and each platform image (cosign v3 signature
// statements) and attaches, per platform, every evidence statement present
// in EvidenceDir. The index gets the evidence supplied for its own digest
// and, for the SBOM and test-result channels it has none of, the
// statements derived from the platforms' (IndexSBOM, IndexTestResult), so
// that admission controllers checking the digest a Pod names find them.
// All evidence is read and checked before anything is signed: a statement
// about another digest, an invalid file or (unless allowed) a missing
// required file fails the run with nothing stored.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Store == nil || o.Signer == nil || o.Target.Index == nil {
		return Result{}, fmt.Errorf("attest: a store, a signer and the target index are required")
	}
	want, err := o.Target.Ref.Hash()
	if err != nil {
		return Result{}, fmt.Errorf("attest: %w", err)
	}
	idx := o.Target.Index
	got, err := idx.Digest()
	if err != nil {
		return Result{}, fmt.Errorf("attest: %s: %w", o.Target.Ref, err)
	}
	if got != want {
		return Result{}, fmt.Errorf("attest: %s: %w: it has digest %s", o.Target.Ref, ErrDigestMismatch, got)
	}
	mt, err := idx.MediaType()
	if err != nil {
		return Result{}, err
	}
	size, err := idx.Size()
	if err != nil {
		return Result{}, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return Result{}, fmt.Errorf("attest: %s: %w", o.Target.Ref, err)
	}
	res := Result{Index: got, Store: o.Store.String(), Mode: o.Signer.Mode()}
	index := v1.Descriptor{MediaType: mt, Digest: got, Size: size}
	indexJobs, err := o.collect(index, "", false, &res)
	if err != nil {
		return Result{}, err
	}
	var platformJobs []job
	var platforms []PlatformEvidence
	for _, d := range im.Manifests {
		if d.Platform == nil {
			return Result{}, fmt.Errorf("attest: %s: index entry %s has no platform", o.Target.Ref, d.Digest)
		}
		desc := v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
		js, err := o.collect(desc, d.Platform.String(), true, &res)
		if err != nil {
			return Result{}, err
		}
		p, err := platformEvidence(desc, d.Platform.String(), js)
		if err != nil {
			return Result{}, fmt.Errorf("attest: %w", err)
		}
		platformJobs = append(platformJobs, js...)
		platforms = append(platforms, p)
	}
	derived, err := o.deriveIndexEvidence(index, indexJobs, platforms)
	if err != nil {
		return Result{}, err
	}
	jobs := append(append(indexJobs, derived...), platformJobs...)
	for i, j := range jobs {
		b, err := SignStatement(ctx, o.Signer, j.statement)
		if err != nil {
			return res, fmt.Errorf("attest: %s %s: %w", j.subject.Digest, j.predicate, err)
		}
		a, err := o.Store.Attach(ctx, j.subject, b, j.predicate)
		if err != nil {
			return res, fmt.Errorf("attest: %s %s: %w", j.subject.Digest, j.predicate, err)
		}
		logs, _ := TransparencyOf(b)
		res.Attached = append(res.Attached, Attached{Subject: j.subject.Digest, Platform: j.platform,
			PredicateType: j.predicate, File: j.file, Derived: j.derived, Artifact: a, LogIndexes: logs})
		if o.Progress != nil {
			o.Progress(Event{Subject: j.subject.Digest, PredicateType: j.predicate, N: i + 1, Total: len(jobs)})
		}
	}
	return res, nil
}

// collect returns the signature job of subject and a job per evidence file
// present; platform images must have the required files.
func (o Options) collect(subject v1.Descriptor, platform string, isPlatform bool, res *Result) ([]job, error) {
	sig, err := SignatureStatement(o.Target.Name, subject.Digest)
	if err != nil {
		return nil, err
	}
	jobs := []job{{subject: subject, platform: platform, predicate: PredicateSignature, statement: sig}}
	if o.EvidenceDir == "" {
		if isPlatform && !o.AllowMissingEvidenceUnsafe {
			return nil, fmt.Errorf("attest: %w: no evidence directory given", ErrMissingEvidence)
		}
		return jobs, nil
	}
	for _, f := range evidenceFiles {
		st, path, err := readEvidence(o.EvidenceDir, subject.Digest, o.Target.Name, f)
		if err != nil {
			return nil, fmt.Errorf("attest: %w", err)
		}
		if st == nil {
			if isPlatform && f.required {
				if !o.AllowMissingEvidenceUnsafe {
					return nil, fmt.Errorf("attest: %w: %s (%s, %s)", ErrMissingEvidence, path, platform, f.predicateType)
				}
				res.Missing = append(res.Missing, path)
			}
			continue
		}
		jobs = append(jobs, job{subject: subject, platform: platform, predicate: f.predicateType, file: path, statement: st})
	}
	return jobs, nil
}
