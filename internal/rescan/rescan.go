// Package rescan matches the published fleet against today's vulnerability
// database without rebuilding it. For every image of the catalog, by index
// digest, it verifies each platform's SBOM attestation with the identity
// policy of clearcutt verify, matches the verified SPDX documents with
// internal/scan (grype runs once per distinct package of the fleet), applies
// the fleet's VEX and exceptions, and attaches a freshly signed vulns/v0.2
// statement (and the OpenVEX statement, when VEX applied) to each platform
// digest where the image lives. Nothing else is written: no image, tag or
// catalog. A platform whose SBOM does not verify is never rescanned; it
// keeps its previous scan, which verify reports pending once it is older
// than the maximum scan age.
package rescan

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// ErrInvalidOptions: the options are incomplete.
var ErrInvalidOptions = errors.New("invalid rescan options")

// Target is an opened image of the catalog.
type Target struct {
	// Index is the image index named by the catalog's index digest.
	Index v1.ImageIndex
	// Store is where the image's evidence lives: new bundles are attached there.
	Store attest.Store
}

// FatalError wraps an error of Options.Open or Options.Verify that stops
// the whole rescan (a configuration error) instead of failing one image.
type FatalError struct{ Err error }

func (e FatalError) Error() string { return e.Err.Error() }
func (e FatalError) Unwrap() error { return e.Err }

// Options configure Run.
type Options struct {
	// Images are the catalog's images, each rescanned by index digest.
	Images []catalog.Image
	// Open resolves an image to its index and evidence store.
	Open func(ctx context.Context, im catalog.Image) (Target, error)
	// Verify verifies the evidence of an image index with the identity
	// policy of clearcutt verify. Only SBOM entries it reports verified
	// are rescanned.
	Verify func(ctx context.Context, im catalog.Image, t Target) (verify.Report, error)
	// Scan is the database, VEX and exceptions the SBOMs are matched with.
	Scan scan.BatchOptions
	// Gate is the vulnerability gate (Gate.Now defaults to Scan.Now).
	Gate gate.Policy
	// Signer signs the new statements (key or keyless).
	Signer attest.Signer
	// Progress, if set, is called at each step, never by two images at
	// once; with more than one worker the steps of different images
	// interleave.
	Progress func(Event)
	// Workers is how many images are rescanned at once (opened, verified,
	// matched, signed and attached): the waits of one image on the
	// registry, the certificate authority, the transparency log and the
	// timestamp authority overlap with the work of others. Zero means one
	// per core (GOMAXPROCS). The report, its order and every statement
	// are the same for any number of workers.
	Workers int
}

// Steps of a rescan, as Event reports them.
const (
	StepOpen   = "open"
	StepVerify = "verify"
	StepMatch  = "match"
	StepSign   = "sign"
)

// Event is one step of the rescan of one image.
type Event struct {
	// N is the image's position (from 1) among Total.
	N, Total int
	Image    string
	// Platform is empty for the steps of the whole image (open, verify).
	Platform string
	Step     string
}

// Run rescans every image. It returns an error only when the rescan cannot
// run at all (no database, a stale one, an unreadable VEX document, a
// FatalError from Open or Verify, a cancelled context); a platform that
// cannot be rescanned is reported failed and the others are still
// rescanned.
func Run(ctx context.Context, o Options) (Report, error) {
	switch {
	case o.Open == nil || o.Verify == nil:
		return Report{}, fmt.Errorf("%w: Open and Verify are required", ErrInvalidOptions)
	case o.Signer == nil:
		return Report{}, fmt.Errorf("%w: a signer is required", ErrInvalidOptions)
	case len(o.Images) == 0:
		return Report{}, fmt.Errorf("%w: no images to rescan", ErrInvalidOptions)
	}
	if o.Scan.Now.IsZero() {
		o.Scan.Now = time.Now()
	}
	if o.Scan.Clock == nil {
		o.Scan.Clock = time.Now
	}
	if o.Gate.Now.IsZero() {
		o.Gate.Now = o.Scan.Now
	}
	progress := o.Progress
	if progress == nil {
		progress = func(Event) {}
	}
	b, err := scan.OpenBatch(o.Scan)
	if err != nil {
		return Report{}, err
	}
	defer b.Close()

	rep := Report{DB: b.DB(), StaleDBAccepted: b.StaleDBAccepted(), Mode: o.Signer.Mode(), Gate: o.Gate.String(),
		StartedOn: o.Scan.Clock().UTC(), NewFindings: []string{}}
	images, err := runImages(ctx, o, b, progress)
	rep.Images = images
	if err != nil {
		return rep, err
	}
	rep.Work = b.Stats()
	rep.FinishedOn = o.Scan.Clock().UTC()
	rep.summarise()
	return rep, nil
}

