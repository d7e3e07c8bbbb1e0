package sigtest

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"fmt"
	"io"
	"net/http"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/sigstore-go/pkg/sign"
)

// tsaTransport answers RFC 3161 timestamp requests in process, signed by
// the instance's TSA leaf: sign.TimestampAuthority posts to it without a socket.
type tsaTransport struct{ s *Sigstore }

func (t tsaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	req, err := timestamp.ParseRequest(body)
	if err != nil {
		return nil, fmt.Errorf("sigtest: TSA request: %w", err)
	}
	ts := timestamp.Timestamp{
		HashAlgorithm: req.HashAlgorithm,
		HashedMessage: req.HashedMessage,
		Time:          t.s.now(),
		Nonce:         req.Nonce,
		Policy:        asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2},
	}
	resp, err := ts.CreateResponseWithOpts(t.s.tsaLeaf, t.s.tsaKey, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sigtest: TSA response: %w", err)
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": []string{"application/timestamp-reply"}},
		Body:       io.NopCloser(bytes.NewReader(resp)),
		Request:    r,
	}, nil
}

// TSAURL is the timestamp authority's URL, for TSATransport.
const TSAURL = "https://tsa.sigtest.invalid/api/v1/timestamp"

// TSATransport answers the RFC 3161 requests a sign.TimestampAuthority
// posts to TSAURL.
func (s *Sigstore) TSATransport() http.RoundTripper { return tsaTransport{s} }

func (s *Sigstore) timestampAuthority() *sign.TimestampAuthority {
	return sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: TSAURL, Transport: tsaTransport{s}})
}
