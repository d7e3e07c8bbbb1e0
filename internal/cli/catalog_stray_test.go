package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/pipeline"
)

// TestCatalogStraysShown: the table and the step summary of catalog name
// each stray, its reference and why it is not catalogued.
func TestCatalogStraysShown(t *testing.T) {
	ref := "oci:layout@sha256:" + strings.Repeat("a", 64)
	rep := catalogReport{Path: "site/catalog.json", Passed: true,
		Catalog: catalog.Catalog{Images: []catalog.Image{{Name: "python:distroless", Status: catalog.StatusVerified}}},
		Strays: []pipeline.Stray{
			{Name: "ruby:slim", Reference: ref, Reason: "not an image of clearcutt.yaml"},
			{Name: "node:slim", Reference: ref, Reason: "labelled for fleet staging"},
		}}
	var out bytes.Buffer
	if err := renderCatalog(&globals{stdout: &out}, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"stray, not catalogued: ruby:slim (" + ref + "): not an image of clearcutt.yaml",
		"stray, not catalogued: node:slim (" + ref + "): labelled for fleet staging",
		"1 images, 1 verified, 2 stray(s) not catalogued; written to site/catalog.json",
	} {
		// A line wider than the table is wrapped: read it with the lines joined.
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
	j := newGHAJob(t)
	g := &globals{stderr: &bytes.Buffer{}, getenv: j.getenv}
	_ = g.toActions("catalog", rep, nil)
	sum := j.summaryText(t)
	for _, want := range []string{"Strays, not catalogued: 2", "ruby:slim (" + ref + "): not an image of clearcutt.yaml", "node:slim (" + ref + "): labelled for fleet staging"} {
		if !strings.Contains(sum, want) {
			t.Errorf("the summary lacks %q:\n%s", want, sum)
		}
	}
}
