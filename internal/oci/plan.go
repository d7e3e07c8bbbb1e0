package oci

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/clearcutt/clearcutt/internal/closure"
)

// DefaultLayerBudget is the number of layers an image gets when the caller
// gives no budget; MinLayerBudget is the smallest accepted budget (one store
// layer plus the root layer).
const (
	DefaultLayerBudget = 40
	MinLayerBudget     = 2
	maxBuckets         = 8
)

// LayerKind says what a planned layer holds.
type LayerKind string

// Layer kinds.
const (
	// KindStorePath is a layer holding exactly one store path.
	KindStorePath LayerKind = "store-path"
	// KindBucket is a layer holding the small store paths whose hash part
	// falls into one bucket.
	KindBucket LayerKind = "bucket"
	// KindRoot is the last layer: the contents of Manifest.Root at "/",
	// plus the /nix and /nix/store directories, with Permissions applied.
	KindRoot LayerKind = "root"
)

// PlannedLayer is one layer of a LayerPlan.
type PlannedLayer struct {
	Kind LayerKind
	// Paths are the store paths in the layer, sorted; for KindRoot it is
	// the single root path.
	Paths []closure.StorePath
	// Bucket is the bucket number of a KindBucket layer.
	Bucket int
}

// Describe is a short human-readable name of the layer, used in history
// entries and layer annotations.
func (l PlannedLayer) Describe() string {
	switch l.Kind {
	case KindStorePath:
		return l.Paths[0].Path
	case KindBucket:
		return fmt.Sprintf("bucket %d (%d store paths)", l.Bucket, len(l.Paths))
	default:
		return "root " + l.Paths[0].Path
	}
}

// LayerPlan is the ordered list of layers of one image.
type LayerPlan struct {
	Layers []PlannedLayer
	// Buckets is K, the number of hash buckets (0 when every store path
	// has its own layer).
	Buckets int
}

// PlanLayers assigns the store paths of m to at most budget layers.
//
//   - The root store path's contents form the last layer. The root path is
//     not copied under /nix/store unless another closure path references it.
//   - If the remaining store paths fit in budget-1 layers, each gets its own.
//   - Otherwise K = clamp(budget/4, 1, 8) layers are hash buckets and the
//     budget-1-K largest paths (NarSize, ties by path) get their own layers;
//     every other path goes to bucket hash(hash part) mod K, so adding a
//     small path changes exactly one bucket.
//   - Single-path layers come first in topological order of the closure
//     graph (dependencies first, ties by path), then the non-empty buckets
//     by number, then the root layer.
//
// A single-path layer depends only on that path, so it is byte-identical in
// every image, tier and rebuild that contains the path.
func PlanLayers(m *closure.Manifest, budget int) (LayerPlan, error) {
	if budget == 0 {
		budget = DefaultLayerBudget
	}
	if budget < MinLayerBudget {
		return LayerPlan{}, fmt.Errorf("layer budget %d is below the minimum %d", budget, MinLayerBudget)
	}
	if err := checkManifest(m); err != nil {
		return LayerPlan{}, err
	}
	var root closure.StorePath
	rootReferenced := false
	for _, p := range m.Paths {
		if p.Path == m.Root {
			root = p
			continue
		}
		for _, r := range p.References {
			if r == m.Root {
				rootReferenced = true
			}
		}
	}
	var store []closure.StorePath
	for _, p := range m.Paths {
		if p.Path != m.Root || rootReferenced {
			store = append(store, p)
		}
	}

	plan := LayerPlan{}
	singles := store
	var rest []closure.StorePath
	if len(store) > budget-1 {
		k := min(max(budget/4, 1), maxBuckets)
		plan.Buckets = k
		bySize := append([]closure.StorePath(nil), store...)
		sort.Slice(bySize, func(i, j int) bool {
			if bySize[i].NarSize != bySize[j].NarSize {
				return bySize[i].NarSize > bySize[j].NarSize
			}
			return bySize[i].Path < bySize[j].Path
		})
		n := budget - 1 - k
		singles, rest = bySize[:n], bySize[n:]
	}
	for _, p := range topoOrder(singles) {
		plan.Layers = append(plan.Layers, PlannedLayer{Kind: KindStorePath, Paths: []closure.StorePath{p}})
	}
	if plan.Buckets > 0 {
		buckets := make([][]closure.StorePath, plan.Buckets)
		for _, p := range rest {
			b := BucketOf(p.Path, plan.Buckets)
			buckets[b] = append(buckets[b], p)
		}
		for i, b := range buckets {
			if len(b) == 0 {
				continue
			}
			sort.Slice(b, func(x, y int) bool { return b[x].Path < b[y].Path })
			plan.Layers = append(plan.Layers, PlannedLayer{Kind: KindBucket, Bucket: i, Paths: b})
		}
	}
	plan.Layers = append(plan.Layers, PlannedLayer{Kind: KindRoot, Paths: []closure.StorePath{root}})
	return plan, nil
}

