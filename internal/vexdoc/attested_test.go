package vexdoc

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openvex/go-vex/pkg/vex"
)

var (
	attestedNow   = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	attestedImage = AttestedImage{Name: "python", Digest: "sha256:" + strings.Repeat("ab", 32)}
)

func loadAttested(t *testing.T, path string) *vex.VEX {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc vex.VEX
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &doc
}

// TestCheckAttestedCorpus runs CheckAttested over testdata/adversarial:
// what clearcutt scan publishes, and documents dated in the future, about
// another image, or about no image at all.
func TestCheckAttestedCorpus(t *testing.T) {
	// want is, per fail-* file, the field of a problem and a part of its
	// message; pass-* files have no problems.
	want := map[string]struct{ field, msg string }{
		"fail-future-doc-timestamp":              {"timestamp", "2026-12-01T12:05:01Z is in the future"},
		"fail-future-doc-last-updated":           {"last_updated", "2027-01-01T00:00:00Z is in the future"},
		"fail-future-statement-timestamp":        {"statements[0].timestamp", "2099-01-01T00:00:00Z is in the future"},
		"fail-future-statement-last-updated":     {"statements[0].last_updated", "2026-12-02T00:00:00Z is in the future"},
		"fail-no-statements":                     {"statements", "at least one statement"},
		"fail-invalid-statement":                 {"statements[0]", "either justification or impact statement"},
		"fail-no-products":                       {"statements[0].products", "no product names python@sha256:abab"},
		"fail-product-other-runtime":             {"statements[0].products[0]", "pkg:oci/nodejs?tag=distroless names another image"},
		"fail-product-other-runtime-same-digest": {"statements[0].products[0]", "names another image"},
		"fail-product-similar-runtime":           {"statements[0].products[0]", "pkg:oci/python-debian?tag=distroless names another image"},
		"fail-product-other-digest":              {"statements[0].products[0]", "names another digest of python"},
		"fail-product-hash-other-digest":         {"statements[0].products[0]", "sha-256 hash cdcd"},
		"fail-product-hash-only-other-digest":    {"statements[0].products", "no product names python@sha256:abab"},
		"fail-product-namespace":                 {"statements[0].products[0]", "names another image"},
		"fail-product-repository-url":            {"statements[0].products[0]", "by repository_url"},
		"fail-product-package-with-image-hash":   {"statements[0].products[0]", "both an image and the package pkg:nix/python3@3.11.2"},
		"fail-product-only-subcomponent-purl":    {"statements[0].products", "no product names python@sha256:abab"},
		"fail-product-image-and-other-image":     {"statements[0].products[2]", "pkg:oci/nodejs?tag=distroless names another image"},
		"fail-second-statement-other-image":      {"statements[1].products[1]", "names another image"},
	}
	versionless := map[string]bool{"pass-runtime-tag": true, "pass-runtime-no-tag": true}
	files, err := filepath.Glob(filepath.Join("testdata", "adversarial", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			err := CheckAttested(loadAttested(t, f), attestedImage, attestedNow)
			if strings.HasPrefix(name, "pass-") {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				// A document naming the image by digest is refused for
				// another digest; one naming it by purl, for another
				// runtime. pkg:oci/python without a version names every
				// python image, a sha-256 hash alone the digest whatever
				// the name.
				other := AttestedImage{Name: "python", Digest: "sha256:" + strings.Repeat("cd", 32)}
				if err := CheckAttested(loadAttested(t, f), other, attestedNow); (err == nil) != versionless[name] {
					t.Errorf("for %s: %v", other, err)
				}
				other = AttestedImage{Name: "nodejs", Digest: attestedImage.Digest}
				if err := CheckAttested(loadAttested(t, f), other, attestedNow); (err == nil) != (name == "pass-hash-only") {
					t.Errorf("for %s: %v", other, err)
				}
				return
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for %s: name it pass-* or add it to want", name)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("%T is not Problems", err)
			}
			for _, p := range probs {
				if p.Field == w.field && strings.Contains(p.Message, w.msg) {
					if strings.HasPrefix(w.field, "statements[") && p.Statement == nil {
						t.Errorf("problem without a statement index: %+v", p)
					}
					if !strings.HasPrefix(p.Error(), w.field+": ") {
						t.Errorf("error %q does not start with the field", p.Error())
					}
					return
				}
			}
			t.Fatalf("no problem at %s containing %q: %v", w.field, w.msg, err)
		})
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("%s.json is missing from the corpus", name)
		}
	}
}

func TestCheckAttestedRefusesBadArguments(t *testing.T) {
	doc := loadAttested(t, filepath.Join("testdata", "adversarial", "pass-scan-shape.json"))
	for _, tc := range []struct {
		name  string
		doc   *vex.VEX
		image AttestedImage
		now   time.Time
	}{
		{"no document", nil, attestedImage, attestedNow},
		{"no name", doc, AttestedImage{Digest: attestedImage.Digest}, attestedNow},
		{"repository as name", doc, AttestedImage{Name: "ghcr.io/clearcutt/fleet/python", Digest: attestedImage.Digest}, attestedNow},
		{"no digest", doc, AttestedImage{Name: "python"}, attestedNow},
		{"hex without algorithm", doc, AttestedImage{Name: "python", Digest: strings.Repeat("ab", 32)}, attestedNow},
		{"upper-case digest", doc, AttestedImage{Name: "python", Digest: "sha256:" + strings.Repeat("AB", 32)}, attestedNow},
		{"zero now", doc, attestedImage, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckAttested(tc.doc, tc.image, tc.now); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want ErrInvalid", err)
			}
		})
	}
}
