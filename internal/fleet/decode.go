package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid is wrapped by every error about the content of a fleet file.
var ErrInvalid = errors.New("invalid fleet file")

// FieldError is one problem at one place of a fleet file.
type FieldError struct {
	File   string
	Line   int
	Column int
	// Path is the field path, e.g. runtimes[1].nix.attribute.
	Path string
	Msg  string
}

func (e FieldError) Error() string {
	loc := e.File
	switch {
	case e.Line > 0 && e.Column > 0:
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	case e.Line > 0:
		// The column is unknown (a YAML syntax error): the line alone.
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Path == "" {
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Path, e.Msg)
}

// Errors is every problem found in one file, in file order.
type Errors []FieldError

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (es Errors) Unwrap() error { return ErrInvalid }

// File is a decoded fleet together with where it came from.
type File struct {
	Fleet
	// Path is the file as given; Dir the directory relative paths resolve against.
	Path string
	Dir  string
	// lines maps a field path to its position, for validation errors.
	pos map[string]yaml.Node
}

// MaxFileSize is the size of the largest fleet file Load and Parse accept:
// 1 MiB, far more than a fleet needs, read with a limit so that a huge or
// endless file is refused without being read whole.
const MaxFileSize = 1 << 20

// Load reads, strictly decodes, defaults and validates a fleet file.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading fleet file: %w", err)
	}
	defer fh.Close()
	if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxFileSize {
		return nil, tooLarge(path, fmt.Sprintf("%d bytes", fi.Size()))
	}
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading fleet file: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(path, fmt.Sprintf("more than %d bytes", MaxFileSize))
	}
	return Parse(path, data)
}

func tooLarge(path, size string) error {
	return Errors{{File: path, Msg: fmt.Sprintf("the file is %s; a fleet file is at most 1 MiB (%d bytes)", size, MaxFileSize)}}
}

// Parse decodes data (named path in errors), applies defaults and validates.
func Parse(path string, data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, tooLarge(path, fmt.Sprintf("%d bytes", len(data)))
	}
	if err := checkText(path, data); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		what := fmt.Sprintf("%d bytes, only whitespace", len(data))
		if len(data) == 0 {
			what = "0 bytes"
		}
		return nil, Errors{{File: path, Msg: fmt.Sprintf("the file is empty (%s); a fleet file holds one YAML document (%s)", what, topLevel)}}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: path, Msg: fmt.Sprintf("the file holds no YAML document, only comments; a fleet file holds one (%s)", topLevel)}}
		}
		return nil, Errors{syntaxError(path, data, err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, Errors{{File: path, Line: extra.Line, Column: extra.Column, Msg: "more than one YAML document; a fleet file holds exactly one"}}
	case !errors.Is(err, io.EOF):
		// A syntax error after a first document.
		return nil, Errors{syntaxError(path, data, err)}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, Errors{{File: path, Msg: "empty fleet file"}}
	}
	f := &File{Path: path, Dir: dirOf(path), pos: map[string]yaml.Node{}}
	w := walker{file: path, pos: f.pos}
	w.walk(doc.Content[0], reflect.TypeOf(Fleet{}), "")
	// An unknown field leaves the rest of the file decodable: the
	// validation goes on and reports every other problem with it. A field
	// of the wrong shape, a duplicate or an alias does not.
	if len(w.errs) > len(w.unknown) {
		return nil, w.errs
	}
	if err := doc.Content[0].Decode(&f.Fleet); err != nil {
		// The walker checks shapes and scalar kinds first, so this is rare.
		return nil, append(slices.Clone(w.errs), FieldError{File: path, Line: yamlErrLine(err), Msg: cleanYAMLErr(err)})
	}
	errs := f.explicitZeros()
	f.Fleet.SetDefaults()
	errs = append(errs, f.Fleet.Validate()...)
	if len(errs) == 0 && len(w.errs) == 0 {
		return f, nil
	}
	out := slices.Clone(w.errs)
	seen := map[string]bool{}
	for _, e := range errs {
		// A field an unknown field was probably meant to be (a misspelt
		// key, "did you mean") is missing because of it: the unknown field
		// is the one problem to report.
		if w.meant(e.Path) {
			continue
		}
		fe := FieldError{File: path, Path: e.Path, Msg: e.Msg}
		if n, ok := f.lookup(e.Path); ok {
			fe.Line, fe.Column = n.Line, n.Column
		}
		if k := fe.Error(); !seen[k] {
			seen[k] = true
			out = append(out, fe)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].Column < out[j].Column
	})
	return nil, out
}

