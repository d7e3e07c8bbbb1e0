// Package outcome classifies how a run ended, for the exit status and for
// the callers that decide whether to go on: a completed run whose result
// is a failure wraps ErrGateFailed (exit status 1); an error caused by the
// invocation or the input files is a UsageError (exit status 2); any other
// error means the run could not complete (exit status 3).
package outcome

import "errors"

// ErrGateFailed marks a completed run whose result is a failure: a gate or
// a check failed, or a change was refused.
var ErrGateFailed = errors.New("gate failed")

// UsageError marks an error caused by the invocation or the input files (a
// flag, the fleet file, a reference, a manifest): running again with the
// same input fails the same way.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usage wraps err as a UsageError (nil stays nil).
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return UsageError{err}
}

// IsUsage reports whether err is, or wraps, a UsageError.
func IsUsage(err error) bool {
	var ue UsageError
	return errors.As(err, &ue)
}
