package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/fsutil"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/stage"
)

// ForkChecklist is where a fork's GitHub settings are listed.
const ForkChecklist = `docs/forking.md, section 4 "Settings checklist"`

// UpstreamVEXDir is where ForkInit moves the inherited VEX documents,
// below vex/: scan reads only the documents directly in vex/.
const UpstreamVEXDir = "upstream"

// defaultExceptionsHeader heads an exceptions file ForkInit writes where
// there was none.
const defaultExceptionsHeader = `# Vulnerability exceptions for the fleet (read by ` + "`clearcutt scan`" + `). An
# exception suppresses one finding (id + package) until its expiry day (UTC,
# inclusive); afterwards it no longer applies and the scan gate fails until it
# is renewed or removed.
`

// emptyExceptions is the body of an exceptions file without exceptions.
const emptyExceptions = "apiVersion: " + scan.ExceptionsAPIVersion + "\nkind: " + scan.ExceptionsKind + "\nexceptions: []\n"

// forkWrite replaces a file whole; tests make it fail.
var forkWrite = fsutil.WriteFileAtomic

// ForkOptions configure ForkInit.
type ForkOptions struct {
	// FleetPath is the fleet file to rewrite; exceptions.yaml and vex/ are
	// the ones next to it.
	FleetPath string
	// Repository is the fork, owner/name: identity.repository, and
	// metadata.source https://github.com/<Repository>.
	Repository string
	// Registry is registry.repository ("": ghcr.io/<owner>/<name>, in
	// lower case).
	Registry string
	// Ref is identity.ref, the branch that publishes ("": refs/heads/main).
	Ref string
	// Name is metadata.name ("": the repository's name, in lower case,
	// with characters a fleet name cannot hold replaced by -).
	Name string
}

// FieldChange is one field of the fleet file ForkInit rewrote.
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Move is one VEX document moved out of vex/.
type Move struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// ForkReport is what ForkInit changed. A second run with the same options
// changes nothing: its lists are empty.
type ForkReport struct {
	Fleet  string        `json:"fleet"`
	Fields []FieldChange `json:"fields"`
	// Exceptions is the exceptions file, now without exceptions; Removed
	// the exceptions it held.
	Exceptions        string           `json:"exceptions"`
	ExceptionsWritten bool             `json:"exceptionsWritten"`
	Removed           []scan.Exception `json:"removedExceptions"`
	// VEX are the documents moved from vex/ to vex/upstream/.
	VEX       []Move   `json:"vex"`
	Checklist string   `json:"checklist"`
	NextSteps []string `json:"nextSteps"`
}

// Changed reports whether ForkInit wrote anything.
func (r ForkReport) Changed() bool {
	return len(r.Fields) > 0 || r.ExceptionsWritten || len(r.VEX) > 0
}

var (
	reForkRepo = regexp.MustCompile(`^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$`)
	reNotName  = regexp.MustCompile(`[^a-z0-9-]+`)
)

