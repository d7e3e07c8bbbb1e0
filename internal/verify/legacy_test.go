package verify_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// legacyProvenance signs generator provenance for the fixture's index in cosign's legacy form.
func (f *fixture) legacyProvenance() sigtest.LegacyAttestation {
	f.t.Helper()
	att, err := f.ss.SignLegacyAttestation(context.Background(), sigtest.SLSAGenerator(fleetIdentity.Repository, fleetIdentity.Ref),
		f.statement(f.indexHash, verify.PredicateSLSAv02, provenance()))
	if err != nil {
		f.t.Fatal(err)
	}
	return att
}

func TestLegacyProvenanceFromLayout(t *testing.T) {
	f := newFixture(t)
	img, err := sigtest.LegacyAttestationImage(f.legacyProvenance())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": "sha256-" + f.indexHash.Hex + ".att"})); err != nil {
		t.Fatal(err)
	}
	o := f.options()
	o.Sources.Legacy = verify.NewLayoutLegacyReader(dir)
	rep, err := verify.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if e := entry(t, rep, verify.ChannelProvenance, "index"); e.Status != verify.StatusVerified || e.Source != "legacy" {
		t.Fatalf("entry = %+v (err %v)", e, e.Err)
	}
	// The platform digests have no .att tag: nothing, not an error.
	if layers, err := o.Sources.Legacy.Attestations(context.Background(), f.platforms["amd64"]); err != nil || len(layers) != 0 {
		t.Fatalf("absent tag: %v %v", layers, err)
	}
}

func TestLegacyProvenanceTampered(t *testing.T) {
	f := newFixture(t)
	att := f.legacyProvenance()
	var env map[string]any
	if err := json.Unmarshal(att.Envelope, &env); err != nil {
		t.Fatal(err)
	}
	p := provenance()
	p["buildType"] = "https://example.com/forged"
	env["payload"] = base64.StdEncoding.EncodeToString(f.statement(f.indexHash, verify.PredicateSLSAv02, p))
	att.Envelope, _ = json.Marshal(env)
	img, err := sigtest.LegacyAttestationImage(att)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(f.repo.Tag("sha256-"+f.indexHash.Hex+".att"), img); err != nil {
		t.Fatal(err)
	}
	e := entry(t, f.run(), verify.ChannelProvenance, "index")
	t.Log(e.Reason)
	if e.Status != verify.StatusFailed || !errors.Is(e.Err, verify.ErrSignature) {
		t.Fatalf("entry = %+v (err %v)", e, e.Err)
	}
}

// TestLegacyProvenanceDistribution reads the .att tag from Debian's
// docker-registry, a registry without the referrers API.
func TestLegacyProvenanceDistribution(t *testing.T) {
	host := ocitest.StartDistribution(t)
	f := newFixture(t)
	repo, err := name.NewRepository(host + "/fleet/python")
	if err != nil {
		t.Fatal(err)
	}
	f.repo = repo
	f.complete()
	rep := f.run()
	if !rep.Passed() {
		t.Fatalf("report: %+v", rep.Channels)
	}
	if e := entry(t, rep, verify.ChannelProvenance, "index"); e.Source != "legacy" {
		t.Fatalf("entry = %+v", e)
	}
}
