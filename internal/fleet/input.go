package fleet

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// topLevel names the fields of a fleet file, for errors about a file that
// holds none.
const topLevel = "apiVersion, kind, metadata, registry, identity, build, nix, tiers and runtimes"

// checkText refuses data that is not YAML text: a byte that is not UTF-8,
// or a character YAML does not allow (control characters other than tab,
// line feed and carriage return). The error names the line and column of
// the first one; the YAML decoder would report it without a position.
func checkText(path string, data []byte) error {
	for off := 0; off < len(data); {
		r, size := utf8.DecodeRune(data[off:])
		var msg string
		switch {
		case r == utf8.RuneError && size <= 1:
			msg = fmt.Sprintf("byte 0x%02x is not UTF-8; a fleet file is UTF-8 text", data[off])
		case !yamlPrintable(r):
			msg = fmt.Sprintf("character %U is a control character, which YAML does not allow", r)
		}
		if msg != "" {
			line, col := position(data, off)
			return Errors{{File: path, Line: line, Column: col, Msg: msg}}
		}
		off += size
	}
	return nil
}

// yamlPrintable is YAML 1.2's c-printable set.
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7e:
		return true
	case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}

// position is the 1-based line and column (in characters) of byte offset
// off in data.
func position(data []byte, off int) (line, col int) {
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[start:]) + 1
}
