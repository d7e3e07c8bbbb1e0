package structure

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// checkCABundle: SSL_CERT_FILE is set in the config env and resolves,
// inside the image, to a non-empty regular file holding at least one PEM
// CERTIFICATE block that parses as X.509.
func checkCABundle(in *inputs) Check {
	const name = "SSL_CERT_FILE names a CA bundle"
	f := envValue(in.cfg.Config.Env, "SSL_CERT_FILE")
	if f == "" {
		return fail(IDCABundle, name, "SSL_CERT_FILE is not set in the config env")
	}
	e, rp, err := in.ix.resolve(f)
	if err != nil {
		return fail(IDCABundle, name, fmt.Sprintf("SSL_CERT_FILE=%s: %v", f, err), f)
	}
	if e.Type != typeFile || e.Size == 0 {
		return fail(IDCABundle, name, fmt.Sprintf("SSL_CERT_FILE=%s resolves to %s, which is not a non-empty regular file", f, rp), rp)
	}
	rest := e.Content
	blocks, parsed := 0, 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		blocks++
		if _, err := x509.ParseCertificate(b.Bytes); err == nil {
			parsed++
		}
	}
	if parsed == 0 {
		return fail(IDCABundle, name, fmt.Sprintf("%s holds %d PEM CERTIFICATE blocks, none parses as X.509", rp, blocks), rp)
	}
	return pass(IDCABundle, name, fmt.Sprintf("%s: %d certificates", rp, parsed))
}
