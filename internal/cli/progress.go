package cli

import (
	"fmt"
	"os"

	"github.com/clearcutt/clearcutt/internal/oci"
)

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressLine returns a progress sink for one stage: on a terminal it
// redraws one status line; elsewhere (CI logs) it prints nothing but the
// stages' own summaries, which keeps logs readable.
func (g *globals) progressLine(prefix string) func(string) {
	f, ok := g.stderr.(*os.File)
	if !ok || !isTerminal(f) {
		return func(string) {}
	}
	return func(msg string) {
		line := prefix + ": " + msg
		if len(line) > 110 {
			line = line[:107] + "..."
		}
		fmt.Fprintf(f, "\r\033[K%s", line)
	}
}

// progressDone ends a redrawn status line.
func (g *globals) progressDone() {
	if f, ok := g.stderr.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(f, "\r\033[K")
	}
}

func (g *globals) progressEvent(prefix string) func(oci.Event) {
	line := g.progressLine(prefix)
	return func(e oci.Event) {
		msg := e.Step
		if e.Arch != "" {
			msg += " " + e.Arch
		}
		if e.Total > 0 {
			msg += fmt.Sprintf(" %d/%d", e.N, e.Total)
		}
		if e.Detail != "" {
			msg += " " + e.Detail
		}
		line(msg)
	}
}
