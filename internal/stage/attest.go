package stage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/outcome"
)

// Attester signs published image indexes and attaches their evidence. It
// implements pipeline.Signer.
type Attester struct {
	Signer attest.Signer
	// Evidence is the directory of per-digest evidence.
	Evidence string
	// AllowMissingEvidenceUnsafe attaches what exists when a platform
	// lacks its SBOM, test result or vulnerability scan.
	AllowMissingEvidenceUnsafe bool
	// Keychain authenticates to registries (nil: authn.DefaultKeychain).
	Keychain authn.Keychain
	// Now is the clock of the bundles' creation time (nil: time.Now).
	Now      func() time.Time
	Progress Progress
}

// Sign implements pipeline.Signer: it signs the index refStr names by
// digest and attaches, per platform and for the index, the evidence found
// under Evidence. Missing evidence fails the run (outcome.ErrGateFailed)
// before anything is signed; evidence that is not about its subject, or
// not a statement, is a usage error.
func (a Attester) Sign(ctx context.Context, refStr string) (attest.Result, error) {
	ref, idx, err := OpenIndex(ctx, refStr, "")
	if err != nil {
		return attest.Result{}, err
	}
	kc, now := a.Keychain, a.Now
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	if now == nil {
		now = time.Now
	}
	store, err := attest.Open(ref, attest.StoreOptions{Keychain: kc, Created: now().UTC().Truncate(time.Second)})
	if err != nil {
		return attest.Result{}, outcome.UsageError{Err: err}
	}
	name := ""
	if !ref.IsLayout() {
		name = ref.Repo.String()
	}
	update, done := ProgressOf(a.Progress).Status("attest")
	res, err := attest.Run(ctx, attest.Options{
		Target:                     attest.Target{Ref: ref, Index: idx, Name: name},
		Store:                      store,
		Signer:                     a.Signer,
		EvidenceDir:                a.Evidence,
		AllowMissingEvidenceUnsafe: a.AllowMissingEvidenceUnsafe,
		Progress: func(e attest.Event) {
			update(fmt.Sprintf("%d/%d %s %s", e.N, e.Total, e.Subject, e.PredicateType))
		},
	})
	done()
	switch {
	case errors.Is(err, attest.ErrMissingEvidence):
		return res, fmt.Errorf("%w: %w", outcome.ErrGateFailed, err)
	case errors.Is(err, attest.ErrSubjectMismatch), errors.Is(err, attest.ErrBadEvidence), errors.Is(err, attest.ErrBadStatement):
		return res, outcome.UsageError{Err: err}
	}
	return res, err
}
