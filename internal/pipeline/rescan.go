package pipeline

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/rescan"
	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// RescanOptions configure Rescan.
type RescanOptions struct {
	Fleet *fleet.File
	// CatalogDir holds the catalog of the published fleet; it is
	// rewritten after the rescan.
	CatalogDir string
	// Scan is how the verified SBOMs are matched and gated (its Evidence
	// and Progress are not used).
	Scan stage.ScanOptions
	// NewVerifier makes the verifier of every image, used before its
	// SBOMs are read and again when the catalog is rewritten; KeyPath is
	// the public key it pins, recorded in the catalog in key mode.
	// NewSigner makes the signer of the new scans, which the verifier must
	// accept. Both are made once the inputs are read, so that bad input
	// costs no token.
	NewVerifier func() (stage.Verifier, error)
	KeyPath     string
	NewSigner   func() (attest.Signer, error)
	// Keychain authenticates to registries (nil: authn.DefaultKeychain).
	Keychain authn.Keychain
	// Now is the time of the rescan (zero: time.Now).
	Now time.Time
	// Log receives the numbered steps and warnings (nil: none).
	Log      io.Writer
	Progress stage.Progress
	// Workers is how many images are rescanned at once (zero: one per
	// core); see rescan.Options.Workers.
	Workers int
}

// RescanReport is what Rescan did.
type RescanReport struct {
	rescan.Report
	// CatalogUpdated says catalog.json was rewritten after the rescan;
	// CatalogError says why it was not.
	CatalogUpdated bool   `json:"catalogUpdated"`
	CatalogError   string `json:"catalogError,omitempty"`
}

// Rescan matches the verified SBOMs of every served image of the catalog
// against today's database, gates the findings, attaches the signed scans
// to the images, and rewrites the catalog from what verification sees
// after that. A signer the verifier would not accept is refused before
// anything is read. When the catalog cannot be rewritten it stays as it
// was: that is the error, unless the rescan already failed (then the
// report says so in CatalogError).
func Rescan(ctx context.Context, o RescanOptions) (RescanReport, error) {
	f := o.Fleet
	failOn, onlyFixable, err := stage.GatePolicy(f, o.Scan.Gate.FailOn, o.Scan.Gate.OnlyFixable)
	if err != nil {
		return RescanReport{}, err
	}
	maxDBAge, _ := stage.MaxAges(f, o.Scan.Gate.MaxDBAge, 0)
	catPath := catalog.Path(o.CatalogDir)
	cat, err := catalog.Read(o.CatalogDir, catalog.RequireImages)
	if err != nil {
		return RescanReport{}, outcome.Usage(fmt.Errorf("--catalog: %w", err))
	}
	vexPaths, err := stage.VEXDocuments(f, o.Scan.VEXDir)
	if err != nil {
		return RescanReport{}, err
	}
	exc, _, err := stage.LoadExceptions(f, o.Scan.Exceptions)
	if err != nil {
		return RescanReport{}, err
	}
	v, err := o.NewVerifier()
	if err != nil {
		return RescanReport{}, err
	}
	signer, err := o.NewSigner()
	if err != nil {
		return RescanReport{}, err
	}
	if err := SignerMatchesPolicy(signer, v.Policy); err != nil {
		return RescanReport{}, err
	}
	c := cataloger{CatalogOptions{Fleet: f, Out: o.CatalogDir, Verifier: v, KeyPath: o.KeyPath, Keychain: o.Keychain, Log: o.Log, Progress: o.Progress}}
	now := o.Now
	if now.IsZero() {
		now = time.Now().UTC()
	}
	update, done := stage.ProgressOf(o.Progress).Status("rescan")
	// An image whose release failed with none served has nothing to rescan.
	var served []catalog.Image
	for _, im := range cat.Images {
		if im.Served() {
			served = append(served, im)
		}
	}
	rep, err := rescan.Run(ctx, rescan.Options{
		Images: served,
		Open:   RescanOpen(c.keychain(), now),
		Verify: RescanVerify(v),
		Scan: scan.BatchOptions{DBDir: o.Scan.DB, MaxDBAge: maxDBAge, AllowStaleDBUnsafe: o.Scan.AllowStaleDBUnsafe,
			Now: now, VEX: vexPaths, Exceptions: exc},
		Gate:    gate.Policy{FailOn: failOn, OnlyFixable: onlyFixable, Now: now},
		Signer:  signer,
		Workers: o.Workers,
		Progress: func(e rescan.Event) {
			if e.Step == rescan.StepOpen {
				done()
				fmt.Fprintf(c.log(), "[%d/%d] rescan %s\n", e.N, e.Total, e.Image)
				return
			}
			update(strings.TrimSpace(e.Image + " " + e.Platform + ": " + e.Step))
		},
	})
	done()
	rep.Catalog = catPath
	out := RescanReport{Report: rep}
	switch {
	case errors.Is(err, scan.ErrInvalidVEX), errors.Is(err, scan.ErrInvalidOptions):
		return out, outcome.Usage(err)
	case err != nil:
		return out, fmt.Errorf("rescan: %w", err)
	}
	if err := c.update(ctx, cat); err != nil {
		err = fmt.Errorf("%s was not updated: %w", catPath, err)
		out.CatalogError = err.Error()
		if !rep.Passed {
			fmt.Fprintln(c.log(), "clearcutt:", err)
			return out, nil
		}
		return out, err
	}
	out.CatalogUpdated = true
	return out, nil
}

