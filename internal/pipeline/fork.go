package pipeline

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/vexdoc"
)

// The upstream project, as the example fleet names it: a fork inherits
// its exceptions.yaml and vex/ documents, which hold for upstream's
// package set and are owned by upstream's people.
const (
	// UpstreamRepository is identity.repository of the upstream fleet.
	UpstreamRepository = "clearcutt/clearcutt"
	// UpstreamDomain is the email domain of upstream's owners and authors.
	UpstreamDomain = "clearcutt.dev"
	// UpstreamOrg is upstream's GitHub organisation.
	UpstreamOrg = "clearcutt"
)

// Warning is something a valid fleet should not keep, at one place of one
// file. It does not make the fleet invalid.
type Warning struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (w Warning) String() string {
	pos := w.File
	if w.Line > 0 {
		pos = fmt.Sprintf("%s:%d", pos, w.Line)
	}
	if w.Field != "" {
		pos += ": " + w.Field
	}
	return pos + ": " + w.Message
}

var (
	// reUpstreamDomain is clearcutt.dev, or a name below it, standing on
	// its own (an email domain, a host).
	reUpstreamDomain = regexp.MustCompile(`(?i)(^|[^a-z0-9-])([a-z0-9-]+\.)*` + regexp.QuoteMeta(UpstreamDomain) + `([^a-z0-9.-]|\.?$|\.[^a-z0-9-])`)
	// reUpstreamOrg is the GitHub organisation: github.com/clearcutt/…,
	// a team @clearcutt/… or the handle @clearcutt.
	reUpstreamOrg = regexp.MustCompile(`(?i)(^|[^a-z0-9-])(github\.com/|@)` + regexp.QuoteMeta(UpstreamOrg) + `(/|[\s,;)>\]]|$)`)
)

// upstreamMark names what makes s (an owner, an author) the upstream
// project's, "" when nothing does.
func upstreamMark(s string) string {
	switch {
	case reUpstreamDomain.MatchString(s):
		return UpstreamDomain
	case reUpstreamOrg.MatchString(s):
		return "the GitHub organisation " + UpstreamOrg
	}
	return ""
}

// UpstreamDecisions lists the risk decisions of f's fleet that are the
// upstream project's: every exception of exceptions.yaml whose owner, and
// every document of vex/ whose author, names the upstream domain
// (clearcutt.dev) or GitHub organisation (clearcutt), in a fleet whose
// identity.repository is not upstream's own (clearcutt/clearcutt). The
// fleet file has no email domain of its own, so the fork is known by what
// it inherited rather than by what it should be. A file that cannot be
// read is a warning too: nothing in it was checked.
func UpstreamDecisions(f *fleet.File) []Warning {
	if strings.EqualFold(f.Identity.Repository, UpstreamRepository) {
		return nil
	}
	var out []Warning
	notChecked := func(file string, err error) {
		out = append(out, Warning{File: file, Message: "not checked for decisions inherited from the upstream project: " + err.Error()})
	}
	fleetName := fmt.Sprintf("this fleet's (%s)", f.Identity.Repository)

	exc, excPath, err := stage.LoadExceptions(f, "")
	if err != nil {
		notChecked(filepath.Join(f.Dir, "exceptions.yaml"), err)
	} else if exc != nil {
		for i, e := range exc.Exceptions {
			mark := upstreamMark(e.Owner)
			if mark == "" {
				continue
			}
			file, line := splitWhere(e.Where, excPath)
			out = append(out, Warning{
				File: file, Line: line, Field: fmt.Sprintf("exceptions[%d].owner", i),
				Message: fmt.Sprintf("%s in %s: owner %s is the upstream project's (%s), not %s: decide it again under your own name, or remove it",
					e.ID, e.Package, e.Owner, mark, fleetName),
			})
		}
	}

	docs, err := stage.VEXDocuments(f, "")
	if err != nil {
		notChecked(filepath.Join(f.Dir, "vex"), err)
	}
	for _, p := range docs {
		d, err := vexdoc.Load(p)
		if err != nil {
			notChecked(p, err)
			continue
		}
		mark := upstreamMark(d.VEX.Author)
		if mark == "" {
			continue
		}
		var vulns []string
		for _, st := range d.VEX.Statements {
			vulns = append(vulns, string(st.Vulnerability.Name))
		}
		out = append(out, Warning{
			File: p, Line: d.FieldLine("author"), Field: "author",
			Message: fmt.Sprintf("%q is the upstream project's (%s), not %s: its statements (%s) hold for upstream's package set; author them again or move the document out of vex/",
				d.VEX.Author, mark, fleetName, strings.Join(vulns, ", ")),
		})
	}
	return out
}

// splitWhere splits an exception's file:line (path when it has no line).
func splitWhere(where, path string) (string, int) {
	if rest, ok := strings.CutPrefix(where, path+":"); ok {
		var n int
		if _, err := fmt.Sscanf(rest, "%d", &n); err == nil {
			return path, n
		}
	}
	return path, 0
}
