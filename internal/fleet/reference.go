package fleet

import (
	_ "embed"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/invopop/jsonschema"
)

// typesSource is types.go itself: the doc comments of the fleet types are
// the single source of the field descriptions in the JSON Schema and in
// docs/fleet-reference.md.
//
//go:embed types.go
var typesSource string

// goDocs are the doc comments of types.go: typeDocs by type name,
// fieldDocs by type name then field name, each as one line of text.
type goDocs struct {
	typeDocs  map[string]string
	fieldDocs map[string]map[string]string
}

var parsedDocs = sync.OnceValues(func() (goDocs, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "types.go", typesSource, parser.ParseComments)
	if err != nil {
		return goDocs{}, err
	}
	p, err := doc.NewFromFiles(fset, []*ast.File{f}, reflect.TypeOf(Fleet{}).PkgPath(), doc.PreserveAST)
	if err != nil {
		return goDocs{}, err
	}
	d := goDocs{typeDocs: map[string]string{}, fieldDocs: map[string]map[string]string{}}
	for _, t := range p.Types {
		d.typeDocs[t.Name] = oneLine(t.Doc)
		for _, spec := range t.Decl.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok || ts.Name.Name != t.Name {
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			d.fieldDocs[t.Name] = map[string]string{}
			for _, fld := range st.Fields.List {
				for _, n := range fld.Names {
					d.fieldDocs[t.Name][n.Name] = oneLine(fld.Doc.Text())
				}
			}
		}
	}
	return d, nil
})

// oneLine joins a doc comment's lines into one paragraph.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// reflector reflects the fleet types with the doc comments of types.go as
// descriptions.
func reflector() (*jsonschema.Reflector, error) {
	d, err := parsedDocs()
	if err != nil {
		return nil, fmt.Errorf("fleet: parsing the doc comments of types.go: %w", err)
	}
	pkg := reflect.TypeOf(Fleet{}).PkgPath()
	return &jsonschema.Reflector{
		DoNotReference:             false,
		RequiredFromJSONSchemaTags: false,
		ExpandedStruct:             true,
		LookupComment: func(t reflect.Type, field string) string {
			if t.PkgPath() != pkg {
				return ""
			}
			if field == "" {
				return d.typeDocs[t.Name()]
			}
			return d.fieldDocs[t.Name()][field]
		},
	}, nil
}

// A TagPlaceholder is one placeholder of registry.tags.
type TagPlaceholder struct {
	Name string // with its braces, e.g. {version}
	Doc  string
}

// TagPlaceholders are every placeholder registry.tags may use; any other
// {...} in a tag is an error.
var TagPlaceholders = []TagPlaceholder{
	{"{runtime}", "the runtime's id (runtimes[].id)"},
	{"{version}", "the runtime's version (runtimes[].version)"},
	{"{tier}", "the image's tier: distroless, slim or dev"},
}

// knownPlaceholder reports whether ph is one of TagPlaceholders.
func knownPlaceholder(ph string) bool {
	return slices.ContainsFunc(TagPlaceholders, func(p TagPlaceholder) bool { return p.Name == ph })
}

