package actions

import (
	"errors"
	"strings"
	"testing"
)

func TestParseOutputs(t *testing.T) {
	got, err := ParseOutputs(strings.NewReader("a=1\nb<<X\nx=y\nz\nX\nc=\n"))
	if err != nil || got["a"] != "1" || got["b"] != "x=y\nz" || got["c"] != "" || len(got) != 3 {
		t.Fatalf("ParseOutputs = %v, %v", got, err)
	}
	if _, err := ParseOutputs(strings.NewReader("b<<X\nnever closed\n")); !errors.Is(err, ErrOutputs) {
		t.Fatalf("unclosed delimiter: %v", err)
	}
	if _, err := ParseOutputs(strings.NewReader("no equals sign\n")); !errors.Is(err, ErrOutputs) {
		t.Fatalf("a line that is neither form: %v", err)
	}
}
