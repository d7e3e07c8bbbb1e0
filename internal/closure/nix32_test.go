package closure

import (
	"encoding/hex"
	"errors"
	"testing"
)

// Vectors from `nix hash to-base16/to-base64 --type sha256`.
func TestDecodeNix32(t *testing.T) {
	got, err := DecodeNix32("1r8b1s4ckh8czs072jn7m8663qn3zhi0hmp4i9c08nkkbr6wpyb8")
	if err != nil {
		t.Fatal(err)
	}
	if want := "68f9cb4d5e735a04588ae4560822fcc3e2610caac74a7180fe0cc1c9880e0be5"; hex.EncodeToString(got) != want {
		t.Fatalf("got %x, want %s", got, want)
	}
	// A store path hash is 20 bytes, 32 characters.
	if b, err := DecodeNix32("3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc"); err != nil || len(b) != 20 {
		t.Fatalf("store hash: %x %v", b, err)
	}
}

func TestDecodeNix32Errors(t *testing.T) {
	for _, s := range []string{
		"",
		"1r8b1s4ckh8czs072jn7m8663qn3zhi0hmp4i9c08nkkbr6wpyb",  // 51 chars: not a whole number of bytes
		"1r8b1s4ckh8czs072jn7m8663qn3zhi0hmp4i9c08nkkbr6wpybe", // 'e' is not a digit
		"zr8b1s4ckh8czs072jn7m8663qn3zhi0hmp4i9c08nkkbr6wpyb8", // first digit overflows 256 bits
	} {
		if _, err := DecodeNix32(s); !errors.Is(err, ErrNarHash) {
			t.Errorf("DecodeNix32(%q) = %v, want ErrNarHash", s, err)
		}
	}
}

func TestSRIHash(t *testing.T) {
	const sri = "sha256-aPnLTV5zWgRYiuRWCCL8w+JhDKrHSnGA/gzByYgOC+U="
	for _, in := range []string{
		"sha256:1r8b1s4ckh8czs072jn7m8663qn3zhi0hmp4i9c08nkkbr6wpyb8",
		"sha256:68f9cb4d5e735a04588ae4560822fcc3e2610caac74a7180fe0cc1c9880e0be5",
		sri,
	} {
		got, err := SRIHash(in)
		if err != nil || got != sri {
			t.Errorf("SRIHash(%q) = %q, %v; want %q", in, got, err, sri)
		}
	}
	if got, _ := SRIHash("sha256:0026zfjyd1f1pljq20cwmn49n1h0q740014q0g2x4y7fjhnl48cm"); got != "sha256-lSFCLZTueNLFA5gEAMjBAAabiK2cAYElvcGF5qX7RgA=" {
		t.Errorf("second vector: %q", got)
	}
	for _, bad := range []string{"md5:abc", "sha256:xyz", "sha256-notbase64!", "sha256-AAAA", "sha256:zz9cb4d5e735a04588ae4560822fcc3e2610caac74a7180fe0cc1c9880e0be5"} {
		if _, err := SRIHash(bad); !errors.Is(err, ErrNarHash) {
			t.Errorf("SRIHash(%q) = %v, want ErrNarHash", bad, err)
		}
	}
}
