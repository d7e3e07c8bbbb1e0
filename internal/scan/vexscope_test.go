package scan

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/vexdoc"
)

// vexFile writes an OpenVEX document holding one statement (given as the
// JSON members after its vulnerability) and returns its path.
func vexFile(t *testing.T, docFields, statement string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.json")
	data := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:test:doc", "author": "test", "version": 1, ` + docFields + `,
"statements": [{` + statement + `}]}`
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// publishedVEX is the OpenVEX document of the attestation clearcutt scan
// publishes for res: the predicate of its VEX in-toto statement.
func publishedVEX(t *testing.T, res Result) *openvex.VEX {
	t.Helper()
	data, err := res.VEXStatementJSON()
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Predicate openvex.VEX `json:"predicate"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return &st.Predicate
}

// A statement is applied to the scanned image (python:distroless) only when
// a product names it: pkg:oci/python with its tier or no tag, or its own
// digest. One naming another runtime, another tier or another digest is
// neither applied nor published. Every document scan publishes with a
// statement passes vexdoc.CheckAttested for its own image and fails for
// another digest or another runtime.
func TestVEXStatementAboutAnotherImageIsNotApplied(t *testing.T) {
	db := testDB(t, dbBuilt)
	own := "sha256%3A" + subject.Digest.Hex
	other := "sha256%3A" + strings.Repeat("cd", 32)
	for _, tc := range []struct {
		product string
		applied bool
	}{
		{"pkg:oci/node?tag=distroless", false},
		{"pkg:oci/nodejs?tag=distroless", false},
		{"pkg:oci/nodejs", false},
		{"pkg:oci/nodejs@" + own, false},
		{"pkg:oci/python-debian?tag=distroless", false},
		{"pkg:oci/python?tag=slim", false},
		{"pkg:oci/python?tag=dev", false},
		{"pkg:oci/python@" + other, false},
		{"pkg:oci/python@" + other + "?tag=distroless", false},
		{"pkg:oci/python?repository_url=docker.io/library/python", false},
		{"pkg:oci/python?tag=distroless", true},
		{"pkg:oci/python", true},
		{"pkg:oci/python@" + own, true},
		{"pkg:oci/python@" + own + "?tag=distroless", true},
	} {
		for _, sub := range []string{`, "subcomponents": [{"@id": "pkg:nix/python3"}]`, ""} {
			name := tc.product
			if sub == "" {
				name += " (whole image)"
			}
			t.Run(name, func(t *testing.T) {
				o := scanOpts(t, db, "python-closure.spdx.json")
				o.VEX = []string{vexFile(t, `"timestamp": "2026-11-26T00:00:00Z"`, `"vulnerability": {"name": "CVE-2023-40217"}, "products": [{"@id": "`+tc.product+`"`+sub+`}],
"status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"`)}
				res, err := Run(context.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				want := gate.Active
				if tc.applied {
					want = gate.Suppressed
				}
				if f := find(t, res.Findings, "CVE-2023-40217", "python3"); f.Status != want {
					t.Errorf("CVE-2023-40217 in python3 is %s, want %s", f.Status, want)
				}
				if g := find(t, res.Findings, "CVE-2023-4911", "glibc"); g.Status != gate.Active {
					t.Errorf("CVE-2023-4911 in glibc is %s", g.Status)
				}
				doc := publishedVEX(t, res)
				if published := len(doc.Statements) > 0; published != tc.applied {
					t.Fatalf("published statements %+v", doc.Statements)
				}
				if !tc.applied {
					return
				}
				image := vexdoc.AttestedImage{Name: "python", Digest: subject.Digest.String()}
				if err := vexdoc.CheckAttested(doc, image, scanNow); err != nil {
					t.Errorf("the published document fails for its own image: %v", err)
				}
				for _, im := range []vexdoc.AttestedImage{
					{Name: "python", Digest: "sha256:" + strings.Repeat("cd", 32)},
					{Name: "nodejs", Digest: subject.Digest.String()},
				} {
					if err := vexdoc.CheckAttested(doc, im, scanNow); !errors.Is(err, vexdoc.ErrInvalid) {
						t.Errorf("the published document passes for %s: %v", im, err)
					}
				}
			})
		}
	}
}

// The documents of the repository's vex/ (package products) are published
// for the image as statements about its digest, which CheckAttested accepts
// for that image alone.
func TestVEXPublishedFromRepositoryPassesCheckAttested(t *testing.T) {
	o := scanOpts(t, testDB(t, dbBuilt), "python-closure.spdx.json")
	o.VEX = repoVEX(t)
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	doc := publishedVEX(t, res)
	if len(doc.Statements) == 0 {
		t.Fatal("no statement published")
	}
	if err := vexdoc.CheckAttested(doc, vexdoc.AttestedImage{Name: "python", Digest: subject.Digest.String()}, scanNow); err != nil {
		t.Errorf("own image: %v", err)
	}
	if err := vexdoc.CheckAttested(doc, vexdoc.AttestedImage{Name: "python", Digest: "sha256:" + strings.Repeat("cd", 32)}, scanNow); !errors.Is(err, vexdoc.ErrInvalid) {
		t.Errorf("another digest: %v, want vexdoc.ErrInvalid", err)
	}
	// Published later than the verification time, it is refused.
	if err := vexdoc.CheckAttested(doc, vexdoc.AttestedImage{Name: "python", Digest: subject.Digest.String()}, scanNow.Add(-time.Hour)); !errors.Is(err, vexdoc.ErrInvalid) || !strings.Contains(err.Error(), "timestamp: 2026-11-26T12:00:00Z is in the future") {
		t.Errorf("verified before it was published: %v", err)
	}
}

// A document or statement dated later than the scan time (beyond
// vexdoc.ClockSkew) is refused when the documents are loaded, naming the
// file, the statement, the field and the time.
func TestVEXDatedInTheFutureIsRefused(t *testing.T) {
	const stmt = `"vulnerability": {"name": "CVE-2023-40217"}, "products": [{"@id": "pkg:nix/python3"}], "status": "fixed"`
	future := scanNow.Add(vexdoc.ClockSkew + time.Second).Format(time.RFC3339)
	within := scanNow.Add(vexdoc.ClockSkew).Format(time.RFC3339)
	db := testDB(t, dbBuilt)
	for _, tc := range []struct {
		name, docFields, statement string
		want                       string // after the file name
	}{
		{"document timestamp", `"timestamp": "` + future + `"`, stmt, ": timestamp: " + future + " is in the future"},
		{"document last_updated", `"timestamp": "2026-11-26T00:00:00Z", "last_updated": "` + future + `"`, stmt, ": last_updated: " + future + " is in the future"},
		{"statement timestamp", `"timestamp": "2026-11-26T00:00:00Z"`, stmt + `, "timestamp": "2099-01-01T00:00:00Z"`, ": statements[0].timestamp: 2099-01-01T00:00:00Z is in the future"},
		{"statement last_updated", `"timestamp": "2026-11-26T00:00:00Z"`, stmt + `, "timestamp": "2026-11-26T00:00:00Z", "last_updated": "` + future + `"`,
			": statements[0].last_updated: " + future + " is in the future"},
		{"within the clock skew", `"timestamp": "` + within + `"`, stmt + `, "timestamp": "` + within + `"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := vexFile(t, tc.docFields, tc.statement)
			docs, err := loadVEX([]string{p})
			if err != nil {
				t.Fatal(err)
			}
			err = checkVEXDates(docs, scanNow)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidVEX) || !errors.Is(err, vexdoc.ErrInvalid) {
				t.Errorf("%v wraps neither ErrInvalidVEX nor vexdoc.ErrInvalid", err)
			}
			if err == nil || !strings.Contains(err.Error(), p+tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, p+tc.want)
			}
			// A scan, and a batch of scans, refuse the document too.
			o := scanOpts(t, db, "python-closure.spdx.json")
			o.VEX = []string{p}
			if _, err := Run(context.Background(), o); !errors.Is(err, ErrInvalidVEX) || !strings.Contains(err.Error(), p+tc.want) {
				t.Errorf("Run: %v", err)
			}
			if _, err := OpenBatch(BatchOptions{DBDir: db, Now: scanNow, VEX: []string{p}}); !errors.Is(err, ErrInvalidVEX) || !strings.Contains(err.Error(), p+tc.want) {
				t.Errorf("OpenBatch: %v", err)
			}
		})
	}
}
