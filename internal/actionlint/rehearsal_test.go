package actionlint

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

// workflowStep is a step of publish.yml that the rehearsal must run: one of
// the repository's actions, a scripts/publish step, or a reusable workflow.
type workflowStep struct{ kind, name string }

// publishSteps reads, per job, the steps of a workflow that run ClearCutt's
// own code: uses: ./.clearcutt/actions/<name>, run: of
// .clearcutt/scripts/publish/<name>.sh, and reusable workflow calls.
func publishSteps(t *testing.T, path string) (order []string, steps map[string][]workflowStep) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	jobs := lookup(doc.Content[0], "jobs")
	steps = map[string][]workflowStep{}
	for i := 0; i+1 < len(jobs.Content); i += 2 {
		id, job := jobs.Content[i].Value, jobs.Content[i+1]
		order = append(order, id)
		if u := lookup(job, "uses"); u != nil {
			steps[id] = append(steps[id], workflowStep{"reusable", strings.SplitN(strings.TrimPrefix(u.Value, "slsa-framework/"), "/", 2)[0]})
			continue
		}
		for _, s := range lookup(job, "steps").Content {
			if u := lookup(s, "uses"); u != nil {
				if name, ok := strings.CutPrefix(u.Value, "./.clearcutt/actions/"); ok {
					steps[id] = append(steps[id], workflowStep{"action", name})
				}
				continue
			}
			if r := lookup(s, "run"); r != nil {
				for _, f := range strings.Fields(r.Value) {
					if name, ok := strings.CutPrefix(f, ".clearcutt/scripts/publish/"); ok {
						steps[id] = append(steps[id], workflowStep{"script", strings.TrimSuffix(name, ".sh")})
					}
				}
			}
		}
	}
	return order, steps
}

// rehearsalSkips are the steps the rehearsal may report skipped: they need
// GitHub itself (see scripts/rehearse-publish.sh), or the workflow's own
// condition skips them (remediate, when nothing is fixable).
var rehearsalSkips = []workflowStep{{"script", "registry-login"}, {"reusable", "slsa-github-generator"}, {"action", "remediate"}}

// TestRehearsalRunsThePublishWorkflow runs scripts/rehearse-publish.sh for
// one image and checks that every job of publish.yml, then of rescan.yml,
// ran, each with exactly the workflow's steps in the workflow's order, and
// that the catalog was committed, then updated by the rescan.
func TestRehearsalRunsThePublishWorkflow(t *testing.T) {
	root := testenv.RepoRoot(t)
	testenv.NeedRoot(t)
	for _, tool := range []string{"nix", "runc", "docker-registry", "jq", "git"} {
		testenv.Need(t, tool, "scripts/test.sh installs it")
	}
	if testing.Short() {
		t.Skip("the rehearsal builds and publishes an image")
	}
	order, want := publishSteps(t, filepath.Join(root, ".github", "workflows", "publish.yml"))
	rescanOrder, rescanWant := publishSteps(t, filepath.Join(root, ".github", "workflows", "rescan.yml"))
	for _, id := range rescanOrder {
		order = append(order, "rescan/"+id)
		want["rescan/"+id] = rescanWant[id]
	}
	work := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "scripts", "rehearse-publish.sh"), "static:distroless")
	cmd.Dir = root
	cmd.Env = append(testenv.CleanEnv(), "CLEARCUTT_REHEARSAL="+work)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rehearse-publish.sh: %v\n%s", err, out)
	}

	f, err := os.Open(filepath.Join(work, "trace.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Each job instance ("image static:distroless amd64") by its job id.
	got := map[string][]workflowStep{}
	var instances []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 4 {
			t.Fatalf("trace line %q", sc.Text())
		}
		instance, kind, name, status := fields[0], fields[1], fields[2], fields[3]
		if kind == "inline" {
			continue // a run: step of the workflow replaced offline (the database fetch)
		}
		s := workflowStep{kind, name}
		if status != "ran" && !slices.Contains(rehearsalSkips, s) {
			t.Errorf("%s: %s %s was %s", instance, kind, name, status)
		}
		if !slices.Contains(instances, instance) {
			instances = append(instances, instance)
		}
		got[instance] = append(got[instance], s)
	}
	seen := map[string]bool{}
	for _, inst := range instances {
		id := strings.Fields(inst)[0]
		seen[id] = true
		if !slices.Equal(got[inst], want[id]) {
			t.Errorf("job %s: the rehearsal ran %v, publish.yml has %v", inst, got[inst], want[id])
		}
	}
	for _, id := range order {
		if len(want[id]) > 0 && !seen[id] {
			t.Errorf("job %s of publish.yml was not rehearsed", id)
		}
	}
	// Both architectures were built, and the catalog reached its branch.
	for _, inst := range []string{"image static:distroless amd64", "image static:distroless arm64", "verify static:distroless"} {
		if got[inst] == nil {
			t.Errorf("no job %q in the rehearsal", inst)
		}
	}
	log, err := exec.Command("git", "--git-dir", filepath.Join(work, "fleet.git"), "ls-tree", "-r", "--name-only", "clearcutt-catalog").CombinedOutput()
	if err != nil || !strings.Contains(string(log), "catalog/catalog.json") || !strings.Contains(string(log), "site/index.html") {
		t.Errorf("catalog branch: %v\n%s", err, log)
	}
	// The catalog saw the tags the tags job moved, on the verified index.
	raw, err := exec.Command("git", "--git-dir", filepath.Join(work, "fleet.git"), "show", "clearcutt-catalog:catalog/catalog.json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var cat struct {
		Images []struct {
			Name    string   `json:"name"`
			Status  string   `json:"status"`
			Tags    []string `json:"tags"`
			History []struct {
				ScanTime string `json:"scanTime"`
			} `json:"history"`
		} `json:"images"`
	}
	if err := json.Unmarshal(raw, &cat); err != nil || len(cat.Images) != 1 {
		t.Fatalf("catalog: %v %s", err, raw)
	}
	if im := cat.Images[0]; im.Name != "static:distroless" || im.Status != "verified" || !slices.Contains(im.Tags, "distroless") {
		t.Errorf("catalogued %+v, want static:distroless verified and tagged distroless", im)
	}
	// The rescan added its scan to the image's history and committed the
	// catalog again.
	if n := len(cat.Images[0].History); n != 2 {
		t.Errorf("history has %d points after a publish and a rescan: %+v", n, cat.Images[0].History)
	}
	commits, err := exec.Command("git", "--git-dir", filepath.Join(work, "fleet.git"), "rev-list", "--count", "clearcutt-catalog").Output()
	if err != nil || strings.TrimSpace(string(commits)) != "2" {
		t.Errorf("catalog branch commits: %s %v, want the publish and the rescan", commits, err)
	}
}
