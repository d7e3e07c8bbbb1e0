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

// deleteCell removes the cell's own outputs from the store: the graph, the
// root and, when the runtime is a scrubbed copy, that copy.
func deleteCell(b *testing.B, o BuildOptions, m *Manifest) {
	b.Helper()
	q := exec.Command("nix-store", "--query", "--referrers", m.Root)
	q.Env = o.Env
	out, err := q.Output()
	if err != nil {
		b.Fatalf("nix-store --query --referrers %s: %v", m.Root, err)
	}
	paths := strings.Fields(string(out)) // the graph (and the root itself)
	if m.Scrub != nil {
		paths = append(paths, m.RuntimePath)
	}
	del := exec.Command("nix-store", append([]string{"--option", "build-users-group", "", "--delete", "--ignore-liveness"}, paths...)...)
	del.Env = o.Env
	if out, err := del.CombinedOutput(); err != nil {
		b.Fatalf("nix-store --delete: %v\n%s", err, out)
	}
}
