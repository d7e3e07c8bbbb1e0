package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrInvalidLock: a flake.lock is not JSON of the lock format, has no root
// node, or does not lock the input asked for directly: the input is absent,
// follows another input, or has no locked node. The error names the input.
var ErrInvalidLock = errors.New("invalid flake.lock")

// LockNode is one input of a flake.lock.
type LockNode struct {
	Type         string `json:"type"`
	Owner        string `json:"owner,omitempty"`
	Repo         string `json:"repo,omitempty"`
	Rev          string `json:"rev,omitempty"`
	Ref          string `json:"ref,omitempty"`
	Path         string `json:"path,omitempty"`
	URL          string `json:"url,omitempty"`
	NarHash      string `json:"narHash,omitempty"`
	LastModified int64  `json:"lastModified,omitempty"`
}

// String is the node as a flake reference.
func (l LockNode) String() string {
	switch l.Type {
	case "github", "gitlab", "sourcehut":
		s := l.Type + ":" + l.Owner + "/" + l.Repo
		if l.Rev != "" {
			s += "/" + l.Rev
		}
		return s
	case "path":
		return "path:" + l.Path
	case "":
		return "(none)"
	}
	s := l.Type + "+" + l.URL
	if l.Rev != "" {
		s += "?rev=" + l.Rev
	}
	return s
}

// LockedInput reads the locked node of the root input name from a
// flake.lock (version 7). Its errors wrap ErrInvalidLock.
func LockedInput(lock []byte, name string) (LockNode, error) {
	var f struct {
		Nodes map[string]struct {
			Inputs map[string]json.RawMessage `json:"inputs"`
			Locked *LockNode                  `json:"locked"`
		} `json:"nodes"`
		Root    string `json:"root"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(lock, &f); err != nil {
		return LockNode{}, fmt.Errorf("%w: %v", ErrInvalidLock, err)
	}
	root, ok := f.Nodes[f.Root]
	if !ok {
		return LockNode{}, fmt.Errorf("%w: no root node %q", ErrInvalidLock, f.Root)
	}
	raw, ok := root.Inputs[name]
	if !ok {
		return LockNode{}, fmt.Errorf("%w: the flake has no input %q", ErrInvalidLock, name)
	}
	var node string
	if err := json.Unmarshal(raw, &node); err != nil {
		return LockNode{}, fmt.Errorf("%w: input %q follows another input: lock it directly", ErrInvalidLock, name)
	}
	n, ok := f.Nodes[node]
	if !ok || n.Locked == nil {
		return LockNode{}, fmt.Errorf("%w: input %q (node %q) is not locked", ErrInvalidLock, name, node)
	}
	return *n.Locked, nil
}

// LockNixpkgs returns the flake.lock of the flake in flakeDir with its
// nixpkgs input locked to ref, as `nix flake lock --override-input nixpkgs
// REF` writes it. It works on a staged copy: flakeDir is not touched.
func (n Nix) LockNixpkgs(ctx context.Context, flakeDir, ref string) ([]byte, error) {
	staged, err := n.Stage(flakeDir)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staged)
	if _, err := n.run(ctx, staged, "flake", "lock", "path:"+staged, "--override-input", "nixpkgs", ref); err != nil {
		return nil, fmt.Errorf("locking nixpkgs to %s: %w", ref, err)
	}
	data, err := os.ReadFile(filepath.Join(staged, LockFile))
	if err != nil {
		return nil, err
	}
	if _, err := LockedInput(data, "nixpkgs"); err != nil {
		return nil, err
	}
	return data, nil
}

// LockSummary names the locked nixpkgs of a flake.lock for people.
func LockSummary(lock []byte) string {
	n, err := LockedInput(lock, "nixpkgs")
	if err != nil {
		return "(" + strings.TrimPrefix(err.Error(), ErrInvalidLock.Error()+": ") + ")"
	}
	s := n.String()
	if n.NarHash != "" {
		s += " (narHash " + n.NarHash + ")"
	}
	return s
}
