package closure

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/clearcutt/clearcutt/internal/fsutil"
)

// ReadManifest reads and validates a closure manifest. Unknown fields are
// errors: the manifest is ClearCutt's own format.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrManifest, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// Write validates the manifest and writes it to path atomically (a
// temporary file in the same directory, then a rename).
func (m *Manifest) Write(path string) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, append(data, '\n'), 0o644)
}
