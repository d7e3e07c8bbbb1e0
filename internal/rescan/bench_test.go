package rescan_test

import (
	"context"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/rescan/rescantest"
	"github.com/clearcutt/clearcutt/internal/scan"
)

type benchItem struct {
	sbom    []byte
	subject scan.Subject
}

func benchFleet(n int) []benchItem {
	out := make([]benchItem, n)
	for i := range out {
		out[i] = benchItem{sbom: rescantest.SBOM(i), subject: scan.Subject{Name: fmt.Sprintf("bench%02d:distroless", i),
			Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i)}}}
	}
	return out
}

// BenchmarkRescan measures the part of a rescan that grows with the fleet:
// matching every platform's SBOM against the database with real grype and
// attributing the matches to each SBOM (findings, origin, VEX and
// exceptions), as rescan.Run does between verification and signing.
// images=1 and images=50 use scan.Batch (one database session, grype's
// matchers run once per distinct package); images=50/per-image scans the
// same 50 SBOMs with scan.Run one by one, the way a per-image rescan
// would. Each iteration starts from nothing: a new batch, no remembered
// matches.
func BenchmarkRescan(b *testing.B) {
	db := rescantest.DB(b)
	vex, exc := rescantest.Policy(b)
	fleet := benchFleet(50)
	ctx := context.Background()
	batch := func(b *testing.B, items []benchItem) {
		var st scan.BatchStats
		findings := 0
		for b.Loop() {
			bt, err := scan.OpenBatch(scan.BatchOptions{DBDir: db, VEX: vex, Exceptions: exc})
			if err != nil {
				b.Fatal(err)
			}
			findings = 0
			for _, it := range items {
				res, err := bt.Scan(ctx, scan.Item{SBOM: it.sbom, SBOMPath: it.subject.Name, Subject: it.subject})
				if err != nil {
					b.Fatal(err)
				}
				findings += len(res.Findings)
			}
			st = bt.Stats()
			if err := bt.Close(); err != nil {
				b.Fatal(err)
			}
		}
		if findings < 6*len(items) {
			b.Fatalf("%d findings for %d images: the fixture's vulnerable packages did not match", findings, len(items))
		}
		b.ReportMetric(float64(st.Packages), "packages/op")
		b.ReportMetric(float64(st.UniquePackages), "unique-packages/op")
		b.ReportMetric(float64(st.Lookups), "matcher-runs/op")
	}
	b.Run("images=1", func(b *testing.B) { batch(b, fleet[:1]) })
	b.Run("images=50", func(b *testing.B) { batch(b, fleet) })
	b.Run("images=50/per-image", func(b *testing.B) {
		packages := 0
		for b.Loop() {
			packages = 0
			for _, it := range fleet {
				res, err := scan.Run(ctx, scan.Options{SBOM: it.sbom, SBOMPath: it.subject.Name, Subject: it.subject,
					DBDir: db, VEX: vex, Exceptions: exc})
				if err != nil {
					b.Fatal(err)
				}
				packages += res.Packages
			}
		}
		b.ReportMetric(float64(packages), "packages/op")
	})
}
