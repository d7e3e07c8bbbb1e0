package catalog

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/invopop/jsonschema"
)

// SchemaID is the $id of the generated JSON Schema.
const SchemaID = "https://clearcutt.dev/schemas/catalog.v1alpha1.schema.json"

// typesSource is the Go source of the catalog types; its doc comments
// become the schema's descriptions.
//
//go:embed types.go
var typesSource string

// schemaTypes are the struct types of the catalog format.
var schemaTypes = []any{Catalog{}, Fleet{}, Identity{}, Image{}, Release{}, Platform{}, Package{}, PruningCandidate{},
	ChannelStatus{}, Severities{}, Vulnerabilities{}, Finding{}, ScanPoint{}, closure.ScrubFile{}}

// enums are the closed value sets of string fields, by type and JSON name.
var enums = map[string][]any{
	"ChannelStatus.channel": {ChannelSignature, ChannelSBOM, ChannelProvenance, ChannelTests, ChannelVulnerabilities, ChannelVEX},
	"Finding.status":        {FindingActive, FindingSuppressed, FindingExcepted},
	"Finding.severity":      {"critical", "high", "medium", "low", "negligible", "unknown"},
	"ScrubFile.action":      {closure.ScrubRemoved, closure.ScrubRewrote, closure.ScrubKept},
	"Release.failed":        {true},
}

// Schema returns the JSON Schema of catalog.json, generated from the Go
// types and their doc comments. schemas/catalog.v1alpha1.schema.json is
// this output, committed; a test fails when they drift.
func Schema() ([]byte, error) {
	comments, err := typeComments()
	if err != nil {
		return nil, err
	}
	pkg := reflect.TypeOf(Catalog{}).PkgPath()
	r := &jsonschema.Reflector{
		ExpandedStruct: true,
		LookupComment: func(t reflect.Type, field string) string {
			if t.PkgPath() != pkg {
				return ""
			}
			if field == "" {
				return comments[t.Name()]
			}
			return comments[t.Name()+"."+field]
		},
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t == reflect.TypeOf(Status("")) {
				return &jsonschema.Schema{Type: "string", Description: comments["Status"],
					Enum: []any{StatusVerified, StatusFailed, StatusMissing, StatusPending, StatusNotApplicable}}
			}
			return nil
		},
	}
	s := r.Reflect(&Catalog{})
	s.ID = SchemaID
	s.Title = "ClearCutt catalog"
	s.Description = "catalog.json: the published fleet as clearcutt verify observes it in the registry."
	for _, v := range schemaTypes {
		t := reflect.TypeOf(v)
		def := s
		if t != reflect.TypeOf(Catalog{}) {
			def = s.Definitions[t.Name()]
		}
		if def == nil || def.Properties == nil {
			return nil, fmt.Errorf("catalog schema: no definition of %s", t.Name())
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			prop, ok := def.Properties.Get(name)
			if !ok {
				return nil, fmt.Errorf("catalog schema: %s has no property %s", t.Name(), name)
			}
			if e, ok := enums[t.Name()+"."+name]; ok {
				prop.Enum = e
			}
			// A nil pointer without omitempty is written as null.
			if f.Type.Kind() == reflect.Pointer && !strings.Contains(opts, "omitempty") {
				def.Properties.Set(name, &jsonschema.Schema{Description: prop.Description,
					OneOf: []*jsonschema.Schema{prop, {Type: "null"}}})
				prop.Description = ""
			}
		}
	}
	// An image is served (reference, index digest and verification time
	// together), or has a failed release, or both.
	im := s.Definitions["Image"]
	im.DependentRequired = map[string][]string{"reference": {"indexDigest", "verifiedAt"}, "indexDigest": {"reference"}}
	im.AnyOf = []*jsonschema.Schema{{Required: []string{"reference"}}, {Required: []string{"release"}}}
	if p, ok := s.Properties.Get("apiVersion"); ok {
		p.Const = APIVersion
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// typeComments maps "Type" and "Type.Field" to the doc comment of the
// catalog types, as one line.
func typeComments() (map[string]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "types.go", typesSource, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	text := func(g *ast.CommentGroup) string { return strings.Join(strings.Fields(g.Text()), " ") }
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, sp := range gd.Specs {
			ts := sp.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil && len(gd.Specs) == 1 {
				doc = gd.Doc
			}
			if doc != nil {
				out[ts.Name.Name] = text(doc)
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, fld := range st.Fields.List {
				doc := fld.Doc
				if doc == nil {
					doc = fld.Comment
				}
				if doc == nil {
					continue
				}
				for _, n := range fld.Names {
					out[ts.Name.Name+"."+n.Name] = text(doc)
				}
			}
		}
	}
	return out, nil
}
