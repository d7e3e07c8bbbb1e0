package closure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ScrubSchema identifies the report nix/lib/scrub.sh writes when it makes
// the runtime of a deployable tier (distroless, slim): a copy of the
// runtime in which no file names a shell or coreutils store path.
const ScrubSchema = "clearcutt.dev/closure-scrub/v1"

// ScrubPath is where an image root holds the report, relative to the root
// (a link to nix-support/clearcutt-scrub.json in the scrubbed runtime).
const ScrubPath = "etc/clearcutt/closure-scrub.json"

// Scrub actions.
const (
	ScrubRemoved = "removed" // the file is not in the image's runtime
	ScrubRewrote = "rewrote" // the file's store path references were rewritten
	ScrubKept    = "kept"    // the file still names the store path: the image gate fails
)

// ErrScrub: a scrub report is malformed or has an unknown schema.
var ErrScrub = errors.New("invalid closure scrub report")

// Scrub is what scrubbing did to a runtime: the store paths no longer in
// its closure and, per file, the action and the reason. Store paths are
// named without their hashes.
type Scrub struct {
	Schema string `json:"schema"`
	// Runtime is the runtime's store name (pname-version).
	Runtime string `json:"runtime"`
	// RemovedFromClosure are the store names the runtime no longer references.
	RemovedFromClosure []string    `json:"removedFromClosure"`
	Files              []ScrubFile `json:"files"`
}

// ScrubFile is one file of the runtime that named a shell or coreutils
// store path.
type ScrubFile struct {
	// Path is relative to the runtime's store path.
	Path   string `json:"path"`
	Action string `json:"action"`
	Reason string `json:"reason"`
}

// ParseScrub decodes and checks a scrub report.
func ParseScrub(data []byte) (*Scrub, error) {
	var s Scrub
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrScrub, err)
	}
	if s.Schema != ScrubSchema {
		return nil, fmt.Errorf("%w: schema %q, want %q", ErrScrub, s.Schema, ScrubSchema)
	}
	if s.Runtime == "" {
		return nil, fmt.Errorf("%w: no runtime", ErrScrub)
	}
	for i, f := range s.Files {
		switch f.Action {
		case ScrubRemoved, ScrubRewrote, ScrubKept:
		default:
			return nil, fmt.Errorf("%w: files[%d] (%s): action %q", ErrScrub, i, f.Path, f.Action)
		}
		if f.Path == "" || filepath.IsAbs(f.Path) {
			return nil, fmt.Errorf("%w: files[%d]: path %q is not relative to the runtime", ErrScrub, i, f.Path)
		}
	}
	if s.RemovedFromClosure == nil {
		s.RemovedFromClosure = []string{}
	}
	if s.Files == nil {
		s.Files = []ScrubFile{}
	}
	return &s, nil
}

// readScrub reads the scrub report of an image root; nil when the root has
// none (the dev tier carries its runtime unscrubbed).
func readScrub(root string) (*Scrub, error) {
	p := filepath.Join(root, ScrubPath)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s, err := ParseScrub(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return s, nil
}
