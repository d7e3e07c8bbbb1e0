package testenv

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// DocBlock is one fenced sh block of a Markdown document whose commands a
// test runs: its mode (the value of the block's marker), first line and text.
type DocBlock struct {
	Mode   string
	Line   int
	Script string
}

// DocBlocks reads every ```sh block of the Markdown file path. Each must be
// marked key=MODE with one of modes (```sh audit=key); an unmarked or
// unterminated block fails the test, so no command of the document goes
// untested.
func DocBlocks(t testing.TB, path, key string, modes ...string) []DocBlock {
	t.Helper()
	fence := regexp.MustCompile("^```sh " + regexp.QuoteMeta(key) + "=(" + strings.Join(modes, "|") + ")$")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []DocBlock
	var cur *DocBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```sh"):
			m := fence.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("%s:%d: a sh block must be marked %s=%s: %q", path, n, key, strings.Join(modes, ", "+key+"="), line)
			}
			cur = &DocBlock{Mode: m[1], Line: n}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.Script += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated block", path, cur.Line)
	}
	return out
}
