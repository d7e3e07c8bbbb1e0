package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// jsonExempt are the runnable commands without --json, each with the reason.
var jsonExempt = map[string]string{
	"fleet schema": "its output is a JSON Schema, JSON already",
}

// runnableCommands is every command of the tree that runs, by its path
// below the root ("fleet validate").
func runnableCommands(t *testing.T) map[string]*cobra.Command {
	t.Helper()
	out := map[string]*cobra.Command{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() {
			out[commandKey(c)] = c
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(&globals{stdout: io.Discard, stderr: io.Discard}))
	if len(out) < 20 {
		t.Fatalf("only %d runnable commands found", len(out))
	}
	return out
}

// TestEveryCommandDocumentsExitStatus: the help of every command that runs
// ends with an "Exit status:" paragraph naming the statuses it can end with.
func TestEveryCommandDocumentsExitStatus(t *testing.T) {
	for key, c := range runnableCommands(t) {
		long := strings.TrimSpace(c.Long)
		paras := strings.Split(long, "\n\n")
		last := paras[len(paras)-1]
		switch {
		case long == "":
			t.Errorf("%s: no Long help", key)
		case !strings.HasPrefix(last, "Exit status: "):
			t.Errorf("%s: the help does not end with an \"Exit status:\" paragraph; it ends %q", key, last)
		case !strings.Contains(last, "0 "):
			t.Errorf("%s: the exit status paragraph does not say what 0 means: %q", key, last)
		}
	}
}

// TestReportCommandsTakeJSON: every command that runs prints a report, and
// takes --json to print it as JSON, save those listed in jsonExempt.
func TestReportCommandsTakeJSON(t *testing.T) {
	cmds := runnableCommands(t)
	for key, c := range cmds {
		f := c.Flags().Lookup("json")
		_, exempt := jsonExempt[key]
		switch {
		case f == nil && !exempt:
			t.Errorf("%s prints a report but takes no --json", key)
		case f != nil && exempt:
			t.Errorf("%s takes --json but is listed in jsonExempt (%s)", key, jsonExempt[key])
		case f != nil && f.Value.Type() != "bool":
			t.Errorf("%s: --json is a %s flag, not a switch", key, f.Value.Type())
		}
	}
	for key, why := range jsonExempt {
		c, ok := cmds[key]
		if !ok {
			t.Errorf("jsonExempt names %s, which is not a command", key)
			continue
		}
		if !strings.Contains(c.Long, "JSON") {
			t.Errorf("%s is exempt from --json (%s) but its help does not say its output is JSON", key, why)
		}
	}
}
