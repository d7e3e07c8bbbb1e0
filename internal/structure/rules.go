package structure

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Policy says whether a class of tools must be absent, may be present or
// must be present in a tier.
type Policy string

// Policies.
const (
	Forbidden Policy = "forbidden"
	Allowed   Policy = "allowed"
	Required  Policy = "required"
)

// TierRules are the invariants of one tier. They come from the fleet
// configuration; their canonical JSON is recorded (by digest) in the
// test-result statement so a verifier knows which rules were applied.
type TierRules struct {
	// Shell: forbidden → check no-shell; required → check shell-present;
	// allowed → no check.
	Shell Policy `json:"shell"`
	// PackageManager: forbidden → check no-package-manager.
	PackageManager Policy `json:"packageManager"`
	// Coreutils: forbidden → check no-coreutils.
	Coreutils Policy `json:"coreutils"`
	// Symbols governs the stripped check: forbidden fails on ELF files
	// that keep debug information or source file names, allowed reports
	// them as a warning. A symbol table alone is allowed in every tier:
	// nixpkgs strips with -S, which keeps it. Empty means forbidden
	// when Shell is forbidden (distroless: nothing in the image can use
	// symbols, they only help an attacker and cost bytes) and allowed
	// otherwise (slim, dev).
	Symbols Policy `json:"symbols"`
	// Deployable tiers are meant for production; dev is not.
	Deployable bool `json:"deployable"`
	// CredentialHelper: true requires clearcutt-credential-helper in the
	// image, false forbids it. Only non-deployable tiers may carry it.
	CredentialHelper bool `json:"credentialHelper"`
}

// normalized fills defaults and validates every field.
func (r TierRules) normalized() (TierRules, error) {
	if r.Symbols == "" {
		r.Symbols = Allowed
		if r.Shell == Forbidden {
			r.Symbols = Forbidden
		}
	}
	for _, f := range []struct {
		name string
		p    Policy
		ok   []Policy
	}{
		{"shell", r.Shell, []Policy{Forbidden, Allowed, Required}},
		{"packageManager", r.PackageManager, []Policy{Forbidden, Allowed, Required}},
		{"coreutils", r.Coreutils, []Policy{Forbidden, Allowed, Required}},
		{"symbols", r.Symbols, []Policy{Forbidden, Allowed}},
	} {
		if !contains(f.ok, f.p) {
			return r, fmt.Errorf("%w: tier rule %s = %q, want one of %v", ErrInvalidOptions, f.name, f.p, f.ok)
		}
	}
	if r.CredentialHelper && r.Deployable {
		return r, fmt.Errorf("%w: tier rules: credentialHelper is only allowed in a non-deployable tier", ErrInvalidOptions)
	}
	return r, nil
}

// CanonicalJSON is the JSON encoding of the rules with fields in declaration
// order and no insignificant whitespace; its SHA-256 names the rules in the
// statement's configuration.
func (r TierRules) CanonicalJSON() []byte {
	b, err := json.Marshal(r)
	if err != nil { // cannot happen: only strings and bools
		panic(err)
	}
	return b
}

// Digest is the hex SHA-256 of CanonicalJSON.
func (r TierRules) Digest() string {
	sum := sha256.Sum256(r.CanonicalJSON())
	return hex.EncodeToString(sum[:])
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
