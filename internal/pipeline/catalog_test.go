package pipeline_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/pipeline"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.json")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestReadImagesFile(t *testing.T) {
	p := writeFile(t, `{"python:slim": "registry.test/fleet/python@`+digest+`"}`)
	refs, err := pipeline.ReadImagesFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := refs["python:slim"].String(); got != "registry.test/fleet/python@"+digest {
		t.Errorf("python:slim is %s", got)
	}
	for name, tc := range map[string]struct{ content, want string }{
		"empty":         {`{}`, "names no image"},
		"null":          {`null`, "want a JSON object of <runtime>:<tier> to REFERENCE@sha256:…"},
		"trailing data": {`{} {}`, "data after the JSON object"},
		"bad name":      {`{"python": "registry.test/fleet/python@` + digest + `"}`, `key "python" is not <runtime>:<tier>`},
		"by tag":        {`{"python:slim": "registry.test/fleet/python:slim"}`, "python:slim"},
	} {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, tc.content)
			_, err := pipeline.ReadImagesFile(p)
			if !outcome.IsUsage(err) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--images "+p) {
				t.Errorf("error %v, want a usage error naming --images %s and %q", err, p, tc.want)
			}
		})
	}
}

func TestReadFailedFile(t *testing.T) {
	f := &fleet.File{Path: "clearcutt.yaml", Fleet: fleet.Fleet{Runtimes: []fleet.Runtime{{ID: "python", Tiers: []string{"slim"}}}}}
	for name, tc := range map[string]struct{ content, want string }{
		"not in the fleet": {`{"node:slim": "tests"}`, "key node:slim is not an image of the fleet (clearcutt.yaml)"},
		"null":             {`null`, "want a JSON object of <runtime>:<tier> to the reason its release failed"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pipeline.ReadFailedFile(f, writeFile(t, tc.content), "images.json", nil)
			if !outcome.IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want a usage error with %q", err, tc.want)
			}
		})
	}
	images := map[string]oci.Ref{"python:slim": {}}
	if _, err := pipeline.ReadFailedFile(f, writeFile(t, `{"python:slim": "tests"}`), "images.json", images); !outcome.IsUsage(err) ||
		!strings.Contains(err.Error(), "key python:slim is also in --images images.json") {
		t.Errorf("an image both released and failed: error %v", err)
	}
	failed, err := pipeline.ReadFailedFile(f, writeFile(t, `{"python:slim": "tier tests failed"}`), "images.json", nil)
	if err != nil || len(failed) != 1 || failed[0].Image.RefName != "python:slim" || failed[0].Reason != "tier tests failed" {
		t.Errorf("ReadFailedFile = %+v, %v", failed, err)
	}
}
