package closure

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Graph is the closure graph nix/lib writes as closure.json (schema
// GraphSchema). Nix fills Closure from exportReferencesGraph; the other
// fields are attributes of the graph derivation. Unknown fields (builder,
// outputs, ...) are ignored.
type Graph struct {
	Schema      string         `json:"schema"`
	System      string         `json:"system"`
	Name        string         `json:"name"`
	Tier        string         `json:"tier"`
	Root        string         `json:"root"`
	Runtime     GraphPackage   `json:"runtime"`
	Packages    []GraphPackage `json:"packages"`
	Permissions []Permission   `json:"permissions"`
	Closure     []GraphNode    `json:"closure"`
}

// GraphPackage is a package nix/lib placed deliberately.
type GraphPackage struct {
	Path    string `json:"path"`
	Pname   string `json:"pname"`
	Version string `json:"version"`
	Role    string `json:"role,omitempty"`
}

// GraphNode is one entry of exportReferencesGraph: NarHash is
// "sha256:<nix32>".
type GraphNode struct {
	Path        string   `json:"path"`
	NarHash     string   `json:"narHash"`
	NarSize     int64    `json:"narSize"`
	ClosureSize int64    `json:"closureSize,omitempty"`
	References  []string `json:"references"`
}

// ParseGraph decodes closure.json and checks its schema.
func ParseGraph(data []byte) (*Graph, error) {
	var g Graph
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGraph, err)
	}
	if g.Schema != GraphSchema {
		return nil, fmt.Errorf("%w: schema is %q, want %q", ErrGraph, g.Schema, GraphSchema)
	}
	if len(g.Closure) == 0 {
		return nil, fmt.Errorf("%w: field closure is empty", ErrGraph)
	}
	return &g, nil
}

// archOf maps a Nix system to an OCI architecture.
func archOf(system string) (string, error) {
	switch system {
	case "x86_64-linux":
		return "amd64", nil
	case "aarch64-linux":
		return "arm64", nil
	}
	return "", fmt.Errorf("unsupported system %q (want x86_64-linux or aarch64-linux)", system)
}

// Manifest converts the graph into a validated closure manifest for the
// runtime id (the fleet's name, e.g. "python") and the installable that
// produced it. Package names come from the graph's packages, otherwise from
// the store path name.
func (g *Graph) Manifest(runtime, installable string) (*Manifest, error) {
	arch, err := archOf(g.System)
	if err != nil {
		return nil, fmt.Errorf("%w: field system: %v", ErrGraph, err)
	}
	known := map[string]GraphPackage{}
	for _, p := range g.Packages {
		known[p.Path] = p
	}
	m := &Manifest{
		Schema:      ManifestSchema,
		Runtime:     runtime,
		Tier:        g.Tier,
		Arch:        arch,
		System:      g.System,
		Installable: installable,
		Root:        g.Root,
		RuntimePath: g.Runtime.Path,
		Permissions: append([]Permission(nil), g.Permissions...),
	}
	for _, n := range g.Closure {
		sri, err := SRIHash(n.NarHash)
		if err != nil {
			return nil, fmt.Errorf("%w: closure entry %s: narHash: %w", ErrGraph, n.Path, err)
		}
		sp := StorePath{Path: n.Path, NarHash: sri, NarSize: n.NarSize, References: append([]string{}, n.References...)}
		sort.Strings(sp.References)
		if p, ok := known[n.Path]; ok && p.Pname != "" {
			sp.Pname, sp.Version, sp.Role = p.Pname, p.Version, p.Role
		} else {
			sp.Pname, sp.Version = ParseStorePathName(n.Path)
			sp.Role = p.Role
		}
		m.Paths = append(m.Paths, sp)
		m.ClosureSize += n.NarSize
	}
	sort.Slice(m.Paths, func(i, j int) bool { return m.Paths[i].Path < m.Paths[j].Path })
	m.PruningCandidates = PruningCandidates(m)
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}