// placeholderNames lists the placeholders, comma separated.
func placeholderNames() string {
	names := make([]string, len(TagPlaceholders))
	for i, p := range TagPlaceholders {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// refField is one field of clearcutt.yaml in the reference.
type refField struct {
	path     string
	schema   *jsonschema.Schema
	required bool
}

// Reference returns docs/fleet-reference.md: every field of clearcutt.yaml
// by its YAML path, with its type, whether it is required, its default, the
// values the schema allows and its description, then the tag placeholders.
// Like the schema it is generated from the Go types; a test fails when the
// committed file drifts.
func Reference() ([]byte, error) {
	root, fields, err := referenceFields()
	if err != nil {
		return nil, err
	}
	defaults := derivedDefaults()
	var b strings.Builder
	b.WriteString(`# clearcutt.yaml reference

<!-- Generated from the Go types in internal/fleet/types.go; do not edit.
     Regenerate with: go test ./internal/fleet -run HasNotDrifted -update -->

` + "`clearcutt.yaml`" + ` is the one file a fork edits: it names the fleet, where it is
published, the identity that signs it, the tiers and the runtimes. ` + "`clearcutt fleet validate`" + `
checks it and names the file, line and field path of every problem. The JSON Schema
[schemas/fleet.v1alpha1.schema.json](../schemas/fleet.v1alpha1.schema.json) says the same
as this page, for editors.

Fields are named by their YAML path: ` + "`a.b`" + ` is field ` + "`b`" + ` of object ` + "`a`" + `, and
` + "`runtimes[].id`" + ` is field ` + "`id`" + ` of every item of the list ` + "`runtimes`" + `. An optional
field left out takes its default; writing a field that has a default with an empty
or zero value (` + "`uid: 0`" + `, ` + "`tiers: []`" + `) is an error, never the default. Unknown fields are
errors.

## Fields

`)
	for _, f := range fields {
		v := resolve(root, f.schema)
		fmt.Fprintf(&b, "### `%s`\n\n", f.path)
		req := "optional"
		if f.required {
			req = "required"
		}
		fmt.Fprintf(&b, "- Type: %s, %s\n", typeName(root, v), req)
		if d, ok := defaults[f.path]; ok && !f.required {
			fmt.Fprintf(&b, "- Default: %s\n", d)
		}
		if a := allowed(root, v); a != "" {
			fmt.Fprintf(&b, "- Allowed: %s\n", a)
		}
		fmt.Fprintf(&b, "\n%s\n\n", mdEscape(f.schema.Description))
	}
	fmt.Fprintf(&b, `## Tag placeholders

Every template in `+"`registry.tags`"+` is expanded once per image (a runtime in one
tier; all architectures share one index and its tags). The placeholders are:

| Placeholder | Expands to |
| --- | --- |
`)
	for _, p := range TagPlaceholders {
		fmt.Fprintf(&b, "| `%s` | %s |\n", p.Name, p.Doc)
	}
	fmt.Fprintf(&b, `
Any other `+"`{...}`"+` is an error named at the tag (`+"`registry.tags[0]: unknown placeholder {arch}`"+`),
and every expanded tag must be a valid OCI tag: letters, digits, `+"`_`"+`, `+"`.`"+` and `+"`-`"+`,
at most 128 characters, not starting with `+"`.`"+` or `+"`-`"+`. Without `+"`registry.tags`"+` the
default %s applies: the python runtime at version 3.11 in the slim tier is tagged
%s.

Every placeholder names the runtime line, not one build: a tag moves to the new
digest each time the fleet is published. Pin a deployment by digest
(`+"`<repository>/<runtime>@sha256:...`"+`) to run exactly the image that was verified.
There is deliberately no placeholder for one build (a date, a revision): a registry
such as ghcr.io lets anyone who may push move any tag, so a build tag would look like a
pin without being one (docs/adr/0018-pin-by-digest-not-by-build-tag.md).
`, quoteList(DefaultTags), quoteList(expandAll(DefaultTags, "python", "3.11", "slim")))
	return []byte(b.String()), nil
}

// referenceFields are the fields of the reflected schema root, by YAML
// path, in declaration order.
func referenceFields() (*jsonschema.Schema, []refField, error) {
	r, err := reflector()
	if err != nil {
		return nil, nil, err
	}
	root := r.Reflect(&Fleet{})
	var fields []refField
	var walk func(s *jsonschema.Schema, prefix string)
	walk = func(s *jsonschema.Schema, prefix string) {
		s = resolve(root, s)
		if s.Properties == nil {
			return
		}
		for pair := s.Properties.Oldest(); pair != nil; pair = pair.Next() {
			path := prefix + pair.Key
			fields = append(fields, refField{path: path, schema: pair.Value, required: slices.Contains(s.Required, pair.Key)})
			v := resolve(root, pair.Value)
			switch {
			case v.Type == "object":
				walk(v, path+".")
			case v.Type == "array" && v.Items != nil && resolve(root, v.Items).Type == "object":
				walk(v.Items, path+"[].")
			}
		}
	}
	walk(root, "")
	return root, fields, nil
}

func expandAll(tmpls []string, runtime, version, tier string) []string {
	out := make([]string, len(tmpls))
	for i, t := range tmpls {
		out[i] = expandTag(t, runtime, version, tier)
	}
	return out
}

// resolve follows a $ref into the root's $defs.
func resolve(root, s *jsonschema.Schema) *jsonschema.Schema {
	if name, ok := strings.CutPrefix(s.Ref, "#/$defs/"); ok {
		if d, ok := root.Definitions[name]; ok {
			return d
		}
	}
	return s
}

func typeName(root, s *jsonschema.Schema) string {
	switch s.Type {
	case "array":
		if s.Items == nil {
			return "list"
		}
		it := resolve(root, s.Items)
		if it.Type == "object" {
			return "list of objects"
		}
		return "list of " + it.Type + "s"
	case "object":
		if s.AdditionalProperties != nil && s.AdditionalProperties.Type != "" {
			return "map of string to " + s.AdditionalProperties.Type
		}
		return "object"
	}
	return s.Type
}

// allowed says the values the schema allows beyond the type.
func allowed(root, s *jsonschema.Schema) string {
	var out []string
	add := func(s *jsonschema.Schema, each string) {
		if len(s.Enum) == 1 {
			out = append(out, fmt.Sprintf("%sexactly `%v`", each, s.Enum[0]))
		} else if len(s.Enum) > 1 {
			vals := make([]string, len(s.Enum))
			for i, e := range s.Enum {
				vals[i] = fmt.Sprintf("`%v`", e)
			}
			out = append(out, each+"one of "+strings.Join(vals, ", "))
		}
		switch {
		case s.Minimum != "" && s.Maximum != "":
			out = append(out, fmt.Sprintf("%s%s to %s", each, s.Minimum, s.Maximum))
		case s.Minimum != "":
			out = append(out, fmt.Sprintf("%sat least %s", each, s.Minimum))
		}
		if s.MinLength != nil && *s.MinLength > 0 {
			out = append(out, each+"non-empty")
		}
		if s.Format == "uri" {
			out = append(out, each+"a URI")
		}
		if s.Pattern != "" {
			out = append(out, fmt.Sprintf("%smatches `%s`", each, s.Pattern))
		}
	}
	add(s, "")
	if s.Type == "array" {
		if s.MinItems != nil && *s.MinItems > 0 {
			out = append(out, fmt.Sprintf("at least %d item(s)", *s.MinItems))
		}
		if s.UniqueItems {
			out = append(out, "no duplicates")
		}
		if s.Items != nil {
			add(resolve(root, s.Items), "each ")
		}
	}
	return strings.Join(out, "; ")
}

// mdEscape keeps a doc comment's <placeholders> visible in Markdown.
func mdEscape(s string) string { return strings.ReplaceAll(s, "<", "\\<") }

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "`" + v + "`"
	}
	return strings.Join(q, " and ")
}

