package actions

import (
	"fmt"
	"strings"

	"github.com/clearcutt/clearcutt/internal/gha"
)

// Repository is the owner/name the actions are used from; a fork replaces
// it in its own uses: lines.
const Repository = "clearcutt/clearcutt"

// ReadmeName is the generated file next to each action.yml.
const ReadmeName = "README.md"

// Readme renders the README of an action from its action.yml: description,
// usage, inputs and outputs. The same action always gives the same bytes.
func Readme(a *Action) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- Generated from action.yml by go run ./internal/actions/cmd/actiondocs; do not edit. -->\n\n")
	b.WriteString(gha.Heading(1, a.Name))
	b.WriteString(gha.Paragraph(strings.TrimSpace(a.Description)))
	fmt.Fprintf(&b, "Runs `clearcutt %s`. The action builds the `clearcutt` CLI from its own checkout "+
		"(`github.action_path`, not the caller's workspace) with Go set up and cached by actions/setup-go, "+
		"passes every input to the CLI through an environment variable, and the CLI writes the outputs "+
		"and a step summary. Relative paths are resolved in the job's working directory.\n\n", a.Command())

	b.WriteString(gha.Heading(2, "Usage"))
	b.WriteString("```yaml\n")
	fmt.Fprintf(&b, "- uses: %s/actions/%s@<40-hex commit> # <release>\n", Repository, a.Dir)
	fmt.Fprintf(&b, "  id: %s\n", a.Dir)
	var req []Input
	for _, in := range a.Inputs {
		if in.Required {
			req = append(req, in)
		}
	}
	if len(req) > 0 {
		b.WriteString("  with:\n")
		for _, in := range req {
			fmt.Fprintf(&b, "    %s: ... # %s\n", in.Name, oneLine(in.Description))
		}
	}
	b.WriteString("```\n\n")

	b.WriteString(gha.Heading(2, "Inputs"))
	in := gha.Table{Header: []string{"Input", "Required", "Default", "Description"}, Code: map[int]bool{0: true, 2: true}, Limit: -1}
	for _, i := range a.Inputs {
		def := ""
		if i.HasDefault {
			def = i.Default
		}
		r := "no"
		if i.Required {
			r = "yes"
		}
		in.Rows = append(in.Rows, []string{i.Name, r, def, oneLine(i.Description)})
	}
	b.WriteString(in.Markdown())

	b.WriteString(gha.Heading(2, "Outputs"))
	out := gha.Table{Header: []string{"Output", "Description"}, Code: map[int]bool{0: true}, Limit: -1}
	for _, o := range a.Outputs {
		out.Rows = append(out.Rows, []string{o.Name, oneLine(o.Description)})
	}
	b.WriteString(strings.TrimSuffix(out.Markdown(), "\n"))
	return []byte(b.String())
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
