package oci

import (
	"fmt"
	"testing"

	"github.com/clearcutt/clearcutt/internal/closure"
)

// synth makes a manifest of n store paths with a chain of references
// (p_i references p_{i-1}) and a root referencing all of them.
func synth(n int, extra ...closure.StorePath) *closure.Manifest {
	var ps []closure.StorePath
	for i := 0; i < n; i++ {
		p := closure.StorePath{Path: storePath(fmt.Sprintf("pkg%03d", i)), NarHash: fmt.Sprintf("sha256-h%d", i), NarSize: int64(1000 + i*10)}
		if i > 0 {
			p.References = []string{ps[i-1].Path}
		}
		ps = append(ps, p)
	}
	ps = append(ps, extra...)
	root := closure.StorePath{Path: storePath("root"), NarHash: "sha256-root", NarSize: 10}
	for _, p := range ps {
		root.References = append(root.References, p.Path)
	}
	return manifest("amd64", root, ps...)
}

func TestPlanOneLayerPerPathUnderBudget(t *testing.T) {
	m := synth(5)
	plan, err := PlanLayers(m, 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Layers) != 6 || plan.Buckets != 0 {
		t.Fatalf("got %d layers, %d buckets; want 6, 0", len(plan.Layers), plan.Buckets)
	}
	// Dependencies first: the chain pkg000 <- pkg001 <- ... is in order.
	for i := 0; i < 5; i++ {
		l := plan.Layers[i]
		if l.Kind != KindStorePath || l.Paths[0].Path != storePath(fmt.Sprintf("pkg%03d", i)) {
			t.Errorf("layer %d = %s %s", i, l.Kind, l.Describe())
		}
	}
	if last := plan.Layers[5]; last.Kind != KindRoot || last.Paths[0].Path != m.Root {
		t.Errorf("last layer = %s %s, want the root", last.Kind, last.Describe())
	}
}

func TestPlanTopologicalOrderBeatsPathOrder(t *testing.T) {
	// "a" sorts first but references "z": z must come first.
	z := closure.StorePath{Path: DefaultStoreDir + "/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-z", NarHash: "sha256-z"}
	a := closure.StorePath{Path: DefaultStoreDir + "/00000000000000000000000000000000-a", NarHash: "sha256-a", References: []string{z.Path, DefaultStoreDir + "/00000000000000000000000000000000-a"}}
	root := closure.StorePath{Path: storePath("root"), NarHash: "sha256-r", References: []string{a.Path}}
	plan, err := PlanLayers(manifest("amd64", root, a, z), 0)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Layers[0].Paths[0].Path != z.Path || plan.Layers[1].Paths[0].Path != a.Path {
		t.Fatalf("order %s, %s", plan.Layers[0].Describe(), plan.Layers[1].Describe())
	}
}

func TestPlanBucketsOverBudget(t *testing.T) {
	m := synth(100)
	plan, err := PlanLayers(m, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Layers) > 20 {
		t.Fatalf("%d layers exceed the budget of 20", len(plan.Layers))
	}
	if plan.Buckets != 5 {
		t.Fatalf("buckets = %d, want 20/4 = 5", plan.Buckets)
	}
	seen := map[string]int{}
	singles := 0
	for _, l := range plan.Layers[:len(plan.Layers)-1] {
		if l.Kind == KindStorePath {
			singles++
			if l.Paths[0].NarSize < 1000+85*10 {
				t.Errorf("single layer %s is not among the 14 largest", l.Describe())
			}
		}
		for _, p := range l.Paths {
			seen[p.Path]++
			if l.Kind == KindBucket && BucketOf(p.Path, plan.Buckets) != l.Bucket {
				t.Errorf("%s in bucket %d, hashes to %d", p.Path, l.Bucket, BucketOf(p.Path, plan.Buckets))
			}
		}
	}
	if singles != 20-1-5 {
		t.Errorf("singles = %d, want 14", singles)
	}
	if len(seen) != 100 {
		t.Errorf("%d distinct paths placed, want 100", len(seen))
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("%s placed %d times", p, n)
		}
	}
}

// layerSets maps a layer's identity (its sorted paths) to true.
func layerSets(plan LayerPlan) map[string]bool {
	out := map[string]bool{}
	for _, l := range plan.Layers {
		if l.Kind == KindRoot {
			continue
		}
		key := ""
		for _, p := range l.Paths {
			key += p.Path + "|" + p.NarHash + ";"
		}
		out[key] = true
	}
	return out
}

func TestPlanAddingSmallPathChangesOneBucket(t *testing.T) {
	before, err := PlanLayers(synth(100), 20)
	if err != nil {
		t.Fatal(err)
	}
	small := closure.StorePath{Path: storePath("tiny-extra"), NarHash: "sha256-tiny", NarSize: 1}
	after, err := PlanLayers(synth(100, small), 20)
	if err != nil {
		t.Fatal(err)
	}
	a, b := layerSets(before), layerSets(after)
	changed := 0
	for k := range b {
		if !a[k] {
			changed++
		}
	}
	lost := 0
	for k := range a {
		if !b[k] {
			lost++
		}
	}
	if changed != 1 || lost != 1 {
		t.Fatalf("adding one small path changed %d layers and removed %d, want 1 and 1", changed, lost)
	}
}

func TestPlanBudgetTooSmall(t *testing.T) {
	if _, err := PlanLayers(synth(3), 1); err == nil {
		t.Fatal("budget 1 accepted")
	}
	plan, err := PlanLayers(synth(3), MinLayerBudget)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Layers) != 2 || plan.Layers[0].Kind != KindBucket || len(plan.Layers[0].Paths) != 3 {
		t.Fatalf("budget 2: %+v", plan)
	}
}

func TestPlanRejectsRootMissingFromPaths(t *testing.T) {
	m := synth(2)
	m.Root = storePath("elsewhere")
	if _, err := PlanLayers(m, 0); err == nil {
		t.Fatal("root outside paths accepted")
	}
}
