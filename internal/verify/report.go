package verify

import (
	"encoding/json"
	"slices"
	"time"
)

// Status is the outcome of a channel or of one digest within it.
type Status string

// Statuses, from best to worst for aggregation: verified < not_applicable
// < pending < missing < failed.
const (
	StatusVerified      Status = "verified"
	StatusNotApplicable Status = "not_applicable"
	StatusPending       Status = "pending"
	StatusMissing       Status = "missing"
	StatusFailed        Status = "failed"
)

func (s Status) rank() int {
	switch s {
	case StatusVerified:
		return 0
	case StatusNotApplicable:
		return 1
	case StatusPending:
		return 2
	case StatusMissing:
		return 3
	default:
		return 4
	}
}

// Worst returns the worse of a and b in the aggregation order (a when they
// rank alike); an unknown status ranks with failed.
func Worst(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Exit codes for the CLI.
const (
	ExitPassed      = 0 // every required channel verified
	ExitFailed      = 1 // a required channel failed, is missing or pending
	ExitCouldNotRun = 3 // Run returned an error
)

// Entry is the outcome of one channel for one digest (the index, or one
// platform image).
type Entry struct {
	// Arch is os/arch[/variant] of a platform image, or "index".
	Arch   string `json:"arch"`
	Digest string `json:"digest"`
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Source is "bundle" (OCI referrer) or "legacy" (cosign .att or .sig tag).
	Source        string `json:"source,omitempty"`
	Signer        string `json:"signer,omitempty"`
	Issuer        string `json:"issuer,omitempty"`
	PredicateType string `json:"predicateType,omitempty"`
	// SignedAt is the verified signing time (transparency log or TSA);
	// zero in key mode.
	SignedAt *time.Time `json:"signedAt,omitempty"`
	// ScanTime and DBBuiltAt describe a vulnerability scan.
	ScanTime  *time.Time `json:"scanTime,omitempty"`
	DBBuiltAt *time.Time `json:"dbBuiltAt,omitempty"`
	// Rejected counts other evidence for this digest that failed verification.
	Rejected int `json:"rejected,omitempty"`
	// Err is the sentinel-wrapped cause of a non-verified status.
	Err error `json:"-"`
	// Predicate is the predicate of the signed statement the status was
	// decided on, as JSON (nil for plain signatures). It is set only from
	// evidence whose signature and identity verified, so consumers such as
	// the catalog read content nobody could have forged.
	Predicate json.RawMessage `json:"-"`
}

// ChannelReport is one evidence channel.
type ChannelReport struct {
	Channel  Channel `json:"channel"`
	Status   Status  `json:"status"`
	Required bool    `json:"required"`
	Entries  []Entry `json:"entries"`
}

// Report is the verification of one image index.
type Report struct {
	Image      string          `json:"image,omitempty"`
	Digest     string          `json:"digest"`
	VerifiedAt time.Time       `json:"verifiedAt"`
	KeyMode    bool            `json:"keyMode"`
	Channels   []ChannelReport `json:"channels"`
}

// Channel returns the report of channel c (zero value if absent).
func (r Report) Channel(c Channel) ChannelReport {
	for _, cr := range r.Channels {
		if cr.Channel == c {
			return cr
		}
	}
	return ChannelReport{Channel: c, Status: StatusMissing}
}

// Passed reports whether every channel in required (default: those marked
// Required) is verified.
func (r Report) Passed(required ...Channel) bool {
	if len(required) == 0 {
		for _, cr := range r.Channels {
			if cr.Required {
				required = append(required, cr.Channel)
			}
		}
	}
	for _, c := range required {
		if r.Channel(c).Status != StatusVerified {
			return false
		}
	}
	return true
}

// ExitCode is ExitPassed or ExitFailed for the required channels.
func (r Report) ExitCode() int {
	if r.Passed() {
		return ExitPassed
	}
	return ExitFailed
}

func aggregate(c Channel, required bool, entries []Entry) ChannelReport {
	cr := ChannelReport{Channel: c, Required: required, Entries: entries, Status: StatusVerified}
	if len(entries) == 0 {
		cr.Status = StatusMissing
	}
	for _, e := range entries {
		cr.Status = Worst(cr.Status, e.Status)
	}
	return cr
}

func isRequired(p Policy, c Channel) bool { return slices.Contains(p.required(), c) }