// ForkInit gives a fork a clean start: it rewrites the fleet file's
// metadata.name, metadata.source, registry.repository, identity.repository
// and identity.ref (in place, every other byte kept, comments included),
// empties exceptions.yaml (keeping its header comment) and moves the
// documents of vex/ to vex/upstream/, where scan does not read them, for
// the fork to review and author again under its own name. Nothing is
// written unless every file can be: the fleet file must be valid before
// and after, the exceptions file must parse, and a document already in
// vex/upstream/ with other content stops the run (UsageError). A write
// that fails midway is undone. Running it again with the same options
// changes nothing.
func ForkInit(o ForkOptions) (ForkReport, error) {
	rep := ForkReport{Fleet: o.FleetPath, Fields: []FieldChange{}, Removed: []scan.Exception{}, VEX: []Move{}, Checklist: ForkChecklist}
	usage := func(format string, args ...any) error {
		return outcome.UsageError{Err: fmt.Errorf(format, args...)}
	}
	if !reForkRepo.MatchString(o.Repository) {
		return rep, usage("--repository must be owner/name, found %q", o.Repository)
	}
	owner, name, _ := strings.Cut(o.Repository, "/")
	if o.Registry == "" {
		o.Registry = strings.ToLower("ghcr.io/" + owner + "/" + name)
	}
	if o.Ref == "" {
		o.Ref = "refs/heads/main"
	}
	if o.Name == "" {
		o.Name = strings.Trim(reNotName.ReplaceAllString(strings.ToLower(name), "-"), "-")
	}

	data, err := os.ReadFile(o.FleetPath)
	if err != nil {
		return rep, usage("reading fleet file: %w", err)
	}
	f, err := fleet.Parse(o.FleetPath, data)
	if err != nil {
		return rep, outcome.UsageError{Err: fmt.Errorf("the fleet file must be valid before fleet init rewrites it: %w", err)}
	}
	fleetInfo, err := os.Stat(o.FleetPath)
	if err != nil {
		return rep, err
	}
	edited, changes, err := editFleet(data, []fieldValue{
		{"metadata.name", o.Name, ""},
		{"metadata.source", "https://github.com/" + o.Repository, "metadata.description metadata.name"},
		{"registry.repository", o.Registry, ""},
		{"identity.repository", o.Repository, ""},
		{"identity.ref", o.Ref, "identity.workflow identity.repository"},
	})
	if err != nil {
		return rep, outcome.UsageError{Err: fmt.Errorf("%s: %w", o.FleetPath, err)}
	}
	if _, err := fleet.Parse(o.FleetPath, edited); err != nil {
		return rep, outcome.UsageError{Err: fmt.Errorf("with these settings the fleet file would not be valid: %w", err)}
	}
	rep.Fields = changes

	// exceptions.yaml: its header comment, no exceptions.
	rep.Exceptions = filepath.Join(f.Dir, "exceptions.yaml")
	excPerm := fs.FileMode(0o644)
	oldExc, err := os.ReadFile(rep.Exceptions)
	header := defaultExceptionsHeader
	switch {
	case errors.Is(err, fs.ErrNotExist):
		oldExc = nil
	case err != nil:
		return rep, err
	default:
		x, err := scan.ParseExceptions(rep.Exceptions, oldExc)
		if err != nil {
			return rep, outcome.UsageError{Err: fmt.Errorf("%w (fleet init lists every exception it removes, so it reads the file first)", err)}
		}
		rep.Removed = append(rep.Removed, x.Exceptions...)
		header = leadingComment(oldExc)
		if st, err := os.Stat(rep.Exceptions); err == nil {
			excPerm = st.Mode().Perm()
		}
	}
	newExc := []byte(header + emptyExceptions)
	if _, err := scan.ParseExceptions(rep.Exceptions, newExc); err != nil {
		return rep, fmt.Errorf("the empty exceptions file: %w", err)
	}
	rep.ExceptionsWritten = oldExc == nil || !bytes.Equal(oldExc, newExc)

	// vex/*.json → vex/upstream/.
	docs, err := stage.VEXDocuments(f, "")
	if err != nil {
		return rep, err
	}
	upstreamDir := filepath.Join(f.Dir, "vex", UpstreamVEXDir)
	for _, p := range docs {
		to := filepath.Join(upstreamDir, filepath.Base(p))
		if have, err := os.ReadFile(to); err == nil {
			want, err := os.ReadFile(p)
			if err != nil {
				return rep, err
			}
			if !bytes.Equal(have, want) {
				return rep, usage("%s exists and differs from %s: move or merge one of them first", to, p)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return rep, err
		}
		rep.VEX = append(rep.VEX, Move{From: p, To: to})
	}
	rep.NextSteps = forkNextSteps(o.FleetPath)

	// Write: the moves, the exceptions, the fleet file last; undo on failure.
	var undo []func()
	fail := func(err error) (ForkReport, error) {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return rep, err
	}
	if len(rep.VEX) > 0 {
		if _, err := os.Stat(upstreamDir); errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(upstreamDir, 0o755); err != nil {
				return fail(err)
			}
			undo = append(undo, func() { os.Remove(upstreamDir) })
		}
	}
	for _, m := range rep.VEX {
		if _, err := os.Stat(m.To); err == nil {
			// The same document is in vex/upstream/ already.
			data, err := os.ReadFile(m.From)
			if err != nil {
				return fail(err)
			}
			perm := fs.FileMode(0o644)
			if st, err := os.Stat(m.From); err == nil {
				perm = st.Mode().Perm()
			}
			if err := os.Remove(m.From); err != nil {
				return fail(err)
			}
			undo = append(undo, func() { fsutil.WriteFileAtomic(m.From, data, perm) })
			continue
		}
		if err := os.Rename(m.From, m.To); err != nil {
			return fail(err)
		}
		undo = append(undo, func() { os.Rename(m.To, m.From) })
	}
	if rep.ExceptionsWritten {
		if err := forkWrite(rep.Exceptions, newExc, excPerm); err != nil {
			return fail(err)
		}
		if oldExc == nil {
			undo = append(undo, func() { os.Remove(rep.Exceptions) })
		} else {
			undo = append(undo, func() { fsutil.WriteFileAtomic(rep.Exceptions, oldExc, excPerm) })
		}
	}
	if len(rep.Fields) > 0 {
		if err := forkWrite(o.FleetPath, edited, fleetInfo.Mode().Perm()); err != nil {
			return fail(err)
		}
	}
	return rep, nil
}