// derivedDefaults are the defaults SetDefaults gives an empty fleet with one
// runtime, by YAML path, formatted for the reference. A default that
// follows another field (the gid follows the uid) is left out: its
// description says what it follows.
func derivedDefaults() map[string]string {
	a := Fleet{Runtimes: []Runtime{{}}}
	a.SetDefaults()
	b := Fleet{Runtimes: []Runtime{{}}, Build: Build{User: User{UID: 1}}}
	b.SetDefaults()
	da, db := map[string]string{}, map[string]string{}
	collectDefaults(reflect.ValueOf(a), "", da)
	collectDefaults(reflect.ValueOf(b), "", db)
	for p, v := range da {
		if p != "build.user.uid" && db[p] != v {
			delete(da, p)
		}
	}
	return da
}

func collectDefaults(v reflect.Value, prefix string, out map[string]string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		path := prefix + name
		fv := v.Field(i)
		switch fv.Kind() {
		case reflect.Struct:
			collectDefaults(fv, path+".", out)
		case reflect.Pointer:
			if !fv.IsNil() {
				collectDefaults(fv.Elem(), path+".", out)
			}
		case reflect.Slice:
			if fv.Len() == 0 {
				continue
			}
			if fv.Index(0).Kind() == reflect.Struct {
				collectDefaults(fv.Index(0), path+"[].", out)
				continue
			}
			vals := make([]string, fv.Len())
			for j := range fv.Len() {
				vals[j] = fmt.Sprintf("`%v`", fv.Index(j).Interface())
			}
			out[path] = strings.Join(vals, ", ")
		case reflect.Bool:
			if opts == "omitempty" || fv.Bool() {
				out[path] = fmt.Sprintf("`%v`", fv.Bool())
			}
		case reflect.Int, reflect.Int64:
			if opts == "omitempty" || !fv.IsZero() {
				out[path] = fmt.Sprintf("`%v`", fv.Interface())
			}
		default:
			if !fv.IsZero() {
				out[path] = fmt.Sprintf("`%v`", fv.Interface())
			}
		}
	}
}
