package scan

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/clearcutt/clearcutt/internal/gate"
)

// A statement naming an image of the fleet (pkg:oci/<runtime>?tag=<tier>,
// as clearcutt vex create records runtime:tier) with the package as its
// subcomponent suppresses the finding in that image only, and is published.
func TestImageStatementSuppressesInItsTierOnly(t *testing.T) {
	db := testDB(t, dbBuilt)
	doc := func(product string) string {
		p := filepath.Join(t.TempDir(), "image.json")
		data := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:test:image", "author": "test", "timestamp": "2026-11-26T00:00:00Z", "version": 1,
"statements": [{"vulnerability": {"name": "CVE-2023-40217"}, "products": [{"@id": "` + product + `", "subcomponents": [{"@id": "pkg:nix/python3"}]}],
"status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}`
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		product string
		want    gate.Status
	}{
		{"pkg:oci/python?tag=distroless", gate.Suppressed}, // subject is python:distroless
		{"pkg:oci/python", gate.Suppressed},
		{"pkg:oci/python?tag=slim", gate.Active},
		{"pkg:oci/nodejs?tag=distroless", gate.Active},
	} {
		o := scanOpts(t, db, "python-closure.spdx.json")
		o.VEX = []string{doc(tc.product)}
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		f := find(t, res.Findings, "CVE-2023-40217", "python3")
		if f.Status != tc.want {
			t.Errorf("%s: CVE-2023-40217 is %s, want %s", tc.product, f.Status, tc.want)
		}
		if g := find(t, res.Findings, "CVE-2023-4911", "glibc"); g.Status != gate.Active {
			t.Errorf("%s: glibc's CVE-2023-4911 is %s", tc.product, g.Status)
		}
		published := len(res.VEX.Doc.Statements) == 1
		if published != (tc.want == gate.Suppressed) {
			t.Errorf("%s: published statements %+v", tc.product, res.VEX.Doc.Statements)
		}
	}
}
