package closure

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

// BenchmarkPythonCell measures what the distroless scrub (ADR 0011) costs:
// building the python distroless amd64 cell cold, that is with the runtime
// in the store (as a binary cache gives it on a runner) but the cell's own
// derivations (the scrubbed copy, the root, the graph) not, against the
// same cell of the dev tier, which carries the runtime unscrubbed; and the
// distroless cell warm, with everything built. The cold iterations delete
// the cell's outputs from the store first (outside the timer).
//
//	go test -run '^$' -bench PythonCell -benchtime=3x ./internal/closure   (as root)
func BenchmarkPythonCell(b *testing.B) {
	if !testenv.Required() {
		if _, err := exec.LookPath("nix"); err != nil {
			b.Skip("nix not on PATH")
		}
	}
	base := fixtures(b)
	for _, tc := range []struct {
		name, tier string
		cold       bool
	}{
		{"distroless/cold", "distroless", true},
		{"dev/cold", "dev", true},
		{"distroless/warm", "distroless", false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			o := base
			o.Runtime, o.Tier, o.System = "python", tc.tier, "x86_64-linux"
			m := build(b, o) // the runtime and everything else in the store
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if tc.cold {
					b.StopTimer()
					deleteCell(b, o, m)
					b.StartTimer()
				}
				m = build(b, o)
			}
		})
	}
}

// deleteCell removes the cell's own outputs from the store: the root, the
// scrubbed copy of the runtime when there is one, and everything that
// refers to them (this cell's graph, and the roots and graphs of other
// cells that share the copy, which later builds make again).
func deleteCell(b *testing.B, o BuildOptions, m *Manifest) {
	b.Helper()
	targets := []string{m.Root}
	if m.Scrub != nil {
		targets = append(targets, m.RuntimePath)
	}
	q := exec.Command("nix-store", append([]string{"--query", "--referrers-closure"}, targets...)...)
	q.Env = o.Env
	out, err := q.Output()
	if err != nil {
		b.Fatalf("nix-store --query --referrers-closure %v: %v", targets, err)
	}
	del := exec.Command("nix-store", append([]string{"--option", "build-users-group", "", "--delete", "--ignore-liveness"}, strings.Fields(string(out))...)...)
	del.Env = o.Env
	if out, err := del.CombinedOutput(); err != nil {
		b.Fatalf("nix-store --delete: %v\n%s", err, out)
	}
}
