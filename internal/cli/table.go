package cli

import (
	"io"
	"strings"
	"unicode/utf8"
)

// tableWidth is the width tables are laid out for: a terminal of 120
// columns, and a log line that reads without scrolling.
const tableWidth = 120

// minWrapWidth is the narrowest the last column is wrapped to beside the
// others; below it, or when a word of it (a URL, a package URL) is wider
// than the room beside the others, the last column goes on lines of its own
// under its row.
const minWrapWidth = 32

// table is a text table whose last column is free text (a reason, a
// detail, a list): the other columns are aligned as tabwriter would, and
// the last is wrapped at word boundaries to fit tableWidth, never cut. A
// row of one cell (a heading, a note) is written as it is when it fits, and
// wrapped like a paragraph when it does not (see paragraph). A last column
// laid under its row is indented four spaces, less for a word too wide for
// that.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// write lays the table out for width columns.
func (t *table) write(w io.Writer, width int) error {
	all := t.rows
	if t.header != nil {
		all = append([][]string{t.header}, t.rows...)
	}
	var widths []int
	for _, r := range all {
		if len(r) < 2 {
			continue
		}
		for i, c := range r[:len(r)-1] {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	lead := 0
	for _, n := range widths {
		lead += n + 2
	}
	var b strings.Builder
	for _, r := range all {
		if len(r) < 2 {
			b.WriteString(paragraph(strings.Join(r, ""), width))
			continue
		}
		var line strings.Builder
		for i, c := range r[:len(r)-1] {
			line.WriteString(c)
			line.WriteString(strings.Repeat(" ", widths[i]+2-utf8.RuneCountInString(c)))
		}
		last := r[len(r)-1]
		if last == "" {
			b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
			continue
		}
		if (width-lead >= minWrapWidth && longestWord(last) <= width-lead) || utf8.RuneCountInString(last) <= width-lead {
			for i, l := range wrapWords(last, max(width-lead, minWrapWidth)) {
				if i == 0 {
					b.WriteString(line.String() + l + "\n")
				} else {
					b.WriteString(strings.Repeat(" ", lead) + l + "\n")
				}
			}
			continue
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
		for _, l := range wrapWords(last, width-4) {
			// A word wider than the indented room (a long URL) is moved
			// left as far as it needs to fit.
			b.WriteString(strings.Repeat(" ", min(4, max(0, width-utf8.RuneCountInString(l)))) + l + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// paragraph is s wrapped at word boundaries to width, each line ending in a
// newline: the first line keeps s's leading spaces, the lines after it are
// indented two spaces more. A line that fits is returned as it is.
func paragraph(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s + "\n"
	}
	body := strings.TrimLeft(s, " ")
	indent := strings.Repeat(" ", len(s)-len(body))
	var b strings.Builder
	for i, l := range wrapWords(body, max(width-len(indent)-2, minWrapWidth)) {
		pad := len(indent)
		if i > 0 {
			pad += 2
		}
		// A word too wide for the indented room is moved left to fit.
		b.WriteString(strings.Repeat(" ", min(pad, max(0, width-utf8.RuneCountInString(l)))) + l + "\n")
	}
	return b.String()
}

// writeParagraph writes paragraph(s, tableWidth) to w.
func writeParagraph(w io.Writer, s string) error {
	_, err := io.WriteString(w, paragraph(s, tableWidth))
	return err
}

// longestWord is the width in runes of the longest word of s.
func longestWord(s string) int {
	n := 0
	for _, w := range strings.Fields(s) {
		n = max(n, utf8.RuneCountInString(w))
	}
	return n
}

// wrapWords breaks s at spaces into lines of at most width runes; a word
// longer than width (a URL, a digest) stands on a line of its own, whole.
func wrapWords(s string, width int) []string {
	var lines []string
	var cur strings.Builder
	n := 0
	for _, word := range strings.Fields(s) {
		wn := utf8.RuneCountInString(word)
		if n > 0 && n+1+wn > width {
			lines = append(lines, cur.String())
			cur.Reset()
			n = 0
		}
		if n > 0 {
			cur.WriteByte(' ')
			n++
		}
		cur.WriteString(word)
		n += wn
	}
	if n > 0 || len(lines) == 0 {
		lines = append(lines, cur.String())
	}
	return lines
}
