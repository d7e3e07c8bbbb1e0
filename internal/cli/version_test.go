package cli

import (
	"bytes"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionRendering(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/clearcutt/clearcutt", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	v := versionOf(bi)
	var out bytes.Buffer
	if err := renderVersion(&out, v, false); err != nil {
		t.Fatal(err)
	}
	if want := "clearcutt v1.4.0 (revision 0123456789abcdef0123456789abcdef01234567, modified) go1.26.8\n"; out.String() != want {
		t.Errorf("text: got %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := renderVersion(&out, v, true); err != nil {
		t.Fatal(err)
	}
	var got buildVersion
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("JSON %q: %v", out.String(), err)
	}
	if got != v || got.Module != "github.com/clearcutt/clearcutt" || !got.Modified || got.Revision == "" {
		t.Errorf("JSON round trip: got %+v, want %+v", got, v)
	}

	// Built from a checkout without VCS stamping; and no build information.
	dev := versionOf(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}})
	if s := dev.String(); s != "(devel) go1.26.8" {
		t.Errorf("devel: %q", s)
	}
	if s := versionOf(nil).String(); s != "unknown" {
		t.Errorf("no build info: %q", s)
	}
}

// --version and the version command print the running binary's version.
func TestVersionCommand(t *testing.T) {
	want := "clearcutt " + runningVersion().String() + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, errs := run(t, args...)
		if code != ExitOK || out != want {
			t.Errorf("%v: exit %d, out %q (want %q), stderr %q", args, code, out, want, errs)
		}
	}
	code, out, errs := run(t, "version", "--json")
	var v buildVersion
	if code != ExitOK || json.Unmarshal([]byte(out), &v) != nil || v.Go == "" || !strings.HasPrefix(v.Go, "go") {
		t.Errorf("version --json: exit %d, out %q, stderr %q", code, out, errs)
	}
}
