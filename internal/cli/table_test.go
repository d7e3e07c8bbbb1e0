package cli

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestTableWrapsTheLastColumnAndCutsNothing(t *testing.T) {
	reason := "evidence content rejected: the vulnerability scan was made with a database built 2026-11-01T00:00:00Z, older than vulnerabilities.maxDBAge (72h) allows"
	url := "https://github.com/acme/base-images/.github/workflows/publish.yml@refs/heads/main-and-a-very-long-branch-name-indeed"
	tb := table{header: []string{"CHANNEL", "STATUS", "FOR", "DETAIL"}}
	tb.add("vulnerabilities", "FAILED", "", "")
	tb.add("", "failed", "linux/arm64/v8 sha256:d936263c1bd3…", reason)
	tb.add("", "verified", "index sha256:5dffbbe2a6e1…", "signed by "+url)
	tb.add("a heading of one cell, written as it is")
	var b strings.Builder
	if err := tb.write(&b, tableWidth); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > tableWidth && !strings.Contains(l, url) {
			t.Errorf("line of %d columns (want at most %d):\n%s", n, tableWidth, l)
		}
	}
	// Every word of the reason is there, in order: wrapped, never cut.
	detailCol := strings.Index(lines[0], "DETAIL")
	var got []string
	for _, l := range lines[2:] {
		if strings.Contains(l, "signed by") {
			break
		}
		r := []rune(l)
		got = append(got, strings.Fields(string(r[min(len(r), detailCol):]))...)
	}
	if diff := cmp.Diff(strings.Fields(reason), got); diff != "" {
		t.Errorf("the reason as laid out (-want +got):\n%s\n%s", diff, out)
	}
	if !strings.Contains(out, url) {
		t.Errorf("a word longer than the column is not kept whole:\n%s", out)
	}
	if lines[len(lines)-1] != "a heading of one cell, written as it is" {
		t.Errorf("last line %q", lines[len(lines)-1])
	}
	if strings.HasSuffix(lines[1], " ") {
		t.Errorf("a row with an empty last cell keeps trailing spaces: %q", lines[1])
	}
}

func TestTableTooNarrowPutsTheLastColumnUnderItsRow(t *testing.T) {
	tb := table{}
	tb.add(strings.Repeat("x", 100), "a reason that would not fit beside the row at all")
	var b strings.Builder
	if err := tb.write(&b, 120); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("x", 100) + "\n    a reason that would not fit beside the row at all\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWrapWords(t *testing.T) {
	for _, tc := range []struct {
		s     string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"one two three", 7, []string{"one two", "three"}},
		{"averyveryverylongword b", 5, []string{"averyveryverylongword", "b"}},
		{"a  b\tc", 80, []string{"a b c"}},
	} {
		if diff := cmp.Diff(tc.want, wrapWords(tc.s, tc.width)); diff != "" {
			t.Errorf("wrapWords(%q, %d) (-want +got):\n%s", tc.s, tc.width, diff)
		}
	}
}

func TestTableWordTooWideForItsColumnGoesUnderTheRow(t *testing.T) {
	url := "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0"
	tb := table{}
	tb.add("policy-controller", "clearcutt-example-provenance", "signed by "+url)
	var b strings.Builder
	if err := tb.write(&b, tableWidth); err != nil {
		t.Fatal(err)
	}
	// The URL is 120 columns: under the row, moved left as far as it needs.
	want := "policy-controller  clearcutt-example-provenance\n    signed by\n" + url + "\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParagraph(t *testing.T) {
	if got := paragraph("  fits as it is", 20); got != "  fits as it is\n" {
		t.Errorf("paragraph = %q", got)
	}
	want := "  alpha bravo charlie delta echo\n    foxtrot golf hotel\n"
	if got := paragraph("  alpha bravo charlie delta echo foxtrot golf hotel", 40); got != want {
		t.Errorf("paragraph = %q, want %q", got, want)
	}
}
