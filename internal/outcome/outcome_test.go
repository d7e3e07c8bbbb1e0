package outcome_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/clearcutt/clearcutt/internal/outcome"
)

func TestUsage(t *testing.T) {
	if outcome.Usage(nil) != nil {
		t.Error("Usage(nil) is not nil")
	}
	base := errors.New("--to: bad reference")
	err := fmt.Errorf("publish: %w", outcome.Usage(base))
	if !outcome.IsUsage(err) || !errors.Is(err, base) || err.Error() != "publish: --to: bad reference" {
		t.Errorf("wrapped usage error %v: IsUsage %v, Is(base) %v", err, outcome.IsUsage(err), errors.Is(err, base))
	}
	if outcome.IsUsage(fmt.Errorf("%w: tier tests", outcome.ErrGateFailed)) || outcome.IsUsage(base) {
		t.Error("IsUsage holds for errors that are not usage errors")
	}
}
