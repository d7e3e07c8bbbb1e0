package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Evidence file names in <evidence dir>/sha256-<hex>/.
const (
	FileSBOM       = "sbom.spdx.json"
	FileTestResult = "test-result.json"
	FileVulns      = "vulns.json"
	FileVEX        = "vex.json"
)

// evidenceFile is one kind of evidence file and how it becomes a statement.
type evidenceFile struct {
	name          string
	predicateType string
	// wrap: the file is a bare document to wrap as the predicate; else it
	// is a statement signed as it is.
	wrap bool
	// required for platform images (unless missing evidence is allowed).
	required bool
}

var evidenceFiles = []evidenceFile{
	{FileSBOM, PredicateSPDX, true, true},
	{FileTestResult, PredicateTestResult, false, true},
	{FileVulns, PredicateVulns, false, true},
	{FileVEX, PredicateOpenVEX, false, false},
}

// EvidencePath is the file name of evidence for digest d in dir.
func EvidencePath(dir string, d v1.Hash, file string) string {
	return filepath.Join(dir, d.Algorithm+"-"+d.Hex, file)
}

// readEvidence reads file for digest d and returns the statement to sign,
// or nil when the file does not exist.
func readEvidence(dir string, d v1.Hash, name string, f evidenceFile) ([]byte, string, error) {
	p := EvidencePath(dir, d, f.name)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, p, nil
	}
	if err != nil {
		return nil, p, fmt.Errorf("%w: %v", ErrBadEvidence, err)
	}
	if f.wrap {
		if err := checkSPDX(data); err != nil {
			return nil, p, fmt.Errorf("%w: %s: %w", ErrBadEvidence, p, err)
		}
		st, err := WrapPredicate(name, d, f.predicateType, data)
		if err != nil {
			return nil, p, fmt.Errorf("%w: %s: %w", ErrBadEvidence, p, err)
		}
		return st, p, nil
	}
	st, err := ParseStatement(data)
	if err != nil {
		return nil, p, fmt.Errorf("%w: %s: %w", ErrBadEvidence, p, err)
	}
	if st.PredicateType != f.predicateType {
		return nil, p, fmt.Errorf("%w: %s: predicateType is %q, want %q", ErrBadStatement, p, st.PredicateType, f.predicateType)
	}
	if !st.IsAbout(d) {
		return nil, p, fmt.Errorf("%w: %s is about %v, not %s", ErrSubjectMismatch, p, st.Subject[0].Digest, d)
	}
	return data, p, nil
}

// checkSPDX accepts an SPDX 2.3 JSON document.
func checkSPDX(data []byte) error {
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		SPDXID      string `json:"SPDXID"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("not an SPDX JSON document: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.SPDXID != "SPDXRef-DOCUMENT" {
		return fmt.Errorf("spdxVersion %q, SPDXID %q: want an SPDX-2.3 document", doc.SPDXVersion, doc.SPDXID)
	}
	return nil
}
