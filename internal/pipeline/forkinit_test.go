package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/scan"
)

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// snapshot is every file under dir, by path relative to dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = readString(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestForkInit: fleet init rewrites the five fields of the example fleet
// and nothing else of the file, empties exceptions.yaml under its header,
// moves vex/ to vex/upstream/, leaves a fleet that validates without
// warnings, and a second run changes nothing.
func TestForkInit(t *testing.T) {
	dir := forkCopy(t)
	path := filepath.Join(dir, "clearcutt.yaml")
	before := readString(t, path)
	rep, err := ForkInit(ForkOptions{FleetPath: path, Repository: "Acme/base-images"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"metadata.name":       "base-images",
		"metadata.source":     "https://github.com/Acme/base-images",
		"registry.repository": "ghcr.io/acme/base-images",
		"identity.repository": "Acme/base-images",
	}
	if len(rep.Fields) != len(want) {
		t.Errorf("fields: %+v", rep.Fields)
	}
	for _, c := range rep.Fields {
		if want[c.Field] != c.To || c.From == "" {
			t.Errorf("field %+v, want to %q", c, want[c.Field])
		}
	}
	after := readString(t, path)
	expect := before
	for _, r := range [][2]string{
		{"name: clearcutt-example", "name: base-images"},
		{"source: https://github.com/clearcutt/clearcutt", "source: https://github.com/Acme/base-images"},
		{"repository: ghcr.io/clearcutt/fleet", "repository: ghcr.io/acme/base-images"},
		{"repository: clearcutt/clearcutt", "repository: Acme/base-images"},
	} {
		expect = strings.Replace(expect, r[0], r[1], 1)
	}
	if after != expect {
		t.Errorf("the fleet file changed beyond its five fields:\n%s", after)
	}
	f, err := fleet.Load(path)
	if err != nil {
		t.Fatalf("the rewritten fleet file: %v", err)
	}
	if ws := UpstreamDecisions(f); len(ws) != 0 {
		t.Errorf("warnings after fleet init: %v", ws)
	}

	exc := readString(t, filepath.Join(dir, "exceptions.yaml"))
	if !strings.HasPrefix(exc, "# Vulnerability exceptions for the fleet") || !strings.HasSuffix(exc, "exceptions: []\n") {
		t.Errorf("exceptions.yaml:\n%s", exc)
	}
	if x, err := scan.LoadExceptions(filepath.Join(dir, "exceptions.yaml")); err != nil || len(x.Exceptions) != 0 {
		t.Errorf("exceptions.yaml: %v, %v", x, err)
	}
	if !rep.ExceptionsWritten || len(rep.Removed) != 1 || rep.Removed[0].ID != "CVE-2023-45853" {
		t.Errorf("removed exceptions: %+v", rep.Removed)
	}
	moved := filepath.Join(dir, "vex", "upstream", "glibc-cve-2023-4911.openvex.json")
	if len(rep.VEX) != 1 || rep.VEX[0].To != moved {
		t.Errorf("vex: %+v", rep.VEX)
	}
	if _, err := os.Stat(moved); err != nil {
		t.Error(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "vex", "*.json")); len(left) != 0 {
		t.Errorf("left in vex/: %v", left)
	}
	if rep.Checklist == "" || len(rep.NextSteps) == 0 {
		t.Errorf("no checklist or next steps: %+v", rep)
	}

	// Again: the same files, nothing reported.
	files := snapshot(t, dir)
	rep, err = ForkInit(ForkOptions{FleetPath: path, Repository: "Acme/base-images"})
	if err != nil || rep.Changed() || len(rep.Removed) != 0 {
		t.Fatalf("second run: %+v, %v", rep, err)
	}
	again := snapshot(t, dir)
	if len(again) != len(files) {
		t.Errorf("second run: files %v, were %v", again, files)
	}
	for p, s := range files {
		if again[p] != s {
			t.Errorf("second run changed %s", p)
		}
	}
}

// TestForkInitOptions: --registry, --ref and --name are written as given;
// a missing metadata.source is added under metadata; an exceptions file
// that was absent is written with the default header.
func TestForkInitOptions(t *testing.T) {
	dir := forkCopy(t, "  source: https://github.com/clearcutt/clearcutt\n", "")
	path := filepath.Join(dir, "clearcutt.yaml")
	if err := os.Remove(filepath.Join(dir, "exceptions.yaml")); err != nil {
		t.Fatal(err)
	}
	rep, err := ForkInit(ForkOptions{FleetPath: path, Repository: "acme/x", Registry: "registry.acme.example/base", Ref: "refs/heads/release", Name: "acme-fleet"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := fleet.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata.Source != "https://github.com/acme/x" || f.Registry.Repository != "registry.acme.example/base" ||
		f.Identity.Ref != "refs/heads/release" || f.Metadata.Name != "acme-fleet" || f.Identity.Repository != "acme/x" {
		t.Errorf("fleet: %+v %+v %+v", f.Metadata, f.Registry, f.Identity)
	}
	if !strings.Contains(readString(t, path), "  description: Example hardened base-image fleet\n  source: https://github.com/acme/x\n") {
		t.Errorf("metadata.source not inserted after description:\n%s", readString(t, path))
	}
	if !rep.ExceptionsWritten || !strings.HasPrefix(readString(t, filepath.Join(dir, "exceptions.yaml")), defaultExceptionsHeader) {
		t.Errorf("exceptions: %+v", rep)
	}
}

// TestForkInitRefuses: bad options, an invalid or missing fleet file, a
// setting that would make the file invalid and a different document in
// vex/upstream/ are usage errors, and nothing is written.
func TestForkInitRefuses(t *testing.T) {
	dir := forkCopy(t)
	path := filepath.Join(dir, "clearcutt.yaml")
	conflict := filepath.Join(dir, "vex", "upstream", "glibc-cve-2023-4911.openvex.json")
	for _, c := range []struct {
		name  string
		o     ForkOptions
		setup func()
		want  string
	}{
		{"repository", ForkOptions{FleetPath: path, Repository: "acme"}, nil, "--repository must be owner/name"},
		{"missing", ForkOptions{FleetPath: filepath.Join(dir, "absent.yaml"), Repository: "acme/x"}, nil, "reading fleet file"},
		{"ref", ForkOptions{FleetPath: path, Repository: "acme/x", Ref: "main"}, nil, "identity.ref"},
		{"registry", ForkOptions{FleetPath: path, Repository: "acme/x", Registry: "ghcr.io/Acme/*"}, nil, "registry.repository"},
		{"vex-upstream", ForkOptions{FleetPath: path, Repository: "acme/x"}, func() {
			if err := os.MkdirAll(filepath.Dir(conflict), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(conflict, []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "exists and differs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				c.setup()
			}
			files := snapshot(t, dir)
			_, err := ForkInit(c.o)
			var ue outcome.UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a usage error with %q", err, c.want)
			}
			if again := snapshot(t, dir); len(again) != len(files) {
				t.Errorf("files written: %v", again)
			} else {
				for p, s := range files {
					if again[p] != s {
						t.Errorf("%s changed", p)
					}
				}
			}
		})
	}
}

// TestForkInitUndoes: when the last write (the fleet file) fails, the VEX
// documents are moved back and exceptions.yaml is restored; an invalid
// fleet file is refused before anything is written.
func TestForkInitUndoes(t *testing.T) {
	dir := forkCopy(t)
	path := filepath.Join(dir, "clearcutt.yaml")
	files := snapshot(t, dir)
	defer func(w func(string, []byte, os.FileMode) error) { forkWrite = w }(forkWrite)
	write := forkWrite
	forkWrite = func(p string, data []byte, perm os.FileMode) error {
		if p == path {
			return errors.New("disk full")
		}
		return write(p, data, perm)
	}
	if _, err := ForkInit(ForkOptions{FleetPath: path, Repository: "acme/x"}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want disk full", err)
	}
	again := snapshot(t, dir)
	if len(again) != len(files) {
		t.Errorf("after the failed run: %v, were %v", again, files)
	}
	for p, s := range files {
		if again[p] != s {
			t.Errorf("%s not restored", p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "vex", "upstream")); err == nil {
		t.Error("vex/upstream/ left behind")
	}

	bad := filepath.Join(t.TempDir(), "clearcutt.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: clearcutt.dev/v1alpha1\nkind: Fleet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var ue outcome.UsageError
	if _, err := ForkInit(ForkOptions{FleetPath: bad, Repository: "acme/x"}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "must be valid before") {
		t.Errorf("invalid fleet file: %v", err)
	}
}
