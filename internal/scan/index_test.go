package scan

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/vulns"
)

// TestIndexStatement: the index statement passes only when every
// platform's scan passed, and carries every platform's findings and
// reasons, named by platform.
func TestIndexStatement(t *testing.T) {
	db := testDB(t, dbBuilt)
	platformScan := func(platform string, p gate.Policy, stale bool) PlatformScan {
		o := scanOpts(t, db, "python-closure.spdx.json")
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		// Under the lenient policy the scan keeps its medium findings
		// only, and passes.
		var kept []Finding
		for _, f := range res.Findings {
			if f.Severity == "medium" || p.FailOn == gate.Unknown {
				kept = append(kept, f)
			}
		}
		res.Findings = kept
		res.StaleDBAccepted = stale
		res.Decide(p)
		b, err := res.StatementJSON()
		if err != nil {
			t.Fatal(err)
		}
		return PlatformScan{Platform: platform, Digest: subject.Digest, Statement: b}
	}
	index := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1d", 32)}
	lenient := gate.Policy{FailOn: gate.High, Now: scanNow}
	strict := gate.Policy{FailOn: gate.Unknown, Now: scanNow}
	read := func(b []byte) (g vulns.Gate, results int, platforms map[string]bool, subject string) {
		var st struct {
			Subject []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
			Predicate struct {
				Scanner struct {
					Result []struct {
						Annotations []map[string]any `json:"annotations"`
					} `json:"result"`
				} `json:"scanner"`
				Gate vulns.Gate `json:"gate"`
			} `json:"predicate"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		platforms = map[string]bool{}
		for _, r := range st.Predicate.Scanner.Result {
			p, _ := r.Annotations[0]["platform"].(string)
			platforms[p] = true
		}
		return st.Predicate.Gate, len(st.Predicate.Scanner.Result), platforms, st.Subject[0].Digest["sha256"]
	}

	b, err := IndexStatement("python:distroless", index, []PlatformScan{platformScan("linux/amd64", lenient, false), platformScan("linux/arm64", lenient, false)})
	if err != nil {
		t.Fatal(err)
	}
	g, n, plats, subj := read(b)
	if pass, ok := g.Verdict(); !ok || !pass || g.StaleDBAccepted || n == 0 || !plats["linux/amd64"] || !plats["linux/arm64"] || subj != index.Hex {
		t.Fatalf("both passing: gate %+v, %d results on %v, subject %s", g, n, plats, subj)
	}

	b, err = IndexStatement("python:distroless", index, []PlatformScan{platformScan("linux/amd64", lenient, false), platformScan("linux/arm64", strict, true)})
	if err != nil {
		t.Fatal(err)
	}
	g, _, _, _ = read(b)
	if pass, ok := g.Verdict(); !ok || pass || !g.StaleDBAccepted || len(g.Reasons) == 0 || !strings.HasPrefix(g.Reasons[0], "linux/arm64: ") {
		t.Fatalf("one failing, stale: gate %+v", g)
	}

	bare := platformScan("linux/amd64", lenient, false)
	var m map[string]any
	_ = json.Unmarshal(bare.Statement, &m)
	delete(m["predicate"].(map[string]any), vulns.GateField)
	bare.Statement, _ = json.Marshal(m)
	if _, err := IndexStatement("x", index, []PlatformScan{bare}); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "records no gate decision") {
		t.Fatalf("a platform scan without a verdict: %v", err)
	}
	other := platformScan("linux/amd64", lenient, false)
	other.Digest = index
	if _, err := IndexStatement("x", index, []PlatformScan{other}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("a scan about another digest: %v", err)
	}
}
