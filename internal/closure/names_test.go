package closure

import "testing"

func TestParseStorePathName(t *testing.T) {
	for _, c := range []struct{ in, pname, version string }{
		{"/nix/store/3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc-glibc-2.36", "glibc", "2.36"},
		{"/nix/store/3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc-python3-3.11.2", "python3", "3.11.2"},
		{"/nix/store/3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc-openssl-3.0.13-dev", "openssl", "3.0.13"},
		{"/nix/store/3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc-openjdk-headless-17.0.13+11", "openjdk-headless", "17.0.13+11"},
		{"/nix/store/3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc-libjpeg-turbo-3.0.4", "libjpeg-turbo", "3.0.4"},
		{"/nix/store/3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc-clearcutt-python-distroless-root", "clearcutt-python-distroless-root", ""},
		{"/nix/store/3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc-tzdata-2024b", "tzdata", "2024b"},
		{"/nix/store/3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc-source", "source", ""},
		{"gcc-wrapper-13.3.0", "gcc-wrapper", "13.3.0"},
	} {
		p, v := ParseStorePathName(c.in)
		if p != c.pname || v != c.version {
			t.Errorf("ParseStorePathName(%q) = %q, %q; want %q, %q", c.in, p, v, c.pname, c.version)
		}
	}
}

func TestCheckStorePath(t *testing.T) {
	if err := CheckStorePath("/nix/store/3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc-glibc-2.36"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{
		"nix/store/3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc-glibc-2.36",
		"/nix/store/3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc-glibc-2.36/lib",
		"/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-glibc",
		"/nix/store/short-glibc",
	} {
		if CheckStorePath(bad) == nil {
			t.Errorf("CheckStorePath(%q) accepted", bad)
		}
	}
}
