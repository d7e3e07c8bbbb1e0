package structure

import (
	"context"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A base that starts no program (the static base) skips the entrypoint
// check; an entrypoint it does have must still resolve.
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
	c := wantStatus(t, runNP(cfg), IDEntrypoint, Skipped)
	if c.Detail == "" {
		t.Error("a skipped check must say why")
	}
	cfg.Entrypoint = []string{"/nope"}
	wantStatus(t, runNP(cfg), IDEntrypoint, Failed)
	// Without NoProgram, the same image without a program fails.
	cfg.Entrypoint = nil
	wantStatus(t, run(t, image(t, runtime.GOARCH, cfg, layer(t, distrolessFS(t)...)), "distroless", distrolessRules), IDEntrypoint, Failed)
}
