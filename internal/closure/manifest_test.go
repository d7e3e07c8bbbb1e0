package closure

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	hRoot   = "/nix/store/ajl93njjclwlvks33lzmw605vbjgiy7p-clearcutt-python-distroless-root"
	hPython = "/nix/store/8y0s1qhbh4sqf66nwvnxvyqv45xb7rrz-python3-3.11.2"
	hGlibc  = "/nix/store/3iwn8rxdhhzn1ihv0c1k9nqas0zj6fmc-glibc-2.36"
	hCacert = "/nix/store/hkxbcdrjzs759crlafzkjyylvwb7a09x-nss-cacert-20250419"
	hFont   = "/nix/store/yzjwq7riq6mz3aah3g3nnrdz33cvrn99-fontconfig-2.15.0"
	nixHash = "sha256:1r8b1s4ckh8czs072jn7m8663qn3zhi0hmp4i9c08nkkbr6wpyb8"
)

// sampleGraph is a closure.json as nix/lib writes it, with the extra
// attributes Nix adds (builder, outputs) that readers must ignore.
func sampleGraph() map[string]any {
	node := func(p string, refs ...string) map[string]any {
		if refs == nil {
			refs = []string{}
		}
		return map[string]any{"path": p, "narHash": nixHash, "narSize": 1000, "closureSize": 5000, "references": refs}
	}
	return map[string]any{
		"schema":  GraphSchema,
		"system":  "x86_64-linux",
		"name":    "clearcutt-python-distroless",
		"tier":    "distroless",
		"builder": "/nix/store/r1zifrz1lnvmwlmkvw4r8w3qmyl49n90-busybox-builder/busybox",
		"outputs": map[string]any{"out": "/nix/store/584x6ck7l24wk939k8hpls1503ma11gz-clearcutt-python-distroless"},
		"root":    hRoot,
		"runtime": map[string]any{"path": hPython, "pname": "python3", "version": "3.11.2"},
		"packages": []any{
			map[string]any{"path": hPython, "pname": "python3", "version": "3.11.2", "role": "runtime"},
			map[string]any{"path": hCacert, "pname": "nss-cacert", "version": "20250419", "role": "cacert"},
			map[string]any{"path": hRoot, "pname": "clearcutt-python-distroless-root", "version": "", "role": "root"},
		},
		"permissions": []any{
			map[string]any{"path": "tmp", "mode": "1777", "uid": 0, "gid": 0},
			map[string]any{"path": "home/nonroot", "mode": "0755", "uid": 65532, "gid": 65532},
		},
		"closure": []any{
			node(hRoot, hPython, hCacert),
			node(hPython, hGlibc, hFont),
			node(hGlibc),
			node(hCacert),
			node(hFont, hGlibc),
		},
	}
}

