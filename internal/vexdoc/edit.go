package vexdoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"

	"github.com/clearcutt/clearcutt/internal/fsutil"
)

// Change is what Upsert did to a document.
type Change string

// Changes.
const (
	// Created: a new document holding the statement.
	Created Change = "created"
	// Appended: the statement was added to the document.
	Appended Change = "appended"
	// Updated: a statement about the same vulnerability, products and
	// subcomponents was replaced.
	Updated Change = "updated"
	// Unchanged: the document already held the same statement.
	Unchanged Change = "unchanged"
)

// NewDocument is an empty version-1 document issued at now; its @id is
// base/v1 (see VersionedID).
func NewDocument(base, author, role string, now time.Time) openvex.VEX {
	now = now.UTC().Truncate(time.Second)
	return openvex.VEX{
		Metadata: openvex.Metadata{
			Context:    Context,
			ID:         VersionedID(base, 1),
			Author:     author,
			AuthorRole: role,
			Timestamp:  &now,
			Version:    1,
		},
		Statements: []openvex.Statement{},
	}
}

var versionSuffix = regexp.MustCompile(`/v[0-9]+$`)

// VersionedID is the @id of version v of the document whose @id (with or
// without a /vN suffix) is id: id/vV. A document's @id changes with its
// version, so that one @id always names the same content.
func VersionedID(id string, v int) string {
	return versionSuffix.ReplaceAllString(id, "") + "/v" + strconv.Itoa(v)
}

// productKey identifies a statement's products and subcomponents as a set.
func productKey(st *openvex.Statement) string {
	var ps []string
	for _, p := range st.Products {
		var subs []string
		for _, s := range p.Subcomponents {
			subs = append(subs, s.ID)
		}
		sort.Strings(subs)
		ps = append(ps, p.ID+"\x00"+strings.Join(subs, "\x00"))
	}
	sort.Strings(ps)
	return strings.Join(slices.Compact(ps), "\x01")
}

// sameContent compares two statements without their timestamps.
func sameContent(a, b openvex.Statement) bool {
	a.Timestamp, a.LastUpdated, b.Timestamp, b.LastUpdated = nil, nil, nil, nil
	ja, err1 := json.Marshal(&a)
	jb, err2 := json.Marshal(&b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// Upsert records st in doc at now: it replaces the statement about the
// same vulnerability name, products and subcomponents (keeping that
// statement's @id), or appends st. Whenever the document changes, st is
// stamped with now, the version grows by one, last_updated becomes now and
// the @id becomes VersionedID(@id, version). A statement the document
// already holds, timestamps aside, changes nothing. It returns what it did
// and the index of the statement.
func Upsert(doc *openvex.VEX, st openvex.Statement, now time.Time) (Change, int) {
	now = now.UTC().Truncate(time.Second)
	key := productKey(&st)
	at := -1
	for i := range doc.Statements {
		old := &doc.Statements[i]
		if old.Vulnerability.Name == st.Vulnerability.Name && productKey(old) == key {
			at = i
		}
	}
	change := Appended
	if at >= 0 {
		old := doc.Statements[at]
		if st.ID == "" {
			st.ID = old.ID
		}
		if sameContent(old, st) {
			return Unchanged, at
		}
		change = Updated
	}
	st.Timestamp, st.LastUpdated = &now, nil
	if at >= 0 {
		doc.Statements[at] = st
	} else {
		doc.Statements = append(doc.Statements, st)
		at = len(doc.Statements) - 1
	}
	doc.Version++
	doc.LastUpdated = &now
	doc.ID = VersionedID(doc.ID, doc.Version)
	return change, at
}

// Marshal is the document as deterministic JSON: keys sorted (as in the
// published attestation), two-space indent, no HTML escaping, a final
// newline.
func Marshal(doc *openvex.VEX) ([]byte, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteFile writes data to path atomically: a temporary file in the same
// directory, synced, then renamed over path. The directory is created if
// needed.
func WriteFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(path, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

var unsafeName = regexp.MustCompile(`[^a-z0-9._-]+`)

// FileName is the default file name of a document about vulnerability id:
// the id in lower case, .openvex.json.
func FileName(id string) string {
	return strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(id), "-"), "-.") + ".openvex.json"
}
