package structure

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Store references, as Nix finds them: a file refers to a store path when
// its bytes hold "/nix/store/<hash>" (a symbolic link when its target
// does). From these, referenceChain explains why a store path is in an
// image: which file outside the store leads to it, through which files of
// which store paths.

const (
	storePrefix = "/nix/store/"
	hashLen     = 32
)

// nix32 is Nix's base-32 alphabet (no e, o, u, t).
const nix32 = "0123456789abcdfghijklmnpqrsvwxyz"

func isNix32(c byte) bool { return strings.IndexByte(nix32, c) >= 0 }

// refScanner is an io.Writer that collects the store hashes named in what
// is written to it, across write boundaries.
type refScanner struct {
	tail []byte
	refs map[string]bool
}

func (s *refScanner) Write(p []byte) (int, error) {
	buf := append(s.tail, p...)
	for i := 0; ; {
		j := bytes.Index(buf[i:], []byte(storePrefix))
		if j < 0 {
			break
		}
		start := i + j + len(storePrefix)
		if start+hashLen > len(buf) {
			break // completed by the next write
		}
		h := buf[start : start+hashLen]
		ok := true
		for _, c := range h {
			if !isNix32(c) {
				ok = false
				break
			}
		}
		if ok {
			if s.refs == nil {
				s.refs = map[string]bool{}
			}
			s.refs[string(h)] = true
		}
		i = start
	}
	// Keep what could start a reference completed by the next write.
	keep := len(storePrefix) + hashLen - 1
	if len(buf) > keep {
		buf = buf[len(buf)-keep:]
	}
	s.tail = append(s.tail[:0], buf...)
	return len(p), nil
}

// hashes returns the collected hashes, sorted.
func (s *refScanner) hashes() []string {
	out := make([]string, 0, len(s.refs))
	for h := range s.refs {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// storePathOf returns the store path a path lies in ("/nix/store/<hash>-name")
// and whether it lies in one.
func storePathOf(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, storePrefix)
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "/")
	if len(name) <= hashLen || name[hashLen] != '-' {
		return "", false
	}
	return storePrefix + name, true
}

// storeName is a store path without its directory and hash: "bash-5.2.15".
func storeName(sp string) string {
	name := strings.TrimPrefix(sp, storePrefix)
	if len(name) > hashLen+1 {
		return name[hashLen+1:]
	}
	return name
}

// refEdge is one step of a reference chain: the store path reached, and
// the file (of the previous store path, or outside the store) naming it.
type refEdge struct {
	to, via string
}

// referenceChain returns the shortest chain of references from a file
// outside the store to target, or nil when no file leads to it.
func (ix *index) referenceChain(target string) []refEdge {
	stores := map[string]string{} // hash -> store path
	for _, p := range ix.paths() {
		if sp, ok := storePathOf(p); ok {
			stores[strings.TrimPrefix(sp, storePrefix)[:hashLen]] = sp
		}
	}
	// from -> to -> first file naming it; "" is the image outside the store.
	edges := map[string]map[string]string{}
	addEdge := func(from, to, via string) {
		if from == to {
			return
		}
		if edges[from] == nil {
			edges[from] = map[string]string{}
		}
		if _, ok := edges[from][to]; !ok {
			edges[from][to] = via
		}
	}
	for _, p := range ix.paths() {
		e := ix.get(p)
		from, _ := storePathOf(p)
		hashes := e.Refs
		if e.Type == typeSymlink {
			var s refScanner
			_, _ = s.Write([]byte(e.Link + "\x00"))
			target := e.Link
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(p), target)
			}
			_, _ = s.Write([]byte(target + "\x00"))
			hashes = s.hashes()
		}
		for _, h := range hashes {
			if to, ok := stores[h]; ok {
				addEdge(from, to, p)
			}
		}
	}
	// Breadth first from the image outside the store.
	prev := map[string]refEdge{}
	seen := map[string]bool{"": true}
	queue := []string{""}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		tos := make([]string, 0, len(edges[cur]))
		for to := range edges[cur] {
			tos = append(tos, to)
		}
		sort.Strings(tos)
		for _, to := range tos {
			if seen[to] {
				continue
			}
			seen[to] = true
			prev[to] = refEdge{to: cur, via: edges[cur][to]}
			if to == target {
				var chain []refEdge
				for n := target; n != ""; n = prev[n].to {
					chain = append([]refEdge{{to: n, via: prev[n].via}}, chain...)
				}
				return chain
			}
			queue = append(queue, to)
		}
	}
	return nil
}

// describeChain renders a chain as
// "/bin/python3 → python3-3.11.2 (lib/python3.11/subprocess.py) → bash-5.2.15".
func describeChain(chain []refEdge) string {
	var b strings.Builder
	for i, e := range chain {
		if i == 0 {
			b.WriteString(e.via)
		} else {
			from := chain[i-1].to
			fmt.Fprintf(&b, " (%s)", strings.TrimPrefix(e.via, from+"/"))
		}
		b.WriteString(" → ")
		b.WriteString(storeName(e.to))
	}
	return b.String()
}

// explainStorePaths says, for each store path holding one of paths, how
// the image comes to hold it: "bash-5.2.15 is in the closure through
// /bin/python3 → python3-3.11.2 (lib/python3.11/subprocess.py) → bash-5.2.15".
// At most max store paths are explained.
func (ix *index) explainStorePaths(paths []string, max int) []string {
	var sps []string
	seen := map[string]bool{}
	for _, p := range paths {
		if sp, ok := storePathOf(p); ok && !seen[sp] {
			seen[sp] = true
			sps = append(sps, sp)
		}
	}
	sort.Strings(sps)
	var out []string
	for i, sp := range sps {
		if i == max {
			out = append(out, fmt.Sprintf("and %d more store path(s)", len(sps)-max))
			break
		}
		if chain := ix.referenceChain(sp); chain != nil {
			out = append(out, fmt.Sprintf("%s is in the closure through %s", storeName(sp), describeChain(chain)))
		} else {
			out = append(out, fmt.Sprintf("%s is in the image, but no file outside it refers to it", storeName(sp)))
		}
	}
	return out
}