func sampleManifest(t *testing.T) *Manifest {
	t.Helper()
	data, err := json.Marshal(sampleGraph())
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGraph(data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := g.Manifest("python", "path:/src/nix#legacyPackages.x86_64-linux.clearcutt.python.distroless")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGraphManifest(t *testing.T) {
	m := sampleManifest(t)
	if m.Arch != "amd64" || m.Tier != "distroless" || m.Runtime != "python" || m.Root != hRoot || m.RuntimePath != hPython {
		t.Fatalf("header: %+v", m)
	}
	if m.ClosureSize != 5000 || len(m.Paths) != 5 {
		t.Fatalf("size %d, %d paths", m.ClosureSize, len(m.Paths))
	}
	for i := 1; i < len(m.Paths); i++ {
		if m.Paths[i-1].Path >= m.Paths[i].Path {
			t.Fatal("paths not sorted")
		}
	}
	by := map[string]StorePath{}
	for _, p := range m.Paths {
		by[p.Path] = p
		if p.NarHash != "sha256-aPnLTV5zWgRYiuRWCCL8w+JhDKrHSnGA/gzByYgOC+U=" {
			t.Errorf("%s: narHash %q", p.Path, p.NarHash)
		}
	}
	if p := by[hCacert]; p.Pname != "nss-cacert" || p.Role != "cacert" {
		t.Errorf("cacert: %+v", p)
	}
	if p := by[hGlibc]; p.Pname != "glibc" || p.Version != "2.36" || p.Role != "" {
		t.Errorf("glibc (parsed from the name): %+v", p)
	}
	if len(m.PruningCandidates) != 1 || m.PruningCandidates[0].Pname != "fontconfig" ||
		m.PruningCandidates[0].Feature != "fonts" || strings.Join(m.PruningCandidates[0].RequiredBy, ",") != hPython {
		t.Errorf("pruning candidates: %+v", m.PruningCandidates)
	}
}

func TestParseGraphErrors(t *testing.T) {
	for name, mutate := range map[string]func(g map[string]any){
		"schema":  func(g map[string]any) { g["schema"] = "clearcutt.dev/closure-graph/v0" },
		"empty":   func(g map[string]any) { g["closure"] = []any{} },
		"nothash": func(g map[string]any) { g["closure"].([]any)[2].(map[string]any)["narHash"] = "md5:00" },
		"system":  func(g map[string]any) { g["system"] = "riscv64-linux" },
	} {
		t.Run(name, func(t *testing.T) {
			g := sampleGraph()
			mutate(g)
			data, _ := json.Marshal(g)
			gr, err := ParseGraph(data)
			if err == nil {
				_, err = gr.Manifest("python", "x")
			}
			if !errors.Is(err, ErrGraph) {
				t.Fatalf("got %v, want ErrGraph", err)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	for _, c := range []struct {
		name, want string
		mutate     func(m *Manifest)
	}{
		{"dangling reference", "not in the closure", func(m *Manifest) {
			m.Paths[0].References = append(m.Paths[0].References, "/nix/store/5d15q742paa11jg60yb23rjaw7p0yp6x-zlib-1.2.13")
		}},
		{"root missing", "field root", func(m *Manifest) { m.Root = "/nix/store/5d15q742paa11jg60yb23rjaw7p0yp6x-zlib-1.2.13" }},
		{"runtime missing", "field runtimePath", func(m *Manifest) { m.RuntimePath = "" }},
		{"absolute permission", "is absolute", func(m *Manifest) { m.Permissions[0].Path = "/tmp" }},
		{"escaping permission", "escapes the image root", func(m *Manifest) { m.Permissions[0].Path = "../etc/shadow" }},
		{"unclean permission", "is not clean", func(m *Manifest) { m.Permissions[0].Path = "home/../etc" }},
		{"bad mode", "not an octal mode", func(m *Manifest) { m.Permissions[0].Mode = "rwx" }},
		{"not a store path", "is not a store path", func(m *Manifest) { m.Paths[0].Path = "/usr/lib" }},
		{"nix32 hash", "not an SRI", func(m *Manifest) { m.Paths[1].NarHash = nixHash }},
		{"schema", "schema", func(m *Manifest) { m.Schema = "v0" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := sampleManifest(t)
			c.mutate(m)
			err := m.Validate()
			if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrManifest mentioning %q", err, c.want)
			}
		})
	}
}

func TestManifestWriteRead(t *testing.T) {
	m := sampleManifest(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "python-distroless-amd64.json")
	if err := m.Write(p); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(m)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Fatalf("round trip differs:\n%s\n%s", a, b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}

	// An invalid manifest is refused and the existing file stays intact.
	m.Root = ""
	if err := m.Write(p); !errors.Is(err, ErrManifest) {
		t.Fatalf("Write(invalid) = %v", err)
	}
	if _, err := ReadManifest(p); err != nil {
		t.Fatalf("previous manifest damaged: %v", err)
	}

	// Unknown fields are errors.
	raw, _ := os.ReadFile(p)
	bad := strings.Replace(string(raw), `"schema"`, `"surprise": 1, "schema"`, 1)
	os.WriteFile(p, []byte(bad), 0o644)
	if _, err := ReadManifest(p); !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), p) {
		t.Fatalf("ReadManifest(unknown field) = %v", err)
	}
}

func TestPruningCandidatesPrefixAndExclusions(t *testing.T) {
	m := &Manifest{
		Root:        hRoot,
		RuntimePath: "/nix/store/8y0s1qhbh4sqf66nwvnxvyqv45xb7rrz-libX11-1.8.10",
		Paths: []StorePath{
			{Path: hRoot, Pname: "root", References: []string{"/nix/store/8y0s1qhbh4sqf66nwvnxvyqv45xb7rrz-libX11-1.8.10"}},
			{Path: "/nix/store/8y0s1qhbh4sqf66nwvnxvyqv45xb7rrz-libX11-1.8.10", Pname: "libX11"},
			{Path: "/nix/store/9y0s1qhbh4sqf66nwvnxvyqv45xb7rrz-libXext-1.3.6", Pname: "libXext", NarSize: 7},
			{Path: hGlibc, Pname: "glibc"},
		},
	}
	got := PruningCandidates(m)
	if len(got) != 1 || got[0].Pname != "libXext" || got[0].Feature != "gui" || got[0].NarSize != 7 || len(got[0].RequiredBy) != 0 {
		t.Fatalf("got %+v (the runtime itself is never a candidate)", got)
	}
}