// runImages rescans the images with at most o.Workers at once, each
// image's outcome at its place in o.Images. Images are started in order;
// after a fatal error (a FatalError, a cancelled context) no other image
// is started, those already started finish, and the images before the
// first image that failed fatally are returned with its error.
func runImages(ctx context.Context, o Options, b *scan.Batch, progress func(Event)) ([]Image, error) {
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(o.Images))
	var mu sync.Mutex // serialises progress
	report := func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		progress(e)
	}
	out := make([]Image, len(o.Images))
	errs := make([]error, len(o.Images))
	var stop atomic.Bool
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := ctx.Err(); err != nil {
					errs[i] = err
					stop.Store(true)
					continue
				}
				im := o.Images[i]
				r := runner{o: o, batch: b, progress: report, at: Event{N: i + 1, Total: len(o.Images), Image: im.Name}}
				out[i], errs[i] = r.image(ctx, im)
				if errs[i] != nil {
					stop.Store(true)
				}
			}
		}()
	}
	for i := range o.Images {
		if stop.Load() {
			break
		}
		if err := ctx.Err(); err != nil {
			errs[i] = err
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return out[:i], err
		}
	}
	return out, nil
}

func (rep *Report) summarise() {
	rep.Passed = true
	seen := map[string]bool{}
	for _, im := range rep.Images {
		all := len(im.Platforms) > 0
		for _, p := range im.Platforms {
			rep.Platforms++
			if p.Status != StatusRescanned {
				all = false
				rep.Failed++
				rep.Passed = false
			}
			if p.Gate != nil && !p.Gate.Pass {
				rep.Passed = false
			}
			for _, id := range p.NewFindings {
				if !seen[id] {
					seen[id] = true
					rep.NewFindings = append(rep.NewFindings, id)
				}
			}
		}
		if im.IndexError != "" {
			rep.Passed = false
		}
		if all {
			rep.Rescanned++
		}
	}
	sort.Strings(rep.NewFindings)
}

type runner struct {
	o        Options
	batch    *scan.Batch
	progress func(Event)
	at       Event
}

func (r *runner) step(step, platform string) {
	e := r.at
	e.Step, e.Platform = step, platform
	r.progress(e)
}

// platformDesc is one platform entry of an index.
type platformDesc struct {
	name string
	desc v1.Descriptor
}

