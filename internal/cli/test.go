package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/fsutil"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/structure"
)

func init() { extraCommands = append(extraCommands, newTestCmd) }

type testFlags struct {
	evidence string
	runc     string
	noSmoke  bool
	asJSON   bool
}

func newTestCmd(g *globals) *cobra.Command {
	var fl testFlags
	cmd := &cobra.Command{
		Use:   "test IMAGE@sha256:DIGEST",
		Short: "Check the tier invariants of every platform image and run the smoke command under runc",
		Long: `test reads the image index by digest (oci:DIR@sha256:… or a registry
reference), finds the runtime and tier from the image labels, checks the tier's
invariants on each platform image's filesystem, and runs the runtime's smoke
command under runc (read-only root, non-root user, no network) where the host
can execute the architecture. For each platform it writes an in-toto
test-result/v0.1 statement to EVIDENCE/<digest>/test-result.json.
Exit status 1 means a check failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := runTest(cmd.Context(), g, f, args[0], fl)
			g.report(rep)
			if err != nil {
				return err
			}
			return g.emit(fl.asJSON, rep, func() error { return renderTest(g, rep) }, rep.Passed, rep.Image)
		},
	}
	cmd.Flags().StringVar(&fl.evidence, "evidence", "out/evidence", "directory the test-result statements are written to")
	cmd.Flags().StringVar(&fl.runc, "runc", "", "runc binary (default: runc on PATH; smoke runs are skipped, never passed, without it)")
	cmd.Flags().BoolVar(&fl.noSmoke, "no-smoke", false, "do not execute the image (the smoke check is reported as skipped)")
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the results as JSON")
	return cmd
}

type testReport struct {
	Image     string             `json:"image"`
	Reference string             `json:"reference"`
	Passed    bool               `json:"passed"`
	Platforms []structure.Result `json:"platforms"`
	// Statements maps a platform digest to the statement file written.
	Statements map[string]string `json:"statements"`
}

func runTest(ctx context.Context, g *globals, f *fleet.File, refStr string, fl testFlags) (testReport, error) {
	ref, idx, err := openIndex(ctx, refStr, "")
	if err != nil {
		return testReport{}, err
	}
	plats, err := platformImages(ref, idx)
	if err != nil {
		return testReport{}, err
	}
	runc := fl.runc
	if runc == "" && !fl.noSmoke {
		runc, _ = exec.LookPath("runc")
	}
	if fl.noSmoke {
		runc = ""
	}
	rep := testReport{Reference: ref.String(), Passed: true, Statements: map[string]string{}}
	for _, p := range plats {
		d, img, cf := p.desc, p.img, p.cfg
		rtID, tier := cf.Config.Labels[oci.LabelRuntime], cf.Config.Labels[oci.LabelTier]
		rt, ok := f.Runtime(rtID)
		if !ok {
			return rep, usageError{fmt.Errorf("%s: image label %s=%q names no runtime of %s", ref, oci.LabelRuntime, rtID, f.Path)}
		}
		if !containsString(rt.Tiers, tier) {
			return rep, usageError{fmt.Errorf("%s: image label %s=%q is not a tier of runtime %q", ref, oci.LabelTier, tier, rtID)}
		}
		rep.Image = rtID + ":" + tier
		work, err := os.MkdirTemp("", "clearcutt-test-")
		if err != nil {
			return rep, err
		}
		res, err := structure.Run(ctx, structure.Options{
			Image:     img,
			Platform:  d.Platform.String(),
			Tier:      tier,
			Rules:     tierRules(f.Tier(tier)),
			User:      fmt.Sprintf("%d:%d", f.Build.User.UID, f.Build.User.GID),
			Smoke:     smokeOf(rt),
			NoProgram: len(rt.Entrypoint) == 0 && len(rt.Cmd) == 0,
			Runc:      runc,
			HostArch:  hostArch(),
			WorkDir:   work,
			Subject:   structure.Subject{Name: rep.Image, Digest: d.Digest},
			Progress:  g.progressLine(fmt.Sprintf("test %s %s", rep.Image, d.Platform.Architecture)),
		})
		g.progressDone()
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
		p, err := writeEvidence(fl.evidence, d.Digest, "test-result.json", stmt)
		if err != nil {
			return rep, err
		}
		rep.Statements[d.Digest.String()] = p
	}
	return rep, nil
}

func tierRules(t fleet.Tier) structure.TierRules {
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

// writeEvidence stores a statement for a platform digest atomically.
func writeEvidence(dir string, d v1.Hash, name string, data []byte) (string, error) {
	sub := filepath.Join(dir, d.Algorithm+"-"+d.Hex)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(sub, name)
	// Evidence is published next to the image: readable by everyone.
	return p, fsutil.WriteFileAtomic(p, data, 0o644)
}

// ErrNoTestEvidence: publish found no passing test result for an image.
var ErrNoTestEvidence = errors.New("no passing test result")

// requireTestEvidence checks that every platform of idx has a test-result
// statement in dir whose result is not FAILED and whose subject is that
// platform's digest.
func requireTestEvidence(idx v1.ImageIndex, dir string) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		p := filepath.Join(dir, d.Digest.Algorithm+"-"+d.Digest.Hex, "test-result.json")
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

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func renderTest(g *globals, r testReport) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	for _, p := range r.Platforms {
		fmt.Fprintf(tw, "%s %s  %s  %s\n", r.Image, p.Platform, p.Subject.Digest, p.Outcome())
		for _, c := range p.Checks {
			detail := c.Detail
			if len(detail) > 100 {
				detail = detail[:97] + "..."
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.ToUpper(string(c.Status)), c.ID, detail)
		}
	}
	return tw.Flush()
}
