package verify

// Channel is one independently verified kind of evidence.
type Channel string

// Channels.
const (
	ChannelSignature       Channel = "signature"
	ChannelSBOM            Channel = "sbom"
	ChannelProvenance      Channel = "provenance"
	ChannelTests           Channel = "tests"
	ChannelVulnerabilities Channel = "vulnerabilities"
	ChannelVEX             Channel = "vex"
)

// AllChannels in report order.
func AllChannels() []Channel {
	return []Channel{ChannelSignature, ChannelSBOM, ChannelProvenance, ChannelTests, ChannelVulnerabilities, ChannelVEX}
}

func (c Channel) valid() bool {
	for _, k := range AllChannels() {
		if k == c {
			return true
		}
	}
	return false
}

// Predicate types of the evidence.
const (
	PredicateSignature  = "https://sigstore.dev/cosign/sign/v1"
	PredicateSBOM       = "https://spdx.dev/Document"
	PredicateTestResult = "https://in-toto.io/attestation/test-result/v0.1"
	PredicateVulns      = "https://in-toto.io/attestation/vulns/v0.2"
	PredicateVEX        = "https://openvex.dev/ns/v0.2.0"
	PredicateSLSAv02    = "https://slsa.dev/provenance/v0.2"
	PredicateSLSAv1     = "https://slsa.dev/provenance/v1"
	InTotoPayloadType   = "application/vnd.in-toto+json"
	BundleMediaType     = "application/vnd.dev.sigstore.bundle.v0.3+json"
	LegacyDSSEMediaType = "application/vnd.dsse.envelope.v1+json"
)

const (
	indexArch    = "index"
	sourceBundle = "bundle"
	sourceLegacy = "legacy"
)

// channelOf maps a predicate type to its channel ("" if none).
func channelOf(predicateType string) Channel {
	switch predicateType {
	case PredicateSignature:
		return ChannelSignature
	case PredicateSBOM:
		return ChannelSBOM
	case PredicateTestResult:
		return ChannelTests
	case PredicateVulns:
		return ChannelVulnerabilities
	case PredicateVEX:
		return ChannelVEX
	case PredicateSLSAv02, PredicateSLSAv1:
		return ChannelProvenance
	}
	return ""
}

// perIndex reports whether a channel's evidence is about the index digest
// (provenance) rather than each platform image. The signature channel is
// about both.
func perIndex(c Channel) bool { return c == ChannelProvenance }