// lookup finds the node of path, or of its nearest ancestor present in the file.
func (f *File) lookup(path string) (yaml.Node, bool) {
	for p := path; ; {
		if n, ok := f.pos[p]; ok {
			return n, true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			n, ok := f.pos[""]
			return n, ok
		}
		p = p[:i]
	}
}

type walker struct {
	file string
	pos  map[string]yaml.Node
	errs Errors
	// unknown are the paths of the unknown fields found, and suggested the
	// paths of the fields they look like a misspelling of.
	unknown   []string
	suggested []string
}

// meant says whether path is, or is inside, a field an unknown field of
// the file was suggested to be.
func (w *walker) meant(path string) bool {
	for _, s := range w.suggested {
		if path == s || strings.HasPrefix(path, s+".") || strings.HasPrefix(path, s+"[") {
			return true
		}
	}
	return false
}

func (w *walker) fail(n *yaml.Node, path, format string, args ...any) {
	w.errs = append(w.errs, FieldError{File: w.file, Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		w.fail(n, path, "YAML aliases are not allowed in a fleet file")
		return
	}
	w.pos[path] = *n
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.fail(n, path, "expected a mapping, found %s", describe(n))
			return
		}
		fields := yamlFields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			if seen[k.Value] {
				w.fail(k, kp, "duplicate field")
				continue
			}
			seen[k.Value] = true
			f, ok := fields[k.Value]
			if !ok {
				best, hint := suggest(k.Value, fields)
				w.fail(k, kp, "unknown field %q%s", k.Value, hint)
				w.unknown = append(w.unknown, kp)
				// A suggested field written too is no misspelling's victim.
				if best != "" && !present(n, best) {
					w.suggested = append(w.suggested, join(path, best))
				}
				continue
			}
			w.walk(v, f.Type, kp)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(n, path, "expected a list, found %s", describe(n))
			return
		}
		for i, c := range n.Content {
			w.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.fail(n, path, "expected a mapping, found %s", describe(n))
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			if seen[k.Value] {
				w.fail(k, kp, "duplicate key")
				continue
			}
			seen[k.Value] = true
			w.walk(v, t.Elem(), kp)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			w.fail(n, path, "expected a string, found %s", describe(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			w.fail(n, path, "expected true or false, found %s", describe(n))
		}
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			w.fail(n, path, "expected an integer, found %s", describe(n))
			return
		}
		if _, err := strconv.ParseInt(n.Value, 0, 64); err != nil {
			w.fail(n, path, "integer out of range: %s", n.Value)
		}
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	}
	return "an unsupported node"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = f
	}
	return out
}

// present says whether mapping n has the key.
func present(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// suggest names the closest known field when a key looks misspelt: that
// field, and the hint for the error.
func suggest(key string, fields map[string]reflect.StructField) (best, hint string) {
	bestD := 3
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if d := distance(strings.ToLower(key), strings.ToLower(name)); d < bestD {
			best, bestD = name, d
		}
	}
	if best != "" {
		return best, fmt.Sprintf(" (did you mean %q?)", best)
	}
	return "", fmt.Sprintf(" (known fields: %s)", strings.Join(names, ", "))
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// syntaxError is err, the YAML syntax error of data, at the line where the
// parser stopped. The line in yaml.v3's error is that of the construct the
// parser was in (the mapping or list enclosing the mistake, counted from 0
// for a parser error), which can be far above the mistake, and the error
// has no column. The parser reads data as a stream and stops at the same
// token in any prefix of data that holds it, so the shortest prefix of
// whole lines that fails with the same error ends at the line the parser
// stopped at; a bisection over the lines finds it. The column stays
// unknown.
func syntaxError(path string, data []byte, err error) FieldError {
	var ends []int // ends[i] is the offset after line i+1
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			ends = append(ends, len(data))
			break
		}
		off += i + 1
		ends = append(ends, off)
	}
	same := func(lines int) bool {
		e := firstYAMLErr(data[:ends[lines-1]])
		return e != nil && e.Error() == err.Error()
	}
	// The empty prefix parses; the whole file fails with err.
	lo, hi := 0, len(ends)
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; same(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return FieldError{File: path, Line: hi, Msg: cleanYAMLErr(err)}
}

// firstYAMLErr is the first error decoding the YAML documents of data, nil
// if all of them decode.
func firstYAMLErr(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func yamlErrLine(err error) int {
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		rest := s[i+5:]
		j := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if j > 0 {
			n, _ := strconv.Atoi(rest[:j])
			return n
		}
	}
	return 0
}

func cleanYAMLErr(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if i := strings.Index(s, "line "); i == 0 {
		if j := strings.Index(s, ": "); j > 0 {
			s = s[j+2:]
		}
	}
	return s
}

func dirOf(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "."
	}
	if i == 0 {
		return "/"
	}
	return path[:i]
}
