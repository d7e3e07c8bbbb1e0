package vexdoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	openvex "github.com/openvex/go-vex/pkg/vex"
)

// ErrInvalid is wrapped by every Problem: a document that cannot be read,
// or a statement that breaks a rule.
var ErrInvalid = errors.New("invalid OpenVEX document")

// Context is the only @context ClearCutt reads and writes.
var Context = openvex.ContextLocator()

// Problem is one broken rule at one place of a document.
type Problem struct {
	File string `json:"file"`
	// Line is where the statement (or the syntax error) is, 0 when unknown.
	Line int `json:"line,omitempty"`
	// Statement is the index of the statement, nil for the document itself.
	Statement *int `json:"statement,omitempty"`
	// Field is the JSON path of the field, e.g. statements[2].justification.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p Problem) Error() string {
	var parts []string
	switch {
	case p.File != "" && p.Line > 0:
		parts = append(parts, fmt.Sprintf("%s:%d", p.File, p.Line))
	case p.File != "":
		parts = append(parts, p.File)
	}
	if p.Field != "" {
		parts = append(parts, p.Field)
	}
	return strings.Join(append(parts, p.Message), ": ")
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (p Problem) Unwrap() error { return ErrInvalid }

// Problems is every problem found, in file and statement order.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (ps Problems) Unwrap() error { return ErrInvalid }

// Document is one OpenVEX document and the file it was read from.
type Document struct {
	Path string
	VEX  openvex.VEX
	// lines[i] is the line statement i starts on.
	lines []int
	// keyLines[k] is the line of the document's top-level key k.
	keyLines map[string]int
}

// Line is the line statement i starts on, 0 when unknown.
func (d *Document) Line(i int) int {
	if i >= 0 && i < len(d.lines) {
		return d.lines[i]
	}
	return 0
}

// FieldLine is the line of the document's top-level field (timestamp,
// author, …), 0 when unknown or absent.
func (d *Document) FieldLine(field string) int {
	return d.keyLines[field]
}

// Load reads and strictly decodes the document at path. A file that
// cannot be read is the os error (errors.Is(err, fs.ErrNotExist) holds for
// a missing one); a document that cannot be decoded is a Problem.
func Load(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// metadataJSON is the document with its statements left undecoded.
type metadataJSON struct {
	openvex.Metadata
	Statements *[]json.RawMessage `json:"statements"`
}

// Parse decodes data (named path in errors) as an OpenVEX v0.2.0 document:
// malformed JSON, another @context, an unknown field or a value of the
// wrong type is a Problem naming the file, the line and the field. The
// statement rules are Check's.
func Parse(path string, data []byte) (*Document, error) {
	var probe json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		p := Problem{File: path, Message: "not JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			p.Line = lineAt(data, int(se.Offset))
		}
		return nil, p
	}
	var head struct {
		Context *string `json:"@context"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, Problem{File: path, Message: "not a JSON object"}
	}
	switch {
	case head.Context == nil:
		return nil, Problem{File: path, Field: "@context", Message: "missing: an OpenVEX document starts with \"@context\": \"" + Context + "\""}
	case *head.Context != Context:
		return nil, Problem{File: path, Field: "@context", Message: fmt.Sprintf("is %q, want %q (OpenVEX v0.2.0)", *head.Context, Context)}
	}

	var md metadataJSON
	if err := strictDecode(data, &md); err != nil {
		return nil, Problem{File: path, Field: jsonField(err), Message: jsonMessage(err)}
	}
	d := &Document{Path: path, VEX: openvex.VEX{Metadata: md.Metadata}}
	if md.Statements == nil {
		return nil, Problem{File: path, Field: "statements", Message: "missing"}
	}
	d.lines, d.keyLines = documentLines(data)
	d.VEX.Statements = make([]openvex.Statement, 0, len(*md.Statements))
	for i, raw := range *md.Statements {
		var st openvex.Statement
		if err := strictDecode(raw, &st); err != nil {
			field := fmt.Sprintf("statements[%d]", i)
			if f := jsonField(err); f != "" {
				field += "." + f
			}
			return nil, Problem{File: path, Line: d.Line(i), Statement: &i, Field: field, Message: jsonMessage(err)}
		}
		d.VEX.Statements = append(d.VEX.Statements, st)
	}
	return d, nil
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// jsonField is the field an encoding/json error is about, if it says.
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return strings.TrimPrefix(te.Field, "Metadata.")
	}
	return ""
}

// jsonMessage is an encoding/json error without its package prefix, and
// for unknown fields with the hint that matters here.
func jsonMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "json: ")
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("found a JSON %s, want %s", te.Value, te.Type)
	}
	if strings.HasPrefix(msg, "unknown field ") {
		return msg + " (not an OpenVEX v0.2.0 field; check its spelling)"
	}
	return msg
}

// documentLines is the line each element of the top-level statements
// array starts on, and the line of each top-level key (nil when the
// document cannot be walked).
func documentLines(data []byte) (stmts []int, keys map[string]int) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil
	}
	// next is the offset of the next token: the decoder's offset is where
	// the previous one ended.
	next := func() int {
		off := int(dec.InputOffset())
		for off < len(data) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
			off++
		}
		return off
	}
	keys = map[string]int{}
	for dec.More() {
		at := next()
		k, err := dec.Token()
		if err != nil {
			return stmts, keys
		}
		key, _ := k.(string)
		if _, seen := keys[key]; !seen {
			keys[key] = lineAt(data, at)
		}
		if key != "statements" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return stmts, keys
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return stmts, keys
		}
		for dec.More() {
			at := next()
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return stmts, keys
			}
			stmts = append(stmts, lineAt(data, at))
		}
		if _, err := dec.Token(); err != nil {
			return stmts, keys
		}
	}
	return stmts, keys
}

// lineAt is the 1-based line of byte offset off.
func lineAt(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}
