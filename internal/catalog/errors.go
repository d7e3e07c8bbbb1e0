package catalog

import "errors"

// Sentinel errors; test with errors.Is.
var (
	// ErrInvalid: an observation is not what the catalog can describe (no
	// digest, a report about another index, an unreadable predicate), or
	// a result to write is inconsistent.
	ErrInvalid = errors.New("invalid catalog input")
	// ErrInvalidCatalog: a catalog file cannot be read, is not a catalog
	// of this APIVersion, or holds a value Validate, or a Requirement of
	// its reader, refuses. The error names the file and the field.
	ErrInvalidCatalog = errors.New("invalid catalog")
	// ErrMismatch: an image's own labels contradict the name it is
	// published under, or its platforms disagree with each other.
	ErrMismatch = errors.New("image labels do not match its name")
)
