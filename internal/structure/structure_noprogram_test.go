package structure

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A base that starts no program (the static base): its entrypoint and
// smoke checks are not applicable; an entrypoint it does have must still
// resolve.
func TestNoProgramBase(t *testing.T) {
	runNP := func(cfg v1.Config) Result {
		img := image(t, runtime.GOARCH, cfg, layer(t, distrolessFS(t)...))
		res, err := Run(context.Background(), Options{Image: img, Platform: "linux/" + runtime.GOARCH, Tier: "distroless",
			Rules: distrolessRules, NoProgram: true, Subject: Subject{Name: "registry.test/static"}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	cfg := distrolessConfig()
	cfg.Entrypoint, cfg.Cmd = nil, nil
	// Nothing to check: the entrypoint and smoke checks are not
	// applicable, listed in no test list, and the image is PASSED.
	res := runNP(cfg)
	for _, id := range []string{IDEntrypoint, IDSmoke} {
		c := wantStatus(t, res, id, NotApplicable)
		if !strings.HasPrefix(c.Detail, "not applicable: ") {
			t.Errorf("%s: a not-applicable check must say why: %q", id, c.Detail)
		}
	}
	if !res.Passed() || res.Outcome() != ResultPassed {
		t.Errorf("passed=%v outcome=%s, want PASSED", res.Passed(), res.Outcome())
	}
	p := res.Predicate()
	if p.GetResult() != ResultPassed || len(p.GetWarnedTests()) != 0 || len(p.GetFailedTests()) != 0 ||
		slices.Contains(p.GetPassedTests(), IDEntrypoint) || slices.Contains(p.GetPassedTests(), IDSmoke) ||
		len(p.GetPassedTests()) != len(res.Checks)-2 {
		t.Errorf("predicate %s passed %v warned %v failed %v", p.GetResult(), p.GetPassedTests(), p.GetWarnedTests(), p.GetFailedTests())
	}
	// A smoke command declared for such a base applies: without runc it
	// could not run, and the image is WARNED.
	img := image(t, runtime.GOARCH, cfg, layer(t, distrolessFS(t)...))
	res, err := Run(context.Background(), Options{Image: img, Platform: "linux/" + runtime.GOARCH, Tier: "distroless",
		Rules: distrolessRules, NoProgram: true, Smoke: &Smoke{Command: []string{"/x"}}, HostArch: runtime.GOARCH, Subject: Subject{Name: "registry.test/static"}})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res, IDEntrypoint, NotApplicable)
	wantStatus(t, res, IDSmoke, Skipped)
	if res.Outcome() != ResultWarned {
		t.Errorf("declared smoke that could not run: outcome %s, want WARNED", res.Outcome())
	}
	cfg.Entrypoint = []string{"/nope"}
	wantStatus(t, runNP(cfg), IDEntrypoint, Failed)
	// Without NoProgram, the same image without a program fails.
	cfg.Entrypoint = nil
	wantStatus(t, run(t, image(t, runtime.GOARCH, cfg, layer(t, distrolessFS(t)...)), "distroless", distrolessRules), IDEntrypoint, Failed)
}
