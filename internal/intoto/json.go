// Package intoto encodes in-toto statements deterministically: sorted
// object keys, no insignificant whitespace, no HTML escaping, so the same
// statement always gives the same bytes (and the same digest once signed).
package intoto

import (
	"bytes"
	"encoding/json"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
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

// Marshal encodes a protobuf message (an in-toto Statement of
// github.com/in-toto/attestation) canonically. protojson's own output is
// deliberately unstable, so it is decoded and re-encoded with sorted keys.
func Marshal(m proto.Message) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return Canonical(v)
}
