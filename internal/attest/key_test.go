package attest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestKeyCreatedWithPrivatePermissions(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cfg", "clearcutt", "signing.key")
	if _, err := LoadOrCreateKey(p, false); !errors.Is(err, ErrNoKey) {
		t.Fatalf("missing key without create: %v", err)
	}
	s, err := LoadOrCreateKey(p, true)
	must(t, err)
	if !s.Created || s.PublicKeyPath() != p+".pub" {
		t.Fatalf("created=%v pub=%s", s.Created, s.PublicKeyPath())
	}
	for path, want := range map[string]os.FileMode{p: 0o600, filepath.Dir(p): 0o700 | os.ModeDir, p + ".pub": 0o644} {
		fi, err := os.Stat(path)
		must(t, err)
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	pubPEM, err := os.ReadFile(s.PublicKeyPath())
	must(t, err)
	pub, err := ParsePublicKeyPEM(pubPEM)
	must(t, err)
	again, err := LoadOrCreateKey(p, true)
	must(t, err)
	if again.Created {
		t.Error("an existing key was regenerated")
	}
	h1, _ := KeyHint(pub)
	if again.Hint() != s.Hint() || h1 != s.Hint() {
		t.Errorf("reloaded key differs: %s %s %s", again.Hint(), s.Hint(), h1)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestKeyReadableByOthersIsRefused(t *testing.T) {
	s := testKey(t)
	must(t, os.Chmod(s.Path(), 0o644))
	_, err := LoadOrCreateKey(s.Path(), true)
	if !errors.Is(err, ErrKeyPermissions) || !strings.Contains(err.Error(), s.Path()) || !strings.Contains(err.Error(), "0644") {
		t.Fatalf("got %v", err)
	}
	must(t, os.Chmod(s.Path(), 0o640))
	if _, err := LoadOrCreateKey(s.Path(), false); !errors.Is(err, ErrKeyPermissions) {
		t.Fatalf("0640: %v", err)
	}
}

func TestKeyNotPKCS8IsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	must(t, os.WriteFile(p, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), 0o600))
	if _, err := LoadOrCreateKey(p, false); !errors.Is(err, ErrBadKey) {
		t.Fatalf("got %v", err)
	}
}

func TestSignStatementVerifiesWithPublicKey(t *testing.T) {
	s := testKey(t)
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	st, err := SignatureStatement("example.com/fleet/python", d)
	must(t, err)
	b, err := SignStatement(context.Background(), s, st)
	must(t, err)
	pt, err := verifyKeyBundle(t, s, b, d)
	if err != nil || pt != PredicateSignature {
		t.Fatalf("verify: %v (predicate %q)", err, pt)
	}
	if logs, err := TransparencyOf(b); err != nil || len(logs) != 0 {
		t.Errorf("key bundle has log entries %v (%v)", logs, err)
	}
	// Another digest, another key: both refused.
	other := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}
	if _, err := verifyKeyBundle(t, s, b, other); err == nil {
		t.Error("bundle verified for another digest")
	}
	if _, err := verifyKeyBundle(t, testKey(t), b, d); err == nil {
		t.Error("bundle verified with another key")
	}
	// A tampered payload fails.
	tampered := strings.Replace(string(b), `"payload":"`, `"payload":"e`, 1)
	if _, err := verifyKeyBundle(t, s, []byte(tampered), d); err == nil {
		t.Error("tampered bundle verified")
	}
}

func TestSignStatementRefusesNonStatements(t *testing.T) {
	s := testKey(t)
	for _, in := range []string{`{}`, `{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}`, `not json`} {
		if _, err := SignStatement(context.Background(), s, []byte(in)); !errors.Is(err, ErrBadStatement) {
			t.Errorf("%s: %v", in, err)
		}
	}
}
