package vexdoc

import (
	"errors"

	"github.com/clearcutt/clearcutt/internal/outcome"
)

// Refusals of Create and List, besides ErrInvalid. Each is wrapped in an
// outcome.UsageError: the same input is refused the same way.
var (
	// ErrNotInFleet: a product or an --image names no image of the fleet.
	ErrNotInFleet = errors.New("not an image of the fleet")
	// ErrNoAuthor: a new document needs an author.
	ErrNoAuthor = errors.New("no author for a new document")
	// ErrOtherAuthor: the document is authored by someone else, or gives
	// its author another role.
	ErrOtherAuthor = errors.New("the document has another author")
	// ErrNotJSONFile: the target file is not a *.json file, which
	// clearcutt scan would not read.
	ErrNotJSONFile = errors.New("not a *.json file")
)

// refusal reads as err and matches both err's chain and kind's.
type refusal struct{ err, kind error }

func (r refusal) Error() string   { return r.err.Error() }
func (r refusal) Unwrap() []error { return []error{r.err, r.kind} }

// refuse is err, marked as kind, as a usage error.
func refuse(kind, err error) error { return outcome.Usage(refusal{err: err, kind: kind}) }
