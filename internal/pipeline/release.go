package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// ErrDigestChanged: moving the tags published another digest than the one
// that was verified. The tags name that digest now; the release fails.
var ErrDigestChanged = errors.New("digest changed between verification and tagging")

// Options configure a release.
type Options struct {
	// Fleet is the fleet file's path (recorded in the report).
	Fleet string
	// Images are the images released, in order (see Select).
	Images []fleet.Image
	// Destination is where they are published (recorded in the report).
	Destination string

	Builder   Builder
	Checker   Checker
	Publisher Publisher
	// Jobs is the number of images gated at the same time (0 or 1: one
	// after another); Builder and Checker must then be safe for concurrent
	// use. Publishing, signing, verification and tagging stay in fleet
	// order, one image at a time.
	Jobs int
	// Signer and Verifier are nil for an unsigned release: the images are
	// then published with their tags and nothing is verified.
	Signer   Signer
	Verifier Verifier

	// Log receives the numbered steps, each ended with its duration
	// (nil: none).
	Log io.Writer
	// Now is the clock the steps and the run are timed with (nil:
	// time.Now, whose readings are monotonic).
	Now func() time.Time
}

// Report is a release's outcome. Its JSON is the pipeline's report format.
type Report struct {
	Fleet       string  `json:"fleet"`
	Destination string  `json:"destination"`
	Images      []Image `json:"images"`
	// Passed is true when every image passed every gate.
	Passed bool `json:"passed"`
	// Published is true once every image is stored by digest.
	Published bool `json:"published"`
	// Signed is true for a release that signs and verifies its images.
	Signed bool `json:"signed"`
	// Tagged is true once the tags (layout names) moved: after every
	// published image verified.
	Tagged   bool `json:"tagged"`
	Verified bool `json:"verified"`
	// Jobs is the number of images that were gated at the same time at
	// most (Options.Jobs).
	Jobs    int     `json:"jobs"`
	Seconds float64 `json:"seconds"`
	// Timings say where the time went: per stage, its steps, their time
	// together and the longest of them.
	Timings Timings `json:"timings"`
}

// Signed reports whether the release signs and verifies its images.
func (o Options) signed() bool { return o.Signer != nil }

// Release runs every image through the gates; only when every gate of
// every image passed does it publish them, by digest only. A signed
// release then signs each image, attaches its evidence and verifies every
// channel; only when every image verified do the tags move, to the same
// digests. An unsigned release publishes with the tags at once.
//
// A failed gate, or an image whose build failed, does not stop the other
// images from being gated (so one run reports every problem), but nothing
// is published; the error then wraps outcome.ErrGateFailed. A usage error
// or a cancelled context stops the run at once.
func Release(ctx context.Context, o Options) (Report, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	steps := NewSteps(o.Log, releaseSteps(o), now)
	rep := Report{Fleet: o.Fleet, Destination: o.Destination, Passed: true, Signed: o.signed(), Jobs: max(o.Jobs, 1)}
	done := func(err error) (Report, error) {
		steps.End()
		rep.Timings = steps.Timings()
		rep.Seconds = now().Sub(start).Seconds()
		rep.Timings.Seconds = rep.Seconds
		return rep, err
	}
	if o.Signer != nil && o.Verifier == nil {
		return done(outcome.UsageError{Err: fmt.Errorf("a signed release needs a verifier")})
	}
	gated, err := gateAll(ctx, o, steps)
	for _, res := range gated {
		if res.Error != "" {
			rep.Passed = false
		}
		rep.Images = append(rep.Images, res)
	}
	if err != nil {
		return done(err)
	}
	if !rep.Passed {
		return done(fmt.Errorf("%w: nothing was published", outcome.ErrGateFailed))
	}
	for i := range rep.Images {
		im := &rep.Images[i]
		steps.Begin("publish", im.Image)
		pr, err := o.Publisher.Publish(ctx, im.Reference, o.signed())
		if err != nil {
			im.Error = err.Error()
			return done(err)
		}
		im.Publish = &pr
		im.Published = o.Publisher.Ref(im.Image, pr.Digest)
	}
	rep.Published = true
	if !o.signed() {
		rep.Tagged = true
		return done(nil)
	}
	rep.Verified = true
	for i := range rep.Images {
		im := &rep.Images[i]
		steps.Begin("attest", im.Image)
		ares, err := o.Signer.Sign(ctx, im.Published)
		if err != nil {
			im.Error = err.Error()
			return done(err)
		}
		im.Attest = &ares
		steps.Begin("verify", im.Image)
		vrep, err := o.Verifier.Verify(ctx, im.Published)
		if err != nil {
			im.Error = err.Error()
			return done(err)
		}
		im.Verify = &vrep
		if vrep.ExitCode() != verify.ExitPassed {
			rep.Verified = false
			im.Error = "a required evidence channel is not verified"
		}
	}
	if !rep.Verified {
		return done(fmt.Errorf("%w: published images failed verification; their tags were not moved", outcome.ErrGateFailed))
	}
	// Every image verified: move the tags, to the same digests.
	for i := range rep.Images {
		im := &rep.Images[i]
		steps.Begin("tag", im.Image)
		pr, err := o.Publisher.Publish(ctx, im.Reference, false)
		if err == nil && pr.Digest != im.Publish.Digest {
			err = fmt.Errorf("%w: %s: tagging published %s, not the verified %s", ErrDigestChanged, im.Image, pr.Digest, im.Publish.Digest)
		}
		if err != nil {
			im.Error = err.Error()
			return done(err)
		}
		im.Publish = &pr
	}
	rep.Tagged = true
	return done(nil)
}

