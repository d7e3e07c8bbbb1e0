// Package intoto builds in-toto statements (NewStatement) and encodes them
// deterministically: sorted object keys, no insignificant whitespace, no
// HTML escaping, so the same statement always gives the same bytes (and
// the same digest once signed).
package intoto

import (
	"bytes"
	"encoding/json"
)

// Canonical encodes v (maps, structs, decoded JSON) with sorted object keys.
func Canonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
