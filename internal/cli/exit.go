package cli

import (
	"errors"
	"strings"

	"github.com/clearcutt/clearcutt/internal/outcome"
)

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrGateFailed):
		return ExitFailed
	case outcome.IsUsage(err), isCobraUsage(err):
		return ExitUsage
	default:
		return ExitRuntime
	}
}

// isCobraUsage recognises the invocation errors cobra raises itself
// (argument counts, required flags, unknown commands), which carry no type.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"required flag(s)", "invalid argument ", "unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "if any flags in the group"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