func forkNextSteps(fleetPath string) []string {
	f := ""
	if filepath.Clean(fleetPath) != "clearcutt.yaml" {
		f = " -f " + fleetPath
	}
	return []string{
		"review the changes: git status; git diff",
		"clearcutt" + f + " fleet validate --strict",
		"author the VEX statements that hold for your package set again: clearcutt vex create (docs/vex.md); vex/" + UpstreamVEXDir + "/ keeps upstream's for reference",
		"trim runtimes: to what you ship, then clearcutt" + f + " fleet plan",
		"go through the GitHub settings of the settings checklist",
	}
}

// leadingComment is the comment lines (and blank lines among them) that
// open data, "" when it opens with something else.
func leadingComment(data []byte) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") {
			break
		}
		b.WriteString(line)
	}
	s := b.String()
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

// fieldValue is a scalar field of the fleet file (dotted path), the value
// it is to hold, and, for a field the file may lack, the siblings (by
// preference) after whose line it is inserted.
type fieldValue struct {
	path, value, after string
}

// editFleet sets each field of data to its value, rewriting only the
// scalar's own characters (or inserting one line for a field the file
// lacks), and returns the new text and what changed.
func editFleet(data []byte, fields []fieldValue) ([]byte, []FieldChange, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, errors.New("the fleet file is not a mapping")
	}
	lines := lineStarts(data)
	type edit struct {
		start, end int
		text       string
	}
	var edits []edit
	changes := []FieldChange{}
	for _, fv := range fields {
		parentPath, key, _ := cutLast(fv.path)
		parent := lookupNode(doc.Content[0], parentPath)
		if parent == nil || parent.Kind != yaml.MappingNode {
			return nil, nil, fmt.Errorf("%s: no mapping to set %s in", parentPath, fv.path)
		}
		_, v := mapEntry(parent, key)
		if v != nil {
			if v.Kind != yaml.ScalarNode {
				return nil, nil, fmt.Errorf("%s (line %d) is not a scalar: set it by hand", fv.path, v.Line)
			}
			if v.Value == fv.value {
				continue
			}
			start := offsetOf(data, lines, v.Line, v.Column)
			end, err := scalarEnd(data, start, v)
			if err != nil {
				return nil, nil, fmt.Errorf("%s (line %d): %w: set it by hand", fv.path, v.Line, err)
			}
			edits = append(edits, edit{start, end, renderScalar(fv.value, v.Style)})
			changes = append(changes, FieldChange{Field: fv.path, From: v.Value, To: fv.value})
			continue
		}
		// The field is absent: one line after a sibling on a line of its own.
		if parent.Style&yaml.FlowStyle != 0 {
			return nil, nil, fmt.Errorf("%s is absent and %s is a flow mapping (line %d): set it by hand", fv.path, parentPath, parent.Line)
		}
		var at *yaml.Node
		var sib *yaml.Node
		for _, s := range strings.Fields(fv.after) {
			_, sk, _ := cutLast(s)
			if k, sv := mapEntry(parent, sk); k != nil && sv.Kind == yaml.ScalarNode && sv.Line == k.Line && sv.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				at, sib = sv, k
				break
			}
		}
		if at == nil {
			return nil, nil, fmt.Errorf("%s is absent: add it by hand", fv.path)
		}
		pos := len(data)
		if at.Line < len(lines) {
			pos = lines[at.Line] // the start of the next line
		}
		prefix := ""
		if pos == len(data) && len(data) > 0 && data[len(data)-1] != '\n' {
			prefix = "\n"
		}
		indent := strings.Repeat(" ", sib.Column-1)
		edits = append(edits, edit{pos, pos, prefix + indent + key + ": " + renderScalar(fv.value, 0) + "\n"})
		changes = append(changes, FieldChange{Field: fv.path, To: fv.value})
	}
	// Apply from the end of the file, so that earlier offsets hold.
	for i := 0; i < len(edits); i++ {
		for j := i + 1; j < len(edits); j++ {
			if edits[j].start > edits[i].start {
				edits[i], edits[j] = edits[j], edits[i]
			}
		}
	}
	out := append([]byte{}, data...)
	for _, e := range edits {
		out = append(out[:e.start:e.start], append([]byte(e.text), out[e.end:]...)...)
	}
	return out, changes, nil
}

