package benchreport

import (
	"errors"
	"fmt"
	"math"
)

// The benchmarks the page is computed from, as go test names them.
const (
	AssembleCold       = "BenchmarkAssembleCold"
	AssembleWarm       = "BenchmarkAssembleWarm"
	TarGzipBaseline    = "BenchmarkTarGzipBaseline"
	PublishCold        = "BenchmarkPublishCold"
	PublishUnchanged   = "BenchmarkPublishUnchanged"
	VerifyAllChannels  = "BenchmarkVerifyAllChannels"
	CosignEquivalent   = "BenchmarkCosignEquivalent"
	Rescan1            = "BenchmarkRescan/images=1"
	Rescan50           = "BenchmarkRescan/images=50"
	Rescan50PerImage   = "BenchmarkRescan/images=50/per-image"
	RescanFleet500     = "BenchmarkRescanFleet500"
	CellDistrolessCold = "BenchmarkPythonCell/distroless/cold"
	CellDevCold        = "BenchmarkPythonCell/dev/cold"
	CellDistrolessWarm = "BenchmarkPythonCell/distroless/warm"
)

// Benchmarks lists every benchmark the page needs, in the order the page
// presents them.
var Benchmarks = []string{
	AssembleCold, AssembleWarm, TarGzipBaseline, PublishCold, PublishUnchanged,
	VerifyAllChannels, CosignEquivalent,
	Rescan1, Rescan50, Rescan50PerImage, RescanFleet500,
	CellDistrolessCold, CellDevCold, CellDistrolessWarm,
}

// rescanFleet is the number of images of BenchmarkRescan/images=50.
const rescanFleet = 50

// Figures are the means, over the -count runs, of every metric the page
// shows, in go test's units (ns/op, MB/s, the benchmarks' own per-op
// counts), and the shape of the rescan benchmark's synthetic fleet.
type Figures struct {
	AssembleColdNs, AssembleColdMBs float64
	AssembleWarmNs                  float64
	TarNs, TarMBs                   float64

	PublishColdNs, PublishColdBlobs, PublishColdBytes                                         float64
	PublishUnchangedNs, PublishUnchangedBlobs, PublishUnchangedSkipped, PublishUnchangedBytes float64

	VerifyNs                    float64
	CosignNs, CosignInvocations float64

	Rescan1Ns, Rescan1Packages, Rescan1Unique, Rescan1Runs     float64
	Rescan50Ns, Rescan50Packages, Rescan50Unique, Rescan50Runs float64
	PerImage50Ns                                               float64

	// The end-to-end rescan of BenchmarkRescanFleet500: its time, the
	// platforms rescanned, the signatures made, signatures per second and
	// the peak heap in use (MiB).
	Fleet500Ns, Fleet500Platforms, Fleet500Signatures, Fleet500SigsPerSec, Fleet500PeakMiB float64

	CellDistrolessColdNs, CellDevColdNs, CellDistrolessWarmNs float64

	// FleetPackages is the number of packages of each SPDX document of the
	// rescan fleet, FleetShared how many of them every image holds and
	// FleetOwn how many are the image's own (FleetShared + FleetOwn =
	// FleetPackages). They are derived from the images=1 and images=50
	// counts: one image has FleetPackages distinct packages, fifty have
	// FleetShared + 50 × FleetOwn.
	FleetPackages, FleetShared, FleetOwn int
}

