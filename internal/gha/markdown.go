package gha

import (
	"fmt"
	"strings"
)

// Status marks used in step summaries.
const (
	IconPass = "✅"
	IconFail = "❌"
	IconWarn = "⚠️"
	IconSkip = "⏭"
)

// DefaultRowLimit caps a table that sets no Limit.
const DefaultRowLimit = 50

// Table is a GitHub-flavoured Markdown table. Cells are plain text: Markdown
// renders them escaped.
type Table struct {
	Header []string
	Rows   [][]string
	// Code marks the columns rendered as code spans (digests, paths).
	Code map[int]bool
	// Limit caps the rows shown; the rest are counted in a "… N more" row.
	// 0 means DefaultRowLimit, a negative value no cap.
	Limit int
}

// Markdown renders the table, followed by a blank line.
func (t Table) Markdown() string {
	var b strings.Builder
	row := func(cells []string, code bool) {
		b.WriteString("|")
		for i := range t.Header {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			if code && t.Code[i] && c != "" && !strings.Contains(c, "`") {
				c = "`" + escapeCell(c) + "`"
			} else {
				c = Escape(c)
			}
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n")
	}
	row(t.Header, false)
	b.WriteString("|")
	for range t.Header {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	limit := t.Limit
	if limit == 0 {
		limit = DefaultRowLimit
	}
	for i, r := range t.Rows {
		if limit > 0 && i == limit {
			row([]string{fmt.Sprintf("… %d more", len(t.Rows)-limit)}, false)
			break
		}
		row(r, true)
	}
	b.WriteString("\n")
	return b.String()
}

// Escape makes s safe as Markdown text in a table cell or a paragraph:
// HTML is neutralised, '|' escaped and line breaks become <br>.
func Escape(s string) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	return escapeCell(s)
}

// escapeCell escapes what breaks a table row, also inside code spans.
func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.NewReplacer("|", `\|`, "\n", "<br>", "\r", "<br>").Replace(s)
}

// Heading is a Markdown heading of level 1 to 6 with escaped text.
func Heading(level int, text string) string {
	level = min(max(level, 1), 6)
	return strings.Repeat("#", level) + " " + Escape(text) + "\n\n"
}

// Paragraph is escaped text followed by a blank line.
func Paragraph(text string) string { return Escape(text) + "\n\n" }

// List is a bulleted list of escaped items, capped like a table.
func List(items []string, limit int) string {
	if limit == 0 {
		limit = DefaultRowLimit
	}
	var b strings.Builder
	for i, it := range items {
		if limit > 0 && i == limit {
			fmt.Fprintf(&b, "- … %d more\n", len(items)-limit)
			break
		}
		b.WriteString("- " + Escape(it) + "\n")
	}
	if len(items) > 0 {
		b.WriteString("\n")
	}
	return b.String()
}
