package remediate

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKEVTestdata(t *testing.T) {
	k, err := LoadKEV(filepath.Join("testdata", "kev.json"))
	if err != nil {
		t.Fatal(err)
	}
	if k.CatalogVersion != "2023.09.13" || k.Count != 1 {
		t.Fatalf("kev = %+v", k)
	}
	// Matched by id or by any alias, case-insensitively.
	e, ok := k.Lookup("GHSA-j7hp-h8jx-5ppr", "cve-2023-4863")
	if !ok || e.DueDate != "2023-10-04" || e.VendorProject != "Google" {
		t.Fatalf("Lookup by alias = %+v, %v", e, ok)
	}
	if _, ok := k.Lookup("CVE-2023-1999"); ok {
		t.Fatal("CVE-2023-1999 is not in the file")
	}
	var none *KEV
	if _, ok := none.Lookup("CVE-2023-4863"); ok {
		t.Fatal("a nil catalog lists nothing")
	}
}

func TestParseKEVErrors(t *testing.T) {
	entry := `{"cveID": "CVE-2023-4863", "dateAdded": "2023-09-13", "dueDate": "2023-10-04"}`
	for name, tc := range map[string]struct{ doc, want string }{
		"not json":        {`{"catalogVersion": `, "unexpected EOF"},
		"no version":      {`{"vulnerabilities": [` + entry + `]}`, "no catalogVersion"},
		"no list":         {`{"catalogVersion": "1"}`, "no vulnerabilities list"},
		"count mismatch":  {`{"catalogVersion": "1", "count": 2, "vulnerabilities": [` + entry + `]}`, "count is 2 but 1"},
		"bad id":          {`{"catalogVersion": "1", "vulnerabilities": [{"cveID": "GHSA-xxxx"}]}`, `vulnerabilities[0].cveID "GHSA-xxxx"`},
		"bad date":        {`{"catalogVersion": "1", "vulnerabilities": [{"cveID": "CVE-2023-4863", "dueDate": "4 Oct 2023"}]}`, "dueDate \"4 Oct 2023\" is not a date"},
		"list not a list": {`{"catalogVersion": "1", "vulnerabilities": {}}`, "cannot unmarshal"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseKEV("kev.json", []byte(tc.doc))
			if !errors.Is(err, ErrInvalidKEV) || !strings.Contains(err.Error(), "kev.json") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidKEV naming kev.json and %q", err, tc.want)
			}
		})
	}
	// Fields CISA adds later do not break reading.
	k, err := ParseKEV("kev.json", []byte(`{"catalogVersion": "1", "newField": true, "vulnerabilities": [{"cveID": "CVE-2021-44228", "cwes": ["CWE-20"], "another": 1}]}`))
	if err != nil || k.Count != 1 {
		t.Fatalf("unknown fields: %v", err)
	}
}
