package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/fleet"
)

// forkCopy copies the example fleet's clearcutt.yaml, exceptions.yaml and
// vex/ into a temporary directory, with replace applied to clearcutt.yaml
// (old, new pairs), and returns the directory.
func forkCopy(t *testing.T, replace ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"clearcutt.yaml", "exceptions.yaml"} {
		b, err := os.ReadFile(filepath.Join("../..", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "clearcutt.yaml" {
			for i := 0; i+1 < len(replace); i += 2 {
				if !strings.Contains(string(b), replace[i]) {
					t.Fatalf("clearcutt.yaml lacks %q", replace[i])
				}
				b = []byte(strings.Replace(string(b), replace[i], replace[i+1], 1))
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vex, err := filepath.Glob("../../vex/*.json")
	if err != nil || len(vex) == 0 {
		t.Fatalf("no vex documents in ../../vex: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "vex"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range vex {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "vex", filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestUpstreamMark(t *testing.T) {
	for s, want := range map[string]string{
		"platform-security@clearcutt.dev":                       UpstreamDomain,
		"ClearCutt platform security <security@clearcutt.dev>":  UpstreamDomain,
		"ops@eu.clearcutt.dev.":                                 UpstreamDomain,
		"https://github.com/clearcutt":                          "the GitHub organisation clearcutt",
		"@clearcutt/security":                                   "the GitHub organisation clearcutt",
		"team (@clearcutt)":                                     "the GitHub organisation clearcutt",
		"security@acme.example":                                 "",
		"security@notclearcutt.dev":                             "",
		"security@clearcutt.dev.acme.example":                   "",
		"https://github.com/clearcutt-fan/x":                    "",
		"Acme security <security@acme.example> (was clearcutt)": "",
	} {
		if got := upstreamMark(s); got != want {
			t.Errorf("upstreamMark(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestUpstreamDecisions: a fork that kept upstream's exceptions.yaml and
// vex/ is warned about each exception owner and VEX author of the
// upstream project, at its file, line and entry; upstream's own fleet is
// not, nor a fork whose decisions are its own.
func TestUpstreamDecisions(t *testing.T) {
	load := func(dir string) *fleet.File {
		t.Helper()
		f, err := fleet.Load(filepath.Join(dir, "clearcutt.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if ws := UpstreamDecisions(load(forkCopy(t))); len(ws) != 0 {
		t.Errorf("upstream's own fleet: %v", ws)
	}

	dir := forkCopy(t, "repository: clearcutt/clearcutt", "repository: acme/base-images")
	ws := UpstreamDecisions(load(dir))
	if len(ws) != 2 {
		t.Fatalf("want an exception and a VEX warning, got %v", ws)
	}
	exc, vex := ws[0], ws[1]
	if exc.File != filepath.Join(dir, "exceptions.yaml") || exc.Line == 0 || exc.Field != "exceptions[0].owner" ||
		!strings.Contains(exc.Message, "CVE-2023-45853 in zlib: owner platform-security@clearcutt.dev is the upstream project's (clearcutt.dev), not this fleet's (acme/base-images)") {
		t.Errorf("exception warning: %+v", exc)
	}
	if !strings.HasPrefix(vex.File, filepath.Join(dir, "vex")+"/") || vex.Line == 0 || vex.Field != "author" ||
		!strings.Contains(vex.Message, `"ClearCutt platform security <security@clearcutt.dev>" is the upstream project's`) ||
		!strings.Contains(vex.Message, "CVE-2023-4911") {
		t.Errorf("VEX warning: %+v", vex)
	}
	if s := exc.String(); !strings.HasPrefix(s, exc.File+":") || !strings.Contains(s, ": exceptions[0].owner: CVE-2023-45853 in zlib: owner ") {
		t.Errorf("String() = %q", s)
	}

	// The fork's own decisions are not warned about.
	exceptions := filepath.Join(dir, "exceptions.yaml")
	b, err := os.ReadFile(exceptions)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exceptions, []byte(strings.ReplaceAll(string(b), "platform-security@clearcutt.dev", "security@acme.example")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "vex")); err != nil {
		t.Fatal(err)
	}
	if ws := UpstreamDecisions(load(dir)); len(ws) != 0 {
		t.Errorf("the fork's own decisions: %v", ws)
	}

	// An exceptions file that cannot be read is a warning: nothing in it
	// was checked.
	if err := os.WriteFile(exceptions, []byte("apiVersion: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ws := UpstreamDecisions(load(dir)); len(ws) != 1 || ws[0].File != exceptions || !strings.Contains(ws[0].Message, "not checked") {
		t.Errorf("unreadable exceptions: %v", ws)
	}
}