func cutLast(path string) (parent, key string, ok bool) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", path, false
	}
	return path[:i], path[i+1:], true
}

func lookupNode(n *yaml.Node, path string) *yaml.Node {
	if path == "" {
		return n
	}
	for _, k := range strings.Split(path, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		_, n = mapEntry(n, k)
	}
	return n
}

func mapEntry(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// lineStarts[i] is the offset of line i+1.
func lineStarts(data []byte) []int {
	out := []int{0}
	for i, b := range data {
		if b == '\n' {
			out = append(out, i+1)
		}
	}
	return out
}

// offsetOf is the byte offset of line and column (1-based, the column in
// characters, as the YAML parser counts).
func offsetOf(data []byte, lines []int, line, col int) int {
	off := lines[line-1]
	for c := 1; c < col && off < len(data); c++ {
		_, w := utf8.DecodeRune(data[off:])
		off += w
	}
	return off
}

// scalarEnd is the offset just past the scalar n that starts at start.
func scalarEnd(data []byte, start int, n *yaml.Node) (int, error) {
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(data); i++ {
			switch data[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(data); i++ {
			if data[i] == '\'' {
				if i+1 < len(data) && data[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return 0, errors.New("a block scalar")
	default:
		if end := start + len(n.Value); end <= len(data) && string(data[start:end]) == n.Value {
			return end, nil
		}
	}
	return 0, errors.New("its text is not where the parser found it")
}

var rePlain = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$`)

// renderScalar writes v in the style of the scalar it replaces: plain
// where that style can hold it, else quoted.
func renderScalar(v string, style yaml.Style) string {
	switch {
	case style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case style&yaml.DoubleQuotedStyle == 0 && rePlain.MatchString(v):
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}