// BucketOf is the bucket of a store path among k buckets: the first 8 bytes
// of sha256 over the path's hash part (the 32 characters after the store
// directory), modulo k. It depends on nothing but the path.
func BucketOf(storePath string, k int) int {
	base := path.Base(storePath)
	hashPart, _, _ := strings.Cut(base, "-")
	sum := sha256.Sum256([]byte(hashPart))
	return int(binary.BigEndian.Uint64(sum[:8]) % uint64(k))
}

// topoOrder orders paths dependencies first; among paths whose dependencies
// are all placed, the smallest store path comes first. References outside
// the given set and self-references are ignored.
func topoOrder(paths []closure.StorePath) []closure.StorePath {
	in := map[string]closure.StorePath{}
	for _, p := range paths {
		in[p.Path] = p
	}
	pending := map[string]int{}
	dependents := map[string][]string{}
	for _, p := range paths {
		seen := map[string]bool{}
		for _, r := range p.References {
			if r == p.Path || seen[r] {
				continue
			}
			if _, ok := in[r]; !ok {
				continue
			}
			seen[r] = true
			pending[p.Path]++
			dependents[r] = append(dependents[r], p.Path)
		}
	}
	var ready []string
	for _, p := range paths {
		if pending[p.Path] == 0 {
			ready = append(ready, p.Path)
		}
	}
	out := make([]closure.StorePath, 0, len(paths))
	done := map[string]bool{}
	for len(out) < len(paths) {
		if len(ready) == 0 {
			// A cycle (not produced by Nix): place the smallest remaining path.
			for _, p := range sortedPaths(paths) {
				if !done[p] {
					ready = append(ready, p)
					break
				}
			}
		}
		sort.Strings(ready)
		next := ready[0]
		ready = ready[1:]
		if done[next] {
			continue
		}
		done[next] = true
		out = append(out, in[next])
		for _, d := range dependents[next] {
			pending[d]--
			if pending[d] == 0 && !done[d] {
				ready = append(ready, d)
			}
		}
	}
	return out
}

func sortedPaths(ps []closure.StorePath) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Path
	}
	sort.Strings(out)
	return out
}

// checkManifest validates the parts of m that the image depends on.
func checkManifest(m *closure.Manifest) error {
	if m == nil {
		return fmt.Errorf("%w: nil manifest", ErrBadManifest)
	}
	if m.Root == "" {
		return fmt.Errorf("%w: field root is empty", ErrBadManifest)
	}
	seen := map[string]bool{}
	hasRoot := false
	for i, p := range m.Paths {
		if p.Path == "" || !path.IsAbs(p.Path) || path.Clean(p.Path) != p.Path {
			return fmt.Errorf("%w: paths[%d].path %q is not a clean absolute store path", ErrBadManifest, i, p.Path)
		}
		if p.NarHash == "" {
			return fmt.Errorf("%w: paths[%d] (%s): narHash is empty", ErrBadManifest, i, p.Path)
		}
		if seen[p.Path] {
			return fmt.Errorf("%w: paths[%d]: %s listed twice", ErrBadManifest, i, p.Path)
		}
		seen[p.Path] = true
		if p.Path == m.Root {
			hasRoot = true
		}
	}
	if !hasRoot {
		return fmt.Errorf("%w: root %s is not in paths", ErrBadManifest, m.Root)
	}
	return nil
}