// image rescans one image; only a FatalError is returned.
func (r *runner) image(ctx context.Context, im catalog.Image) (Image, error) {
	out := Image{Name: im.Name, Reference: im.Reference, IndexDigest: im.IndexDigest}
	failAll := func(err error) (Image, error) {
		var fe FatalError
		if errors.As(err, &fe) {
			return out, err
		}
		out.Error = err.Error()
		out.Platforms = nil
		for _, p := range im.Platforms {
			out.Platforms = append(out.Platforms, Platform{Platform: p.Platform, Digest: p.Digest, Status: StatusFailed,
				Reason: "not rescanned: " + err.Error(), NewFindings: []string{}})
		}
		if len(out.Platforms) == 0 {
			out.Platforms = []Platform{{Platform: "(unknown)", Status: StatusFailed, Reason: "not rescanned: " + err.Error(), NewFindings: []string{}}}
		}
		return out, nil
	}
	want, err := v1.NewHash(im.IndexDigest)
	if err != nil {
		return failAll(fmt.Errorf("index digest %q: %w", im.IndexDigest, err))
	}
	if ref, err := oci.RequireDigest(im.Reference); err != nil {
		return failAll(err)
	} else if got, _ := ref.Hash(); got != want {
		return failAll(fmt.Errorf("reference %s does not name the index digest %s", im.Reference, want))
	}
	r.step(StepOpen, "")
	t, err := r.o.Open(ctx, im)
	if err != nil {
		return failAll(err)
	}
	if t.Index == nil || t.Store == nil {
		return failAll(fmt.Errorf("%w: Open returned no index or store", ErrInvalidOptions))
	}
	if got, err := t.Index.Digest(); err != nil {
		return failAll(fmt.Errorf("index digest: %w", err))
	} else if got != want {
		return failAll(fmt.Errorf("the index read has digest %s, not %s", got, want))
	}
	plats, err := platformsOf(t.Index)
	if err != nil {
		return failAll(err)
	}
	inIndex := map[string]bool{}
	for _, p := range plats {
		inIndex[p.desc.Digest.String()] = true
	}
	for _, p := range im.Platforms {
		if !inIndex[p.Digest] {
			return failAll(fmt.Errorf("the catalog lists platform %s %s, which the index does not hold", p.Platform, p.Digest))
		}
	}
	r.step(StepVerify, "")
	vr, err := r.o.Verify(ctx, im, t)
	if err != nil {
		return failAll(fmt.Errorf("verify: %w", err))
	}
	if vr.Digest != want.String() {
		return failAll(fmt.Errorf("verify reported on %s, not %s", vr.Digest, want))
	}
	for _, p := range plats {
		out.Platforms = append(out.Platforms, r.platform(ctx, im, t, p, vr))
	}
	if err := r.indexScan(ctx, im, t, want, &out); err != nil {
		out.IndexError = err.Error()
	}
	return out, nil
}

// indexScan attaches to the index the vulnerability statement made from
// every platform's new scan, once all of them were rescanned: it carries
// the verdict an admission controller, which sees only the index digest,
// checks. With a platform not rescanned nothing is attached to the index.
func (r *runner) indexScan(ctx context.Context, im catalog.Image, t Target, index v1.Hash, out *Image) error {
	var scans []scan.PlatformScan
	for _, p := range out.Platforms {
		if p.Status != StatusRescanned || p.statement == nil {
			return nil
		}
		d, err := v1.NewHash(p.Digest)
		if err != nil {
			return err
		}
		scans = append(scans, scan.PlatformScan{Platform: p.Platform, Digest: d, Statement: p.statement})
	}
	if len(scans) == 0 {
		return nil
	}
	st, err := scan.IndexStatement(im.Name, index, scans)
	if err != nil {
		return fmt.Errorf("index vulnerability statement: %w", err)
	}
	r.step(StepSign, "index")
	b, err := attest.SignStatement(ctx, r.o.Signer, st)
	if err != nil {
		return fmt.Errorf("sign the index vulnerability statement: %w", err)
	}
	mt, err := t.Index.MediaType()
	if err != nil {
		return err
	}
	raw, err := t.Index.RawManifest()
	if err != nil {
		return err
	}
	desc := v1.Descriptor{MediaType: mt, Digest: index, Size: int64(len(raw))}
	a, err := t.Store.Attach(ctx, desc, b, attest.PredicateVulns)
	if err != nil {
		return fmt.Errorf("attach the index vulnerability statement to %s in %s: %w", index, t.Store, err)
	}
	out.IndexAttached = append(out.IndexAttached, Attached{PredicateType: attest.PredicateVulns, Artifact: a})
	return nil
}

