package verify_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// pushLegacySig writes sigs as the cosign .sig tag of d.
func (f *fixture) pushLegacySig(d v1.Hash, sigs ...sigtest.LegacySignature) {
	f.t.Helper()
	img, err := sigtest.LegacySignatureImage(sigs...)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := remote.Write(f.repo.Tag("sha256-"+d.Hex+".sig"), img); err != nil {
		f.t.Fatal(err)
	}
}

// legacySig signs, as id, cosign's payload naming named.
func (f *fixture) legacySig(id sigtest.GitHubIdentity, named v1.Hash) sigtest.LegacySignature {
	f.t.Helper()
	s, err := f.ss.SignLegacySignature(context.Background(), id, sigtest.SimpleSigningPayload(f.repo.String(), named))
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// completeLegacySigned attaches every channel as bundles except the
// signature, which only the .sig tags of the index and platforms carry.
func (f *fixture) completeLegacySigned() {
	f.t.Helper()
	f.complete()
	for d, bs := range f.bundles {
		var keep []verify.StoredBundle
		for _, b := range bs {
			if b.PredicateType != verify.PredicateSignature {
				keep = append(keep, b)
			}
		}
		f.bundles[d] = keep
	}
	for _, d := range append([]v1.Hash{f.indexHash}, f.platforms["amd64"], f.platforms["arm64"]) {
		f.pushLegacySig(d, f.legacySig(signerID, d))
	}
}

func assertLegacySignatureVerified(t *testing.T, rep verify.Report) {
	t.Helper()
	if !rep.Passed() {
		t.Fatalf("report: %+v", rep.Channels)
	}
	sig := rep.Channel(verify.ChannelSignature)
	if sig.Status != verify.StatusVerified || len(sig.Entries) != 3 {
		t.Fatalf("signature channel: %+v", sig)
	}
	for _, e := range sig.Entries {
		if e.Source != "legacy" || e.Signer != signerID.BuildSignerURI() || e.Issuer != sigtest.GitHubIssuer || e.SignedAt == nil {
			t.Errorf("signature entry %s = %+v", e.Arch, e)
		}
	}
}

// TestLegacySignatureVerifies reads .sig tags from ggcr's registry with
// the referrers API.
func TestLegacySignatureVerifies(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/fleet/python")
	if err != nil {
		t.Fatal(err)
	}
	f.repo = repo
	f.completeLegacySigned()
	assertLegacySignatureVerified(t, f.run())
}

// TestLegacySignatureDistribution reads .sig tags from Debian's
// docker-registry.
func TestLegacySignatureDistribution(t *testing.T) {
	host := ocitest.StartDistribution(t)
	f := newFixture(t)
	repo, err := name.NewRepository(host + "/fleet/python")
	if err != nil {
		t.Fatal(err)
	}
	f.repo = repo
	f.completeLegacySigned()
	assertLegacySignatureVerified(t, f.run())
}

func TestLegacySignatureRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  func(f *fixture) sigtest.LegacySignature
		want error
	}{
		{name: "tampered payload", want: verify.ErrSignature, sig: func(f *fixture) sigtest.LegacySignature {
			s := f.legacySig(signerID, f.indexHash)
			s.Payload = []byte(strings.Replace(string(s.Payload), "fleet/python", "fleet/pythom", 1))
			return s
		}},
		{name: "wrong identity", want: verify.ErrIdentityMismatch, sig: func(f *fixture) sigtest.LegacySignature {
			other := signerID
			other.Workflow = ".github/workflows/other.yml"
			return f.legacySig(other, f.indexHash)
		}},
		{name: "payload names another digest", want: verify.ErrDigestMismatch, sig: func(f *fixture) sigtest.LegacySignature {
			return f.legacySig(signerID, f.platforms["amd64"])
		}},
		{name: "no certificate", want: verify.ErrLegacyFormat, sig: func(f *fixture) sigtest.LegacySignature {
			s := f.legacySig(signerID, f.indexHash)
			delete(s.Annotations, sigtest.AnnotationCertificate)
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.completeLegacySigned()
			f.pushLegacySig(f.indexHash, tc.sig(f))
			rep := f.run()
			e := entry(t, rep, verify.ChannelSignature, "index")
			t.Log(e.Reason)
			if e.Status != verify.StatusFailed || !errors.Is(e.Err, tc.want) {
				t.Fatalf("index signature = %+v (err %v), want failed with %v", e, e.Err, tc.want)
			}
			if rep.Passed() {
				t.Fatal("report passed with a rejected index signature")
			}
			// The platforms' own .sig tags still verify.
			if e := entry(t, rep, verify.ChannelSignature, "linux/amd64"); e.Status != verify.StatusVerified {
				t.Fatalf("amd64 signature = %+v", e)
			}
		})
	}
	t.Run("wrong identity names the field", func(t *testing.T) {
		f := newFixture(t)
		f.completeLegacySigned()
		other := signerID
		other.WorkflowRepository = other.Repository
		other.Repository = "mallory/base-images"
		f.pushLegacySig(f.indexHash, f.legacySig(other, f.indexHash))
		var ie *verify.IdentityError
		if e := entry(t, f.run(), verify.ChannelSignature, "index"); !errors.As(e.Err, &ie) || ie.Field != verify.FieldSourceRepositoryURI {
			t.Fatalf("entry = %+v (err %v)", e, e.Err)
		}
	})
}

// TestLegacySignatureKeyMode: `cosign sign --key` signatures verify
// against the configured key only.
func TestLegacySignatureKeyMode(t *testing.T) {
	f := newFixture(t)
	k, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	other, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k *sigtest.KeySigner, d v1.Hash) sigtest.LegacySignature {
		s, err := k.SignLegacySignature(sigtest.SimpleSigningPayload(f.repo.String(), d))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	f.pushLegacySig(f.indexHash, sign(k, f.indexHash))
	f.pushLegacySig(f.platforms["amd64"], sign(other, f.platforms["amd64"]))
	o := f.options()
	o.Policy.PublicKey = k.PublicKeyPEM()
	rep, err := verify.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if e := entry(t, rep, verify.ChannelSignature, "index"); e.Status != verify.StatusVerified || e.Source != "legacy" || e.Signer != "configured public key" {
		t.Fatalf("index = %+v (err %v)", e, e.Err)
	}
	if e := entry(t, rep, verify.ChannelSignature, "linux/amd64"); e.Status != verify.StatusFailed || !errors.Is(e.Err, verify.ErrSignature) {
		t.Fatalf("amd64 signed by another key = %+v (err %v)", e, e.Err)
	}
	if e := entry(t, rep, verify.ChannelSignature, "linux/arm64"); e.Status != verify.StatusMissing {
		t.Fatalf("arm64 without .sig = %+v", e)
	}
}
