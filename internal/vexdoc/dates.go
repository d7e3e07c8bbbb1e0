package vexdoc

import (
	"fmt"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"

	"github.com/clearcutt/clearcutt/internal/fleet"
)

// ClockSkew is how far a timestamp may be ahead of now: the clocks of the
// machine that wrote a document and the one that reads it may disagree by
// that much. A later timestamp dates a statement in the future, which no
// one can have made yet.
const ClockSkew = 5 * time.Minute

// CheckOptions are what Check and CheckStatement check documents against.
type CheckOptions struct {
	// Images are the fleet's: an image product (pkg:oci/…) must name one
	// of them. Nil skips that rule.
	Images []fleet.Image
	// Now is the time no timestamp may be later than (by more than
	// ClockSkew); zero is the time of the call.
	Now time.Time
}

func (o CheckOptions) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// futureProblem is why t cannot date a document or statement read at now,
// "" when it can.
func futureProblem(t, now time.Time) string {
	if !t.After(now.Add(ClockSkew)) {
		return ""
	}
	return fmt.Sprintf("%s is in the future: later than now (%s) by more than the %s of clock skew allowed; a statement records what is known when it is made",
		t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ClockSkew)
}

// CheckDates reports every timestamp of doc later than now plus ClockSkew:
// the document's timestamp and last_updated, and each statement's. Each
// Problem's Field names the field (last_updated, statements[2].timestamp)
// and Statement the statement; File is unset.
func CheckDates(doc *openvex.VEX, now time.Time) Problems {
	var out Problems
	check := func(stmt *int, field string, t *time.Time) {
		if t == nil {
			return
		}
		if msg := futureProblem(*t, now); msg != "" {
			out = append(out, Problem{Statement: stmt, Field: field, Message: msg})
		}
	}
	check(nil, "timestamp", doc.Timestamp)
	check(nil, "last_updated", doc.LastUpdated)
	for i := range doc.Statements {
		st := &doc.Statements[i]
		check(ptr(i), fmt.Sprintf("statements[%d].timestamp", i), st.Timestamp)
		check(ptr(i), fmt.Sprintf("statements[%d].last_updated", i), st.LastUpdated)
	}
	return out
}
