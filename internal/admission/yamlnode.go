package admission

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The policies are built as YAML node trees so that every rule can carry a
// comment saying what it enforces, and every value is quoted by the encoder.

// field is one key of a mapping, with an optional comment above it.
type field struct {
	key     string
	comment string
	value   *yaml.Node
}

// kv is a field without comment.
func kv(key string, v any) field { return field{key: key, value: node(v)} }

// ckv is a field with a comment above its key.
func ckv(comment, key string, v any) field { return field{key: key, comment: comment, value: node(v)} }

// obj is a mapping of fields in the given order.
func obj(fields ...field) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, f := range fields {
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.key, HeadComment: comment(f.comment)}
		m.Content = append(m.Content, k, f.value)
	}
	return m
}

// list is a sequence.
func list(items ...any) *yaml.Node {
	s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, it := range items {
		s.Content = append(s.Content, node(it))
	}
	return s
}

// commented puts a comment above n (a sequence item, a document root).
func commented(text string, n *yaml.Node) *yaml.Node { n.HeadComment = comment(text); return n }

// flow renders a node in flow style ([a, b] or {k: v}).
func flow(n *yaml.Node) *yaml.Node { n.Style = yaml.FlowStyle; return n }

// node converts a Go value to a YAML node.
func node(v any) *yaml.Node {
	switch x := v.(type) {
	case *yaml.Node:
		return x
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x}
		if strings.Contains(x, "\n") {
			n.Style = yaml.LiteralStyle
		}
		return n
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(x)}
	case []string:
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range x {
			s.Content = append(s.Content, node(e))
		}
		return s
	case map[string]string:
		keys := slices.Sorted(maps.Keys(x))
		fs := make([]field, 0, len(keys))
		for _, k := range keys {
			fs = append(fs, kv(k, x[k]))
		}
		return obj(fs...)
	}
	panic(fmt.Sprintf("admission: no YAML node for %T", v))
}

// comment turns text into YAML comment lines ("" stays empty).
func comment(text string) string {
	if text == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = "#"
		} else {
			lines[i] = "# " + l
		}
	}
	return strings.Join(lines, "\n")
}

// document is one YAML document with a comment block on top.
type document struct {
	head string
	root *yaml.Node
}

// encode renders documents separated by "---".
func encode(docs ...document) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, d := range docs {
		doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: comment(d.head), Content: []*yaml.Node{d.root}}
		if err := enc.Encode(doc); err != nil {
			return nil, fmt.Errorf("admission: encode YAML: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("admission: encode YAML: %w", err)
	}
	return buf.Bytes(), nil
}
