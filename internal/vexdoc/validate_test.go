package vexdoc

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	const (
		zlibFixed = `{"vulnerability": {"name": "CVE-2023-45853"}, "products": [{"@id": "pkg:nix/zlib"}], "status": "fixed"}`
		expatNA   = `{"vulnerability": {"name": "CVE-2023-52426"}, "products": [{"@id": "pkg:nix/expat"}], "status": "not_affected", "justification": "vulnerable_code_not_present"}`
	)
	for _, tc := range []struct {
		name string
		// files are written to vex/ and validated in this order.
		files [][2]string
		// want's %VEX% is the vex/ directory, %IMAGES% the fleet's images.
		want ValidateReport
	}{
		{name: "no documents", want: ValidateReport{Documents: []DocumentSummary{}, Problems: Problems{}, Passed: true}},
		{name: "valid documents", files: [][2]string{
			{"a.json", docWith("a", zlibFixed)},
			{"b.json", docWith("b", expatNA, `{"vulnerability": {"name": "CVE-2023-40217"}, "products": [{"@id": "pkg:oci/python?tag=slim"}], "status": "under_investigation"}`)},
		}, want: ValidateReport{
			Documents: []DocumentSummary{
				{File: "%VEX%/a.json", ID: "urn:test:a", Version: 1, Statements: 1},
				{File: "%VEX%/b.json", ID: "urn:test:b", Version: 1, Statements: 2},
			},
			Statements: 3, Problems: Problems{}, Passed: true,
		}},
		{name: "every problem of every document", files: [][2]string{
			{"a.json", "{\n  \"@context\": \"https://openvex.dev/ns/v0.2.0\",\n  \"version\": 1,,\n}\n"},
			{"b.json", docWith("b",
				`{"vulnerability": {"name": "CVE-2023-45853"}, "products": [{"@id": "pkg:nix/zlib"}], "status": "not_affected", "impact_statement": "x", "action_statement": "y"}`,
				`{"vulnerability": {"name": "CVE-2023-45853"}, "products": [{"@id": "pkg:oci/ruby?tag=slim"}], "status": "fixed"}`)},
			{"c.json", docWith("c", expatNA)},
			{"d.json", docWith("d", `{"vulnerability": {"name": "CVE-2023-52426"}, "products": [{"@id": "pkg:nix/expat@2.5.0"}], "status": "affected", "action_statement": "upgrade"}`)},
		}, want: ValidateReport{
			Documents: []DocumentSummary{
				{File: "%VEX%/a.json"},
				{File: "%VEX%/b.json", ID: "urn:test:b", Version: 1, Statements: 2},
				{File: "%VEX%/c.json", ID: "urn:test:c", Version: 1, Statements: 1},
				{File: "%VEX%/d.json", ID: "urn:test:d", Version: 1, Statements: 1},
			},
			Statements: 4,
			Problems: Problems{
				{File: "%VEX%/a.json", Line: 3, Message: "not JSON: invalid character ',' looking for beginning of object key string"},
				{File: "%VEX%/b.json", Line: 8, Statement: ptr(0), Field: "statements[0].action_statement", Message: "must not be set when the status is not_affected"},
				{File: "%VEX%/b.json", Line: 9, Statement: ptr(1), Field: "statements[1].products[0].@id",
					Message: `"pkg:oci/ruby?tag=slim" names no image of the fleet (images are %IMAGES%)`},
				{File: "%VEX%/d.json", Line: 8, Statement: ptr(0), Field: "statements[0].status",
					Message: "CVE-2023-52426 in pkg:nix/expat@2.5.0 is affected here but not_affected in %VEX%/c.json statements[0] (line 8): " +
						"keep one status per vulnerability, product and subcomponent (update that statement instead)"},
			},
			Passed: false,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testFleet(t)
			vexDir := filepath.Join(f.Dir, "vex")
			var files []string
			for _, file := range tc.files {
				p := filepath.Join(vexDir, file[0])
				writeDoc(t, p, file[1])
				files = append(files, p)
			}
			rep, err := Validate(ValidateOptions{Fleet: f, Files: files, Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			in := strings.NewReplacer("%VEX%", vexDir, "%IMAGES%", imageList(f.Images())).Replace
			want := tc.want
			for i := range want.Documents {
				want.Documents[i].File = in(want.Documents[i].File)
			}
			for i := range want.Problems {
				want.Problems[i].File, want.Problems[i].Message = in(want.Problems[i].File), in(want.Problems[i].Message)
			}
			if diff := cmp.Diff(want, rep); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

// A file that cannot be read is an error, not a problem of the document.
func TestValidateUnreadableFile(t *testing.T) {
	f := testFleet(t)
	missing := filepath.Join(f.Dir, "vex", "missing.json")
	if _, err := Validate(ValidateOptions{Fleet: f, Files: []string{missing}}); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Errorf("missing file: %v, want not-exist", err)
	}
	if _, err := Validate(ValidateOptions{Fleet: f, Files: []string{f.Dir}}); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("a directory: %v, want a read error", err)
	}
}