// Compute reads the figures from r. Every benchmark of Benchmarks must have
// exactly count results, one per -count run, each with every metric the
// page uses; otherwise the error names each benchmark or metric that is
// missing (ErrMissing) or has another number of results (ErrMalformed).
func Compute(r *Results, count int) (*Figures, error) {
	var errs []error
	for _, b := range Benchmarks {
		switch n := r.Runs(b); {
		case n == 0:
			errs = append(errs, fmt.Errorf("benchmark %s: %w", b, ErrMissing))
		case n != count:
			errs = append(errs, fmt.Errorf("benchmark %s: %d results, want %d (one per -count run): %w", b, n, count, ErrMalformed))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	f := &Figures{}
	for _, m := range []struct {
		benchmark, unit string
		dst             *float64
	}{
		{AssembleCold, "ns/op", &f.AssembleColdNs},
		{AssembleCold, "MB/s", &f.AssembleColdMBs},
		{AssembleWarm, "ns/op", &f.AssembleWarmNs},
		{TarGzipBaseline, "ns/op", &f.TarNs},
		{TarGzipBaseline, "MB/s", &f.TarMBs},
		{PublishCold, "ns/op", &f.PublishColdNs},
		{PublishCold, "blobs-uploaded/op", &f.PublishColdBlobs},
		{PublishCold, "bytes-uploaded/op", &f.PublishColdBytes},
		{PublishUnchanged, "ns/op", &f.PublishUnchangedNs},
		{PublishUnchanged, "blobs-uploaded/op", &f.PublishUnchangedBlobs},
		{PublishUnchanged, "blobs-skipped/op", &f.PublishUnchangedSkipped},
		{PublishUnchanged, "bytes-uploaded/op", &f.PublishUnchangedBytes},
		{VerifyAllChannels, "ns/op", &f.VerifyNs},
		{CosignEquivalent, "ns/op", &f.CosignNs},
		{CosignEquivalent, "invocations/op", &f.CosignInvocations},
		{Rescan1, "ns/op", &f.Rescan1Ns},
		{Rescan1, "packages/op", &f.Rescan1Packages},
		{Rescan1, "unique-packages/op", &f.Rescan1Unique},
		{Rescan1, "matcher-runs/op", &f.Rescan1Runs},
		{Rescan50, "ns/op", &f.Rescan50Ns},
		{Rescan50, "packages/op", &f.Rescan50Packages},
		{Rescan50, "unique-packages/op", &f.Rescan50Unique},
		{Rescan50, "matcher-runs/op", &f.Rescan50Runs},
		{Rescan50PerImage, "ns/op", &f.PerImage50Ns},
		{RescanFleet500, "ns/op", &f.Fleet500Ns},
		{RescanFleet500, "platforms/op", &f.Fleet500Platforms},
		{RescanFleet500, "signatures/op", &f.Fleet500Signatures},
		{RescanFleet500, "sigs/s", &f.Fleet500SigsPerSec},
		{RescanFleet500, "peak-heap-MiB", &f.Fleet500PeakMiB},
		{CellDistrolessCold, "ns/op", &f.CellDistrolessColdNs},
		{CellDevCold, "ns/op", &f.CellDevColdNs},
		{CellDistrolessWarm, "ns/op", &f.CellDistrolessWarmNs},
	} {
		v, err := r.Mean(m.benchmark, m.unit)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*m.dst = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := f.fleetShape(); err != nil {
		return nil, err
	}
	return f, nil
}

// fleetShape derives FleetPackages, FleetShared and FleetOwn from the rescan
// counts, and fails (ErrMalformed) if the counts do not describe a fleet of
// documents of one size that share a common set of packages.
func (f *Figures) fleetShape() error {
	one, unique50, all50 := f.Rescan1Unique, f.Rescan50Unique, f.Rescan50Packages
	own := (unique50 - one) / (rescanFleet - 1)
	shared := one - own
	whole := func(x float64) bool { return x >= 0 && x == float64(int64(x)) }
	if !whole(one) || !whole(own) || !whole(shared) || f.Rescan1Packages != one || all50 != rescanFleet*one {
		return fmt.Errorf("%s: %v packages, %v distinct; %s: %v packages, %v distinct: not %d documents of one size sharing one set of packages: %w",
			Rescan1, f.Rescan1Packages, one, Rescan50, all50, unique50, rescanFleet, ErrMalformed)
	}
	f.FleetPackages, f.FleetShared, f.FleetOwn = int(one), int(shared), int(own)
	return nil
}

// Assumptions of Nightly, the estimate of a nightly rescan on a GitHub
// runner.
const (
	// RunnerVCPUs is the vCPU count of GitHub's standard ubuntu-24.04
	// runner of a public repository.
	RunnerVCPUs = 4
	// SigstoreRoundTrip is the assumed wait per keyless signature on the
	// public Sigstore over the internet: the Rekor entry and the RFC 3161
	// timestamp, one request each (Fulcio is asked once per key pair).
	SigstoreRoundTrip = 0.5 // seconds
)

// Nightly estimates a rescan of the BenchmarkRescanFleet500 fleet on a
// GitHub-hosted runner of RunnerVCPUs vCPUs from the run measured on
// nproc cores: the measured time scaled by nproc/RunnerVCPUs (the work is
// CPU-bound here, and the default worker count follows the cores), plus
// each signature's round trips to the public Sigstore, SigstoreRoundTrip
// per signature, overlapped by the RunnerVCPUs workers. Minutes are
// rounded up, as Actions bills them.
type Nightly struct {
	CPUSeconds, NetworkSeconds, Seconds float64
	Minutes                             int
}

// Nightly returns the estimate; nproc is the number of cores the
// benchmarks ran on.
func (f *Figures) Nightly(nproc int) Nightly {
	if nproc < 1 {
		nproc = 1
	}
	n := Nightly{CPUSeconds: f.Fleet500Ns / 1e9 * float64(nproc) / RunnerVCPUs,
		NetworkSeconds: f.Fleet500Signatures * SigstoreRoundTrip / RunnerVCPUs}
	n.Seconds = n.CPUSeconds + n.NetworkSeconds
	n.Minutes = int(math.Ceil(n.Seconds / 60))
	return n
}
