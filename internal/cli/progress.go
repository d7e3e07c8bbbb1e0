package cli

import (
	"fmt"
	"os"

	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/stage"
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

// progressEvent is a status line for the progress events of the oci
// package.
func (g *globals) progressEvent(prefix string) func(oci.Event) {
	return stage.Events(g.progressLine(prefix))
}

// Status implements stage.Progress: a redrawn status line on a terminal,
// nothing elsewhere.
func (g *globals) Status(prefix string) (func(string), func()) {
	return g.progressLine(prefix), g.progressDone
}
