package closure

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// nix32Alphabet is Nix's base-32 alphabet (no e, o, u, t).
const nix32Alphabet = "0123456789abcdfghijklmnpqrsvwxyz"

// DecodeNix32 decodes Nix's base-32 encoding (as in store paths and in
// "sha256:<nix32>" hashes). Nix writes the least significant 5-bit group
// last, so the string is read from its end.
func DecodeNix32(s string) ([]byte, error) {
	n := len(s) * 5 / 8
	if n == 0 || (n*8-1)/5+1 != len(s) {
		return nil, fmt.Errorf("%w: nix32 string of length %d", ErrNarHash, len(s))
	}
	out := make([]byte, n)
	for k := 0; k < len(s); k++ {
		d := strings.IndexByte(nix32Alphabet, s[k])
		if d < 0 {
			return nil, fmt.Errorf("%w: %q is not a nix32 digit", ErrNarHash, s[k])
		}
		b := uint(len(s)-1-k) * 5
		i, j := b/8, b%8
		out[i] |= byte(d << j)
		carry := byte(d >> (8 - j))
		if i+1 < uint(n) {
			out[i+1] |= carry
		} else if carry != 0 {
			return nil, fmt.Errorf("%w: nix32 string %q overflows %d bytes", ErrNarHash, s, n)
		}
	}
	return out, nil
}

// SRIHash converts "sha256:<nix32>" (or base16) as written in .attrs.json
// into the SRI form "sha256-<base64>". SRI input is returned unchanged after
// its length is checked.
func SRIHash(h string) (string, error) {
	if rest, ok := strings.CutPrefix(h, "sha256-"); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(b) != 32 {
			return "", fmt.Errorf("%w: %q", ErrNarHash, h)
		}
		return h, nil
	}
	rest, ok := strings.CutPrefix(h, "sha256:")
	if !ok {
		return "", fmt.Errorf("%w: %q is not a sha256 hash", ErrNarHash, h)
	}
	var digest []byte
	switch len(rest) {
	case 52:
		b, err := DecodeNix32(rest)
		if err != nil {
			return "", fmt.Errorf("%q: %w", h, err)
		}
		digest = b
	case 64:
		b, err := hex.DecodeString(rest)
		if err != nil {
			return "", fmt.Errorf("%w: %q", ErrNarHash, h)
		}
		digest = b
	default:
		return "", fmt.Errorf("%w: %q has %d digits", ErrNarHash, h, len(rest))
	}
	return "sha256-" + base64.StdEncoding.EncodeToString(digest), nil
}
