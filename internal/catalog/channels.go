package catalog

import (
	"github.com/clearcutt/clearcutt/internal/verify"
)

// Worst returns the worse of a and b, as clearcutt verify aggregates
// statuses: verified < not_applicable < pending < missing < failed. An
// unknown status ranks with failed; of two alike, a is returned.
func Worst(a, b Status) Status {
	return Status(verify.Worst(verify.Status(a), verify.Status(b)))
}

const indexArch = "index"

// channelOf copies one verify entry of channel cr.
func channelOf(cr verify.ChannelReport, e verify.Entry) ChannelStatus {
	return ChannelStatus{
		Channel:       string(cr.Channel),
		Status:        Status(e.Status),
		Required:      cr.Required,
		Reason:        e.Reason,
		Digest:        e.Digest,
		Signer:        e.Signer,
		Issuer:        e.Issuer,
		PredicateType: e.PredicateType,
		Source:        e.Source,
		SignedAt:      e.SignedAt,
		ScanTime:      e.ScanTime,
		DBBuiltAt:     e.DBBuiltAt,
	}
}

// imageChannels are the channel results of the whole index, one per
// channel in report order. The status is verify's aggregate over the
// index and every platform; the details are those of the entry that
// decided it (the first entry with that status — the index's own for the
// signature when it is as bad as any platform's — and, among equally
// ranked scans, the oldest one, which decides freshness). The reason of a
// platform entry names the platform.
func imageChannels(rep verify.Report) []ChannelStatus {
	out := make([]ChannelStatus, 0, len(rep.Channels))
	for _, cr := range rep.Channels {
		var decided *verify.Entry
		for i := range cr.Entries {
			e := &cr.Entries[i]
			if Status(e.Status) != Status(cr.Status) {
				continue
			}
			if decided == nil || cr.Channel == verify.ChannelVulnerabilities && olderScan(e, decided) {
				decided = e
			}
		}
		if decided == nil {
			out = append(out, ChannelStatus{Channel: string(cr.Channel), Status: Status(cr.Status), Required: cr.Required,
				Digest: rep.Digest, Reason: "the verification report holds no " + string(cr.Channel) + " entry"})
			continue
		}
		c := channelOf(cr, *decided)
		if decided.Arch != indexArch && c.Reason != "" {
			c.Reason = decided.Arch + ": " + c.Reason
		}
		out = append(out, c)
	}
	return out
}

func olderScan(a, b *verify.Entry) bool {
	return a.ScanTime != nil && (b.ScanTime == nil || a.ScanTime.Before(*b.ScanTime))
}

// platformChannels are the channel results about one platform digest, one
// per channel in report order; a channel whose evidence is about the index
// (provenance) repeats the index entry.
func platformChannels(rep verify.Report, digest string) []ChannelStatus {
	out := make([]ChannelStatus, 0, len(rep.Channels))
	for _, cr := range rep.Channels {
		e, ok := entryFor(cr, digest)
		if !ok {
			e, ok = entryFor(cr, rep.Digest)
		}
		if !ok {
			out = append(out, ChannelStatus{Channel: string(cr.Channel), Status: StatusMissing, Required: cr.Required,
				Digest: digest, Reason: "the verification report holds no " + string(cr.Channel) + " entry for " + digest})
			continue
		}
		out = append(out, channelOf(cr, e))
	}
	return out
}

func entryFor(cr verify.ChannelReport, digest string) (verify.Entry, bool) {
	for _, e := range cr.Entries {
		if e.Digest == digest {
			return e, true
		}
	}
	return verify.Entry{}, false
}

// imageStatus is verified when every required channel is, else the worst
// status among the required channels.
func imageStatus(rep verify.Report) Status {
	st := StatusVerified
	for _, cr := range rep.Channels {
		if cr.Required {
			st = Worst(st, Status(cr.Status))
		}
	}
	return st
}
