package pipeline_test

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// strayFleet is the fleet "prod": python in slim and distroless, node in slim.
func strayFleet() *fleet.File {
	return &fleet.File{Path: "clearcutt.yaml", Fleet: fleet.Fleet{
		Metadata: fleet.Metadata{Name: "prod"},
		Runtimes: []fleet.Runtime{{ID: "python", Version: "3.12", Description: "CPython for applications", Tiers: []string{"distroless", "slim"}}, {ID: "node", Version: "22", Tiers: []string{"slim"}}},
	}}
}

// labelledIndex is a two-platform index whose configs are labelled
// runtime:tier and, unless fleetName is "", with the fleet label.
func labelledIndex(t *testing.T, runtime, tier, fleetName string) v1.ImageIndex {
	t.Helper()
	labels := map[string]string{oci.LabelRuntime: runtime, oci.LabelTier: tier}
	if fleetName != "" {
		labels[oci.LabelFleet] = fleetName
	}
	return ocitest.Index(t, labels, "amd64", "arm64")
}

// strayLayout writes a layout holding, by <runtime>:<tier>, an image of
// the fleet labelled for it, one without the fleet label, one of the
// fleet's names labelled for another fleet, and one of a runtime the fleet
// does not have. It returns the layout and the digest of each name.
func strayLayout(t *testing.T) (string, map[string]v1.Hash) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]v1.Hash{}
	for _, im := range []struct{ runtime, tier, fleet string }{
		{"python", "slim", "prod"},
		{"python", "distroless", ""},
		{"node", "slim", "staging"},
		{"ruby", "slim", "prod"},
	} {
		idx := labelledIndex(t, im.runtime, im.tier, im.fleet)
		n := im.runtime + ":" + im.tier
		if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{oci.AnnotationRefName: n})); err != nil {
			t.Fatal(err)
		}
		if digests[n], err = idx.Digest(); err != nil {
			t.Fatal(err)
		}
	}
	return dir, digests
}

func keyVerifier(t *testing.T) stage.Verifier {
	t.Helper()
	signer, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	policy, err := verify.NewPolicy(verify.PinnedFleetEvidence(), verify.WithKey(signer.PublicKeyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	return stage.Verifier{Policy: policy}
}

func catalogNames(t *testing.T, out string) []string {
	t.Helper()
	c, err := catalog.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, im := range c.Images {
		names = append(names, im.Name)
	}
	sort.Strings(names)
	return names
}

// TestCatalogStraysFromLayout: of a layout's images, only those of the
// fleet are catalogued: an image named for no image of clearcutt.yaml, or
// labelled for another fleet, is a stray, reported and not catalogued; an
// image without the fleet label is judged by its name.
func TestCatalogStraysFromLayout(t *testing.T) {
	dir, digests := strayLayout(t)
	out := t.TempDir()
	var log bytes.Buffer
	rep, err := pipeline.Catalog(context.Background(), pipeline.CatalogOptions{
		Fleet: strayFleet(), Out: out, From: "oci:" + dir, Verifier: keyVerifier(t), Log: &log,
	})
	if err != nil {
		t.Fatalf("Catalog: %v\n%s", err, log.String())
	}
	if got := strings.Join(catalogNames(t, out), ","); got != "python:distroless,python:slim" {
		t.Errorf("catalogued %s, want python:distroless,python:slim", got)
	}
	if len(rep.Catalog.Images) != 2 {
		t.Errorf("the report's catalog has %d images, want 2", len(rep.Catalog.Images))
	}
	for _, im := range rep.Catalog.Images {
		if im.Description != "CPython for applications" {
			t.Errorf("%s: description %q, want clearcutt.yaml's", im.Name, im.Description)
		}
	}
	want := map[string]pipeline.Stray{
		"node:slim": {Name: "node:slim", Reference: oci.Ref{Layout: dir, Digest: digests["node:slim"].String()}.String(), Reason: "labelled for fleet staging"},
		"ruby:slim": {Name: "ruby:slim", Reference: oci.Ref{Layout: dir, Digest: digests["ruby:slim"].String()}.String(), Reason: "not an image of clearcutt.yaml"},
	}
	if len(rep.Strays) != len(want) {
		t.Errorf("strays %+v, want %+v", rep.Strays, want)
	}
	for _, s := range rep.Strays {
		if s != want[s.Name] {
			t.Errorf("stray %+v, want %+v", s, want[s.Name])
		}
		line := "clearcutt: warning: " + s.Name + " (" + s.Reference + ") is not catalogued: " + s.Reason
		if !strings.Contains(log.String(), line) {
			t.Errorf("the log lacks %q:\n%s", line, log.String())
		}
	}
	for _, n := range []string{"node:slim", "ruby:slim"} {
		if strings.Contains(log.String(), "catalog "+n) {
			t.Errorf("the stray %s was verified:\n%s", n, log.String())
		}
	}
}

// TestCatalogStraysFromImagesFile: a name of an images file that is not an
// image of clearcutt.yaml is a stray, and is not read at all (its registry
// does not exist); one labelled for another fleet is a stray too.
func TestCatalogStraysFromImagesFile(t *testing.T) {
	dir, digests := strayLayout(t)
	at := func(n string) oci.Ref { return oci.Ref{Layout: dir, Digest: digests[n].String()} }
	absent, err := oci.RequireDigest("registry.invalid/fleet/ruby@" + digest)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var log bytes.Buffer
	rep, err := pipeline.Catalog(context.Background(), pipeline.CatalogOptions{
		Fleet: strayFleet(), Out: out, Verifier: keyVerifier(t), Log: &log,
		Images: map[string]oci.Ref{"python:slim": at("python:slim"), "node:slim": at("node:slim"), "ruby:slim": absent},
	})
	if err != nil {
		t.Fatalf("Catalog: %v\n%s", err, log.String())
	}
	if got := strings.Join(catalogNames(t, out), ","); got != "python:slim" {
		t.Errorf("catalogued %s, want python:slim", got)
	}
	want := []pipeline.Stray{
		{Name: "node:slim", Reference: at("node:slim").String(), Reason: "labelled for fleet staging"},
		{Name: "ruby:slim", Reference: absent.String(), Reason: "not an image of clearcutt.yaml"},
	}
	if len(rep.Strays) != 2 || rep.Strays[0] != want[0] || rep.Strays[1] != want[1] {
		t.Errorf("strays %+v, want %+v", rep.Strays, want)
	}
}

// TestCatalogOnlyStrays: a layout with no image of the fleet is refused,
// and no catalog is written.
func TestCatalogOnlyStrays(t *testing.T) {
	dir, _ := strayLayout(t)
	f := strayFleet()
	f.Runtimes = []fleet.Runtime{{ID: "go", Version: "1.24", Tiers: []string{"slim"}}}
	out := t.TempDir()
	_, err := pipeline.Catalog(context.Background(), pipeline.CatalogOptions{Fleet: f, Out: out, From: "oci:" + dir, Verifier: keyVerifier(t)})
	if !outcome.IsUsage(err) || !strings.Contains(err.Error(), "no image of clearcutt.yaml found, 4 stray(s)") {
		t.Errorf("error %v, want a usage error naming the strays", err)
	}
	if _, err := catalog.Read(out); err == nil {
		t.Errorf("a catalog was written")
	}
}
