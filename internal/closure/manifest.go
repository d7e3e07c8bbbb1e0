// Package closure runs Nix for one matrix cell, reads the closure graph that
// nix/lib emits, and writes the closure manifest that the assemble stage
// consumes.
package closure

// GraphSchema is the schema identifier of the closure graph written by
// nix/lib (the JSON file `closure.json` in the graph derivation's output).
const GraphSchema = "clearcutt.dev/closure-graph/v1"

// ManifestSchema is the schema identifier of the closure manifest written by
// `clearcutt build`.
const ManifestSchema = "clearcutt.dev/closure-manifest/v1"

// Manifest describes one built cell (runtime × tier × architecture): the
// image root, every store path of its runtime closure, and the closure policy
// findings. It is the only input of the assemble stage besides the fleet.
type Manifest struct {
	Schema  string `json:"schema"`
	Runtime string `json:"runtime"`
	Tier    string `json:"tier"`
	// Arch is the OCI architecture (amd64, arm64); System the Nix system
	// (x86_64-linux, aarch64-linux).
	Arch   string `json:"arch"`
	System string `json:"system"`
	// Installable is the flake output that was built, e.g.
	// "path:/src/nix#legacyPackages.x86_64-linux.clearcutt.python.distroless".
	Installable string `json:"installable"`
	// Root is the store path whose contents become the image's top-level
	// directory (/etc, /bin, /tmp, ...). It is part of Paths as well.
	Root string `json:"root"`
	// RuntimePath is the store path of the runtime package itself.
	RuntimePath string `json:"runtimePath"`
	// Permissions are modes and owners applied to files under Root when the
	// image is assembled (the Nix store cannot hold them: /tmp 1777, ...).
	Permissions []Permission `json:"permissions,omitempty"`
	// Paths is the runtime closure of Root, sorted by store path.
	Paths []StorePath `json:"paths"`
	// PruningCandidates are optional-feature packages found in the closure.
	// They are reported, never removed.
	PruningCandidates []PruningCandidate `json:"pruningCandidates,omitempty"`
	// ClosureSize is the sum of NarSize over Paths.
	ClosureSize int64 `json:"closureSize"`
	// Scrub says what was removed from the runtime of a deployable tier
	// and why (nil: the runtime is carried as it is, as in dev).
	Scrub *Scrub `json:"scrub,omitempty"`
}

// StorePath is one node of the closure graph.
type StorePath struct {
	Path string `json:"path"`
	// NarHash is the SRI form, "sha256-<base64>".
	NarHash    string   `json:"narHash"`
	NarSize    int64    `json:"narSize"`
	References []string `json:"references"`
	Pname      string   `json:"pname,omitempty"`
	Version    string   `json:"version,omitempty"`
	// Role is set for packages nix/lib placed deliberately: runtime, cacert,
	// tool (slim/dev additions), credential-helper, root.
	Role string `json:"role,omitempty"`
}

// Permission sets the mode (octal string, e.g. "1777", "0644") and owner of
// a path relative to the image root.
type Permission struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

// PruningCandidate is a store path that exists for an optional feature.
type PruningCandidate struct {
	Path    string `json:"path"`
	Pname   string `json:"pname"`
	Feature string `json:"feature"` // fonts, printing, image-codecs, gui, ...
	NarSize int64  `json:"narSize"`
	// RequiredBy lists the store paths that reference it directly.
	RequiredBy []string `json:"requiredBy"`
}
