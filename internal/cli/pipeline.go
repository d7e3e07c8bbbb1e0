package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/verify"
)

type pipelineFlags struct {
	work     string
	to       string
	nixpkgs  string
	only     []string
	cache    string
	noSmoke  bool
	asJSON   bool
	scan     scanFlags
	attest   attestFlags
	noAttest bool
	noReuse  bool
	jobs     int
}

func newPipelineCmd(g *globals) *cobra.Command {
	var fl pipelineFlags
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Build, gate, publish, sign and verify every image of the fleet",
		Long: `pipeline runs, for every image of the fleet (or the images named by --only):
build, assemble, test (tier gates and smoke run), sbom and scan (the
vulnerability gate against --db). Only when every gate of every image passed
does it publish them to --to, by digest only — a failed gate publishes
nothing — then sign them and attach their evidence (attest) and verify every
channel of every published image (verify); only when every image verified do
its tags (layout names) move. It signs with the local key (default) or keyless in GitHub
Actions. Work files go under --work (closures/, stage/, evidence/, reuse/).

A build, assembly, test or SBOM whose inputs did not change since an earlier
run is reused from --work's reuse/ instead of redone: each is keyed by the
digests of what it consumed (the image digest, the fleet file, the flake's
files, the package set, the image clock, this clearcutt binary) and taken
only while what it names is still there (the closure in the Nix store, the
index in the staging layout). Scans, signatures and verification are done
afresh on every run. --no-reuse redoes everything.

Up to --jobs images (default: the number of CPUs) are built and gated at the
same time, each through its stages in order; publishing, signing,
verification and tagging then follow one image at a time, in fleet order.

Each step's progress line is repeated when it ends, with its duration:
"[17/66] sbom python:dev  2.3s". The report ends with where the time went: per
stage, its steps, how many reused an earlier result, their time added up (steps
of images gated at once overlap) and the longest step, then the run's wall
time (--json: "timings").

Exit status: 0 every image built, gated, published and verified, 1 a gate or
a verification failed (the report names it; tags did not move), 2 bad flags
or fleet file, 3 could not run (nix, registry, signing, I/O).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			if err := fl.attest.check(cmd); err != nil {
				return err
			}
			o, err := fl.release(cmd, g, f)
			if err != nil {
				return err
			}
			rep, err := pipeline.Release(cmd.Context(), o)
			if fl.noAttest && err == nil {
				fmt.Fprintln(g.stderr, "clearcutt: warning: published without signatures or attached evidence (--no-attest-unsafe)")
			}
			g.report(pipelineStep(rep))
			if fl.asJSON {
				if werr := writeJSON(g.stdout, rep); werr != nil && err == nil {
					err = werr
				}
			} else {
				if rerr := renderPipeline(g, rep); rerr != nil && err == nil {
					err = rerr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&fl.work, "work", "out", "work directory for closure manifests, the staging layout and evidence")
	cmd.Flags().StringVar(&fl.to, "to", "oci:out/oci", "destination: oci:DIR, or a registry repository prefix")
	cmd.Flags().StringVar(&fl.nixpkgs, "nixpkgs", "", "replace the locked nixpkgs input (e.g. nix/fixtures, the offline package set)")
	cmd.Flags().StringSliceVar(&fl.only, "only", nil, "build only these images: runtime or runtime:tier (repeatable)")
	cmd.Flags().StringVar(&fl.cache, "cache", "", "compressed-layer cache (default: the user cache directory)")
	cmd.Flags().BoolVar(&fl.noSmoke, "no-smoke", false, "do not execute images (smoke checks are reported as skipped)")
	cmd.Flags().BoolVar(&fl.noReuse, "no-reuse", false, "redo every build, assembly, test and SBOM instead of reusing unchanged results")
	cmd.Flags().IntVar(&fl.jobs, "jobs", runtime.NumCPU(), "images built and gated at the same time")
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the report as JSON")
	fs := cmd.Flags()
	fl.scan.addFlags(fs, dbUsage)
	fl.attest.signingFlags.addFlags(cmd, keyUsage)
	fs.BoolVar(&fl.noAttest, "no-attest-unsafe", false, "publish without signing, attaching evidence or verifying")
	_ = cmd.MarkFlagRequired("db")
	return cmd
}

// release translates the flags into the options of pipeline.Release: the
// real stages under --work, signed with the key or keyless, verified with
// the same policy clearcutt verify applies.
func (fl pipelineFlags) release(cmd *cobra.Command, g *globals, f *fleet.File) (pipeline.Options, error) {
	images, err := pipeline.Select(f, fl.only)
	if err != nil {
		return pipeline.Options{}, err
	}
	if fl.jobs < 1 {
		return pipeline.Options{}, usageErr(fmt.Errorf("--jobs %d: at least one image must be gated at a time", fl.jobs))
	}
	epoch, err := sourceDateEpoch(-1, f)
	if err != nil {
		return pipeline.Options{}, err
	}
	cache, err := layerCache(fl.cache)
	if err != nil {
		return pipeline.Options{}, err
	}
	st := pipeline.Stages{
		Fleet: f, Work: fl.work, Nixpkgs: fl.nixpkgs, Env: os.Environ(), Cache: cache, SourceDateEpoch: epoch,
		Runc: runcPath("", fl.noSmoke), Scanning: fl.scan.options(g), To: fl.to, Progress: g,
	}
	if !fl.noReuse {
		st.Reuse = &pipeline.Reuse{Dir: filepath.Join(fl.work, "reuse")}
	}
	o := pipeline.Options{Fleet: f.Path, Images: images, Destination: fl.to, Builder: st, Checker: st, Publisher: st, Log: g.stderr, Jobs: fl.jobs}
	if fl.noAttest {
		return o, nil
	}
	af := fl.attest
	af.evidence = st.Evidence()
	vf := verifyFlags{failOn: fl.scan.failOn, onlyFixable: fl.scan.onlyFixable, maxDBAge: fl.scan.maxDBAge}
	if !af.signsKeyless(cmd) {
		key := af.key
		if key == "" {
			p, err := defaultKeyPath()
			if err != nil {
				return o, usageErr(err)
			}
			key = p
		}
		vf.key = key + ".pub"
	}
	// The signer first: a key it creates is the one the verifier reads.
	a, err := af.attester(cmd, g, f)
	if err != nil {
		return o, err
	}
	v, err := newVerifier(cmd.Context(), f, vf)
	if err != nil {
		return o, err
	}
	v.Progress = g
	o.Signer, o.Verifier = a, v
	return o, nil
}

func renderPipeline(g *globals, r pipeline.Report) error {
	t := table{header: []string{"IMAGE", "INDEX DIGEST", "ARCH", "LAYERS", "SIZE", "TESTS", "VULNS A/S/E", "PUBLISHED", "VERIFIED"}}
	for _, pi := range r.Images {
		pub, ver := "no", "-"
		if pi.Publish != nil {
			pub = "yes"
		}
		if pi.Verify != nil {
			ver = "yes"
			if pi.Verify.ExitCode() != verify.ExitPassed {
				ver = "NO"
			}
		}
		if pi.Assemble == nil {
			t.add(pi.Image, "-", "", "", "", "ERROR", "", pub, ver)
			continue
		}
		for i, p := range pi.Assemble.Platforms {
			name, d := pi.Image, shortDigest(pi.Digest)
			if i > 0 {
				name, d = "", ""
			}
			tests, vulns := "-", "-"
			if pi.Test != nil && i < len(pi.Test.Platforms) {
				tests = strings.ToLower(pi.Test.Platforms[i].Outcome())
			}
			if pi.Scan != nil && i < len(pi.Scan.Platforms) {
				c := pi.Scan.Platforms[i].Decision.Counts
				vulns = fmt.Sprintf("%d/%d/%d", c.Active, c.Suppressed, c.Excepted)
				if !pi.Scan.Platforms[i].Decision.Pass {
					vulns += " FAIL"
				}
			}
			t.add(name, d, p.Arch, strconv.Itoa(p.Layers), humanize.IBytes(uint64(p.Size)), tests, vulns, pub, ver)
		}
	}
	t.add("VULNS A/S/E: findings active / suppressed by VEX / excepted (exceptions.yaml)")
	for _, pi := range r.Images {
		if pi.Error != "" {
			t.add("")
			t.add(pi.Image + ": " + pi.Error)
		}
	}
	status := "published to " + r.Destination
	switch {
	case !r.Published:
		status = "NOT published: a gate failed"
	case r.Verified && r.Tagged:
		status += ", signed, verified and tagged"
	case r.Verified:
		status += " by digest, signed and verified; tags NOT moved"
	case r.Images[0].Verify == nil && r.Tagged:
		status += ", not signed"
	case r.Images[0].Verify == nil:
		status += " by digest, NOT signed; tags not moved"
	default:
		status += " by digest, VERIFICATION FAILED; tags not moved"
	}
	t.add("")
	t.add(fmt.Sprintf("%d images, %s, %s", len(r.Images), status, pipeline.FormatSeconds(r.Seconds)))
	if err := t.write(g.stdout, tableWidth); err != nil {
		return err
	}
	return writeTimings(g.stdout, r.Timings)
}
