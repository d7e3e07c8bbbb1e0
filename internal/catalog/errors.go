package catalog

import "errors"

// Sentinel errors; test with errors.Is.
var (
	// ErrInvalid: an observation, or a catalog read back, is not what the
	// catalog can describe (no digest, a report about another index, an
	// unknown format version).
	ErrInvalid = errors.New("invalid catalog input")
	// ErrMismatch: an image's own labels contradict the name it is
	// published under, or its platforms disagree with each other.
	ErrMismatch = errors.New("image labels do not match its name")
)
