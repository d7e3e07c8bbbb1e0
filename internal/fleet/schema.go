package fleet

import "encoding/json"

// SchemaID is the $id of the generated JSON Schema.
const SchemaID = "https://clearcutt.dev/schemas/fleet.v1alpha1.schema.json"

// Schema returns the JSON Schema of clearcutt.yaml, generated from the Go
// types; the doc comments of their fields are the descriptions.
// schemas/fleet.v1alpha1.schema.json is this output, committed; a test
// fails when they drift.
func Schema() ([]byte, error) {
	r, err := reflector()
	if err != nil {
		return nil, err
	}
	s := r.Reflect(&Fleet{})
	s.ID = SchemaID
	s.Title = "ClearCutt fleet"
	s.Description = "clearcutt.yaml: the fleet a ClearCutt fork builds, gates, signs and publishes."
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
