// Package catalogtest checks catalog documents in tests against the
// committed JSON Schema, schemas/catalog.v1alpha1.schema.json.
package catalogtest

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

// SchemaFile is the committed schema, relative to the repository root.
const SchemaFile = "schemas/catalog.v1alpha1.schema.json"

// Check validates doc (a catalog.json) against the committed schema, with
// formats (date-time, …) asserted.
func Check(t testing.TB, doc []byte) error {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join(testenv.RepoRoot(t), SchemaFile))
	if err != nil {
		t.Fatalf("compiling %s: %v", SchemaFile, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("catalog.json: %w", err)
	}
	return sch.Validate(v)
}

// Validate fails t unless doc is valid against the committed schema.
func Validate(t testing.TB, doc []byte) {
	t.Helper()
	if err := Check(t, doc); err != nil {
		t.Fatalf("catalog.json does not validate against %s: %v", SchemaFile, err)
	}
}