// gateAll gates the images of o, up to o.Jobs at once, and returns their
// results in fleet order, each failed one with its Error set. An image
// whose build or gate failed does not stop the others; anything else (a
// usage error, a cancelled context) cancels the images still running,
// starts no other, and is returned, after the results of the images that
// started.
func gateAll(ctx context.Context, o Options, steps *Steps) ([]Image, error) {
	jobs := max(o.Jobs, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]Image, len(o.Images))
	started := make([]bool, len(o.Images))
	var (
		mu   sync.Mutex
		stop error
		wg   sync.WaitGroup
	)
	slots := make(chan struct{}, jobs)
	for i, img := range o.Images {
		slots <- struct{}{}
		if ctx.Err() != nil {
			break
		}
		started[i] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			res, err := GateImage(ctx, o.Builder, o.Checker, img, img.Architectures, steps)
			if err != nil {
				res.Error = err.Error()
				if !imageProblem(ctx, err) {
					mu.Lock()
					if stop == nil {
						stop = err
					}
					mu.Unlock()
					cancel()
				}
			}
			results[i] = res
		}()
	}
	wg.Wait()
	var out []Image
	for i := range results {
		if started[i] {
			out = append(out, results[i])
		}
	}
	if stop == nil && ctx.Err() != nil {
		// The caller's context ended while no image was running.
		stop = ctx.Err()
	}
	return out, stop
}

// releaseSteps is the number of steps a release of every image through
// every stage takes: the gates, publish, and for a signed release attest,
// verify and tag.
func releaseSteps(o Options) int {
	n := 0
	for _, img := range o.Images {
		n += GateSteps(len(img.Architectures)) + 1
		if o.signed() {
			n += 3
		}
	}
	return n
}

// Select returns the images of f that only names (runtime or
// runtime:tier; none: every image), in the fleet's order.
func Select(f *fleet.File, only []string) ([]fleet.Image, error) {
	var out []fleet.Image
	for _, img := range f.Images() {
		if selected(only, img) {
			out = append(out, img)
		}
	}
	if len(out) == 0 {
		return nil, outcome.UsageError{Err: fmt.Errorf("--only %s matches no image of %s", strings.Join(only, ","), f.Path)}
	}
	return out, nil
}

func selected(only []string, img fleet.Image) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if o == img.Runtime || o == img.RefName {
			return true
		}
	}
	return false
}