// platformsOf lists the platform images of idx as verify does: entries
// with a platform whose OS is known, in architecture order.
func platformsOf(idx v1.ImageIndex) ([]platformDesc, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("index manifest: %w", err)
	}
	var out []platformDesc
	for _, d := range m.Manifests {
		p := d.Platform
		if p == nil || p.OS == "" || p.OS == "unknown" {
			continue
		}
		name := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			name += "/" + p.Variant
		}
		out = append(out, platformDesc{name: name, desc: v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}})
	}
	if len(out) == 0 {
		return nil, errors.New("the index has no platform images")
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// entry is the verify entry of channel c for digest d.
func entry(vr verify.Report, c verify.Channel, d v1.Hash) (verify.Entry, bool) {
	for _, e := range vr.Channel(c).Entries {
		if e.Digest == d.String() {
			return e, true
		}
	}
	return verify.Entry{}, false
}

// platform rescans one platform image.
func (r *runner) platform(ctx context.Context, im catalog.Image, t Target, p platformDesc, vr verify.Report) Platform {
	d := p.desc.Digest
	out := Platform{Platform: p.name, Digest: d.String(), Status: StatusFailed, NewFindings: []string{}}
	fail := func(format string, args ...any) Platform {
		out.Reason = fmt.Sprintf(format, args...)
		return out
	}
	sb, ok := entry(vr, verify.ChannelSBOM, d)
	switch {
	case !ok:
		return fail("no SBOM verification result for %s", d)
	case sb.Status != verify.StatusVerified:
		return fail("SBOM not verified (%s): %s", sb.Status, sb.Reason)
	case len(sb.Predicate) == 0:
		return fail("SBOM verified without a readable predicate")
	}
	var prev *previousScan
	if ve, ok := entry(vr, verify.ChannelVulnerabilities, d); ok && len(ve.Predicate) > 0 {
		ps, err := readPrevious(ve.PredicateType, ve.Predicate)
		if err != nil {
			return fail("%v", err)
		}
		prev = ps
		if !ps.at.IsZero() {
			at := ps.at
			out.PreviousScan = &at
		}
	}
	img, err := t.Index.Image(d)
	if err != nil {
		return fail("platform image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fail("platform image config: %v", err)
	}
	overlay := cf.Config.Labels[oci.LabelBaseDigest] != ""

	r.step(StepMatch, p.name)
	res, err := r.batch.Scan(ctx, scan.Item{SBOM: sb.Predicate, SBOMPath: "verified SBOM of " + d.String(),
		Subject: scan.Subject{Name: im.Name, Digest: d}, Overlay: overlay})
	if err != nil {
		return fail("match: %v", err)
	}
	out.Packages = res.Packages
	built, started, finished := res.Scanner.DB.Built, res.StartedOn, res.FinishedOn
	out.DBBuiltAt, out.ScanStartedOn, out.ScanFinishedOn = &built, &started, &finished
	out.Findings = res.Findings
	dec := res.Decide(r.o.Gate)
	out.Gate = &dec
	out.Active, out.Suppressed, out.Excepted = dec.Counts.Active, dec.Counts.Suppressed, dec.Counts.Excepted
	out.NewFindings = newFindings(res.Findings, prev)

	vulns, err := res.StatementJSON()
	if err != nil {
		return fail("vulnerability statement: %v", err)
	}
	type job struct {
		predicateType string
		statement     []byte
		bundle        []byte
	}
	var jobs []job
	// The scan statement goes last: once it is stored the new scan is
	// what verify reads, so everything it refers to is stored first.
	if res.VEX != nil && len(res.VEX.Doc.Statements) > 0 {
		st, err := res.VEXStatementJSON()
		if err != nil {
			return fail("VEX statement: %v", err)
		}
		jobs = append(jobs, job{predicateType: attest.PredicateOpenVEX, statement: st})
	}
	jobs = append(jobs, job{predicateType: attest.PredicateVulns, statement: vulns})
	out.statement = vulns
	r.step(StepSign, p.name)
	for i := range jobs {
		b, err := attest.SignStatement(ctx, r.o.Signer, jobs[i].statement)
		if err != nil {
			return fail("sign %s: %v", jobs[i].predicateType, err)
		}
		jobs[i].bundle = b
	}
	for _, j := range jobs {
		a, err := t.Store.Attach(ctx, p.desc, j.bundle, j.predicateType)
		if err != nil {
			return fail("attach %s to %s in %s: %v", j.predicateType, d, t.Store, err)
		}
		out.Attached = append(out.Attached, Attached{PredicateType: j.predicateType, Artifact: a})
	}
	out.Status = StatusRescanned
	if !dec.Pass {
		out.Reason = "gate failed: " + strings.Join(dec.Reasons, "; ")
	}
	return out
}