// RefreshCatalog re-observes every served image of cat, the catalog in
// o.Out, by digest, and rewrites the catalog from what o.Verifier sees now;
// a failed release recorded on an image is kept. Like Catalog, it writes
// nothing unless every image could be read.
func RefreshCatalog(ctx context.Context, o CatalogOptions, cat *catalog.Catalog) error {
	return cataloger{o}.update(ctx, cat)
}

func (c cataloger) update(ctx context.Context, cat *catalog.Catalog) error {
	var observed []catalog.Observed
	var failed []catalog.FailedRelease
	for i, im := range cat.Images {
		if im.ReleaseFailed() {
			failed = append(failed, catalog.FailedRelease{Name: im.Name, Reason: im.Release.Reason, Version: im.Version, RecordedAt: im.Release.RecordedAt})
		}
		if !im.Served() {
			continue
		}
		fmt.Fprintf(c.log(), "[%d/%d] catalog %s\n", i+1, len(cat.Images), im.Name)
		ref, idx, err := stage.OpenIndex(ctx, im.Reference, "")
		if err != nil {
			return err
		}
		vrep, err := c.Verifier.VerifyIndex(ctx, ref, idx)
		if err != nil {
			return err
		}
		observed = append(observed, catalog.Observed{Name: im.Name, Reference: ref.String(), Tags: im.Tags,
			Index: idx, Report: vrep, Version: im.Version})
	}
	update, done := stage.ProgressOf(c.Progress).Status("catalog")
	res, err := catalog.Build(ctx, catalog.Options{
		Fleet: CatalogFleet(c.Fleet, c.Verifier, c.KeyPath, cat.Fleet.Registry), Images: observed, Failed: failed, Previous: cat,
		Descriptions: runtimeDescriptions(c.Fleet), Progress: update,
	})
	done()
	if err != nil {
		return err
	}
	return catalog.Write(c.Out, res)
}

// SignerMatchesPolicy refuses a signer whose scans the policy the SBOMs
// are verified with would reject (verify.Policy.CheckSigner): a key
// signature must be by the verification key, and keyless signatures need
// keyless verification.
func SignerMatchesPolicy(s attest.Signer, p verify.Policy) error {
	var pub crypto.PublicKey
	signing := "signing keyless"
	if ks, ok := s.(*attest.KeySigner); ok {
		pub, signing = ks.PublicKey(), "signing with the key "+ks.Path()
	}
	if err := p.CheckSigner(pub); err != nil {
		return outcome.Usage(fmt.Errorf("%s: %w: the new scans would not verify (they are verified with --key-pub when it is given, else keyless: sign with the private key of --key-pub, or keyless without it)", signing, err))
	}
	return nil
}

// RescanOpen opens a catalogued image for a rescan: its index by digest,
// and the evidence store its fresh statements are attached to, created at
// now (to the second).
func RescanOpen(kc authn.Keychain, now time.Time) func(context.Context, catalog.Image) (rescan.Target, error) {
	return func(ctx context.Context, im catalog.Image) (rescan.Target, error) {
		ref, idx, err := stage.OpenIndex(ctx, im.Reference, "")
		if err != nil {
			return rescan.Target{}, err
		}
		store, err := attest.Open(ref, attest.StoreOptions{Keychain: kc, Created: now.Truncate(time.Second)})
		if err != nil {
			return rescan.Target{}, err
		}
		return rescan.Target{Index: idx, Store: store}, nil
	}
}

// RescanVerify verifies an opened image, by digest, before its SBOMs are
// rescanned.
func RescanVerify(v stage.Verifier) func(context.Context, catalog.Image, rescan.Target) (verify.Report, error) {
	return func(ctx context.Context, im catalog.Image, t rescan.Target) (verify.Report, error) {
		ref, err := oci.RequireDigest(im.Reference)
		if err != nil {
			return verify.Report{}, err
		}
		return v.VerifyIndex(ctx, ref, t.Index)
	}
}
