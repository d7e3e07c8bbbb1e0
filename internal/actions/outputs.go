package actions

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrOutputs: a $GITHUB_OUTPUT file is not what a runner would read.
var ErrOutputs = errors.New("step outputs")

// ParseOutputs reads a $GITHUB_OUTPUT file as the runner does: name=value
// lines and name<<DELIMITER blocks.
func ParseOutputs(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if name, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(name, "=") {
			var val []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				val = append(val, sc.Text())
			}
			if !closed {
				return nil, fmt.Errorf("%w: output %s: delimiter %s never closes", ErrOutputs, name, delim)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%w: output line %q is neither name=value nor name<<DELIMITER", ErrOutputs, line)
		}
		out[name] = val
	}
	return out, sc.Err()
}
