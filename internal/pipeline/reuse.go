package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/clearcutt/clearcutt/internal/fsutil"
)

// Reuse keeps the results of the build, assemble, test and SBOM steps of
// a run in Dir, each under a key that is the digest of everything the step
// consumed: the image digest it read, the fleet's settings, the flake's
// files, the package set, the clock of the images and the clearcutt binary
// itself. A later run whose step has the same key takes the result instead
// of redoing the work, and only while what the result names is still there
// (a closure's store paths, an index in the staging layout).
//
// Scans, signatures and verification are never reused: a scan answers
// against today's database, VEX and exceptions, and a signature and a
// verdict are made fresh by every run.
type Reuse struct {
	// Dir holds one directory per step, one file per key.
	Dir string
}

// reuseEntry is one stored result: the inputs it was keyed by (for a
// person reading the cache), the step's value and the evidence files it
// wrote, by path relative to the evidence directory.
type reuseEntry struct {
	Step   string            `json:"step"`
	Inputs json.RawMessage   `json:"inputs"`
	Value  json.RawMessage   `json:"value"`
	Files  map[string][]byte `json:"files,omitempty"`
}

var (
	toolOnce   sync.Once
	toolDigest string
	toolErr    error
)

// tool is the digest of the running executable: a result is reused only
// by the binary that made it, so a changed clearcutt redoes everything.
func tool() (string, error) {
	toolOnce.Do(func() {
		var exe string
		if exe, toolErr = os.Executable(); toolErr != nil {
			return
		}
		var f *os.File
		if f, toolErr = os.Open(exe); toolErr != nil {
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, toolErr = io.Copy(h, f); toolErr == nil {
			toolDigest = "sha256:" + hex.EncodeToString(h.Sum(nil))
		}
	})
	return toolDigest, toolErr
}

// key is the digest of the step's name, the tool and inputs (any JSON
// value; maps are encoded with sorted keys).
func (r *Reuse) key(step string, inputs any) (string, json.RawMessage, error) {
	t, err := tool()
	if err != nil {
		return "", nil, fmt.Errorf("reuse: the running executable: %w", err)
	}
	raw, err := json.Marshal(inputs)
	if err != nil {
		return "", nil, fmt.Errorf("reuse: %s inputs: %w", step, err)
	}
	b, err := json.Marshal(struct {
		Step   string          `json:"step"`
		Tool   string          `json:"tool"`
		Inputs json.RawMessage `json:"inputs"`
	}{step, t, raw})
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), raw, nil
}

// keyOf is key, or nothing when r is nil (reuse is off).
func (r *Reuse) keyOf(step string, inputs any) (string, json.RawMessage, error) {
	if r == nil || r.Dir == "" {
		return "", nil, nil
	}
	return r.key(step, inputs)
}

// fileDigest is the sha256 digest of the file at p.
func fileDigest(p string) (string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

func (r *Reuse) path(step, key string) string { return filepath.Join(r.Dir, step, key+".json") }

// load reads the result of step under key into v and writes its evidence
// files back under evidence. It reports false, and removes the entry, when
// there is none or it cannot be read whole; valid, when given, must accept
// the value for a hit.
func (r *Reuse) load(step, key string, v any, evidence string, valid func() bool) (bool, error) {
	if r == nil || r.Dir == "" {
		return false, nil
	}
	p := r.path(step, key)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var e reuseEntry
	if err := json.Unmarshal(data, &e); err != nil || e.Step != step || json.Unmarshal(e.Value, v) != nil || (valid != nil && !valid()) {
		_ = os.Remove(p)
		return false, nil
	}
	for rel, content := range e.Files {
		if !filepath.IsLocal(rel) {
			_ = os.Remove(p)
			return false, nil
		}
		dst := filepath.Join(evidence, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return false, err
		}
		if err := fsutil.WriteFileAtomic(dst, content, 0o644); err != nil {
			return false, err
		}
	}
	return true, nil
}

// save stores v and the evidence files (paths under evidence) as the
// result of step under key.
func (r *Reuse) save(step, key string, inputs json.RawMessage, v any, evidence string, files []string) error {
	if r == nil || r.Dir == "" {
		return nil
	}
	value, err := json.Marshal(v)
	if err != nil {
		return err
	}
	e := reuseEntry{Step: step, Inputs: inputs, Value: value}
	for _, f := range files {
		rel, err := filepath.Rel(evidence, f)
		if err != nil || !filepath.IsLocal(rel) {
			return fmt.Errorf("reuse: %s: %s is not under the evidence directory %s", step, f, evidence)
		}
		content, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if e.Files == nil {
			e.Files = map[string][]byte{}
		}
		e.Files[rel] = content
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(r.Dir, step), 0o755); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(r.path(step, key), data, 0o644)
}

// treeDigest is the digest of the regular files and symlinks under dir
// (paths, modes and contents), leaving out what skip says to.
func treeDigest(dir string, skip func(rel string, d fs.DirEntry) bool) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		if skip != nil && skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "L %q %q\n", rel, link)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			fmt.Fprintf(h, "F %q %o %x\n", rel, info.Mode().Perm(), sum)
		case d.IsDir():
			fmt.Fprintf(h, "D %q\n", rel)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// treeStamp is a quick fingerprint of a large tree that is replaced rather
// than edited in place (the offline package set): each entry's path, size,
// mode and modification time. Any edit of a file changes its time.
func treeStamp(dir string) (string, error) {
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, fmt.Sprintf("%q %o %d %d", rel, info.Mode(), info.Size(), info.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return "stamp:" + hex.EncodeToString(sum[:]), nil
}

// reuseSignal carries the running step's Reuse mark to the stages.
type reuseSignal struct{}

// withSteps lets the stages of ctx mark the running step of lane as
// reused.
func withSteps(ctx context.Context, lane *Lane) context.Context {
	if lane == nil {
		return ctx
	}
	return context.WithValue(ctx, reuseSignal{}, lane)
}

// reused marks the running step of ctx as reused.
func reused(ctx context.Context) {
	if l, ok := ctx.Value(reuseSignal{}).(*Lane); ok {
		l.Reuse()
	}
}
