package stage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/outcome"
	"github.com/clearcutt/clearcutt/internal/structure"
)

// TestResultFile is the evidence file name of a platform's test result.
const TestResultFile = "test-result.json"

// TestOptions says where a test's evidence goes and how images run.
type TestOptions struct {
	// Evidence is the directory the test-result statements are written to.
	Evidence string
	// Runc runs the smoke command ("": smoke runs are skipped, never
	// passed).
	Runc string
	// RequireSmoke fails a declared smoke run that cannot run here (no
	// runc, a foreign architecture) instead of skipping it.
	RequireSmoke bool
	Progress     Progress
}

// TestReport is the tier tests of every platform of an image index.
type TestReport struct {
	Image     string             `json:"image"`
	Reference string             `json:"reference"`
	Passed    bool               `json:"passed"`
	Platforms []structure.Result `json:"platforms"`
	// Statements maps a platform digest to the statement file written.
	Statements map[string]string `json:"statements"`
}

// FailedChecks lists the failed checks of r, one "platform id: detail"
// each, separated by "; ".
func (r TestReport) FailedChecks() string {
	var out string
	for _, p := range r.Platforms {
		for _, c := range p.Checks {
			if c.Status == "failed" {
				if out != "" {
					out += "; "
				}
				out += fmt.Sprintf("%s %s: %s", p.Platform, c.ID, c.Detail)
			}
		}
	}
	return out
}

// Test checks the tier invariants of every platform image of the index
// ref names and runs the runtime's smoke command under runc where the
// host can execute the architecture. For each platform it writes an
// in-toto test-result/v0.1 statement. The runtime and tier come from the
// image labels and must be the fleet's.
func Test(ctx context.Context, f *fleet.File, refStr string, o TestOptions) (TestReport, error) {
	ref, idx, err := OpenIndex(ctx, refStr, "")
	if err != nil {
		return TestReport{}, err
	}
	plats, err := PlatformImages(ref, idx)
	if err != nil {
		return TestReport{}, err
	}
	prog := ProgressOf(o.Progress)
	rep := TestReport{Reference: ref.String(), Passed: true, Statements: map[string]string{}}
	for _, p := range plats {
		d := p.Desc
		rtID, tier := p.Config.Config.Labels[oci.LabelRuntime], p.Config.Config.Labels[oci.LabelTier]
		rt, ok := f.Runtime(rtID)
		if !ok {
			return rep, outcome.UsageError{Err: fmt.Errorf("%s: image label %s=%q names no runtime of %s", ref, oci.LabelRuntime, rtID, f.Path)}
		}
		if !slices.Contains(rt.Tiers, tier) {
			return rep, outcome.UsageError{Err: fmt.Errorf("%s: image label %s=%q is not a tier of runtime %q", ref, oci.LabelTier, tier, rtID)}
		}
		rep.Image = rtID + ":" + tier
		work, err := os.MkdirTemp("", "clearcutt-test-")
		if err != nil {
			return rep, err
		}
		update, done := prog.Status(fmt.Sprintf("test %s %s", rep.Image, d.Platform.Architecture))
		res, err := structure.Run(ctx, structure.Options{
			Image:        p.Image,
			Platform:     d.Platform.String(),
			Tier:         tier,
			Rules:        TierRules(f.Tier(tier)),
			User:         fmt.Sprintf("%d:%d", f.Build.User.UID, f.Build.User.GID),
			Smoke:        smokeOf(rt),
			NoProgram:    len(rt.Entrypoint) == 0 && len(rt.Cmd) == 0,
			Runc:         o.Runc,
			RequireSmoke: o.RequireSmoke,
			HostArch:     HostArch(),
			WorkDir:      work,
			Subject:      structure.Subject{Name: rep.Image, Digest: d.Digest},
			Progress:     update,
		})
		done()
		os.RemoveAll(work)
		if err != nil {
			return rep, fmt.Errorf("%s: platform %s: %w", ref, d.Platform, err)
		}
		rep.Platforms = append(rep.Platforms, res)
		if !res.Passed() {
			rep.Passed = false
		}
		stmt, err := res.StatementJSON()
		if err != nil {
			return rep, err
		}
		path, err := WriteEvidence(o.Evidence, d.Digest, TestResultFile, stmt)
		if err != nil {
			return rep, err
		}
		rep.Statements[d.Digest.String()] = path
	}
	return rep, nil
}

// TierRules are the invariants of a tier as the structure tests take them.
func TierRules(t fleet.Tier) structure.TierRules {
	return structure.TierRules{
		Shell:            structure.Policy(t.Shell),
		PackageManager:   structure.Policy(t.PackageManager),
		Coreutils:        structure.Policy(t.Coreutils),
		Deployable:       t.Deployable,
		CredentialHelper: t.CredentialHelper,
	}
}

func smokeOf(rt fleet.Runtime) *structure.Smoke {
	if rt.Smoke == nil {
		return nil
	}
	return &structure.Smoke{Command: rt.Smoke.Command, Expect: rt.Smoke.Expect}
}

// ErrNoTestEvidence: a platform of an index has no passing test result.
var ErrNoTestEvidence = errors.New("no passing test result")

// RequireTestEvidence checks that every platform of idx has a test-result
// statement in dir whose result is not FAILED and whose subject is that
// platform's digest.
func RequireTestEvidence(idx v1.ImageIndex, dir string) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		p := filepath.Join(EvidenceDir(dir, d.Digest), TestResultFile)
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("%w for %s (%s): run 'clearcutt test' first: %v", ErrNoTestEvidence, d.Digest, platformOf(d), err)
		}
		var st struct {
			Subject []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
			PredicateType string `json:"predicateType"`
			Predicate     struct {
				Result string `json:"result"`
			} `json:"predicate"`
		}
		if err := json.Unmarshal(data, &st); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrNoTestEvidence, p, err)
		}
		if st.PredicateType != structure.PredicateType || len(st.Subject) != 1 || st.Subject[0].Digest[d.Digest.Algorithm] != d.Digest.Hex {
			return fmt.Errorf("%w: %s is not a test result for %s", ErrNoTestEvidence, p, d.Digest)
		}
		if st.Predicate.Result != "PASSED" && st.Predicate.Result != "WARNED" {
			return fmt.Errorf("%w: %s (%s) result is %s", ErrNoTestEvidence, d.Digest, platformOf(d), st.Predicate.Result)
		}
	}
	return nil
}

func platformOf(d v1.Descriptor) string {
	if d.Platform == nil {
		return "no platform"
	}
	return d.Platform.String()
}
