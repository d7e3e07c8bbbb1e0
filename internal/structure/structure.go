// Package structure tests one platform image of the fleet against its
// tier's invariants: it reads every layer's entries (names and links inside
// the root, no device nodes in a deployable tier), walks the flattened
// filesystem once into an index, runs the static checks (no shell, no
// package manager, nonroot user, CA bundle, entrypoint, permissions,
// symbols, ...), optionally executes a smoke command with runc, and turns
// the outcome into an in-toto test-result statement.
package structure

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Sentinel errors; Run wraps them with %w.
var (
	// ErrInvalidOptions: the options or tier rules are incomplete or
	// inconsistent.
	ErrInvalidOptions = errors.New("invalid structure options")
	// ErrImage: the image could not be read.
	ErrImage = errors.New("cannot read image")
	// ErrSmoke: the smoke run could not be prepared (bundle, rootfs);
	// a smoke command that runs and fails is a failed check, not this.
	ErrSmoke = errors.New("cannot prepare smoke run")
)

// DefaultUser is the expected image user when Options.User is empty.
const DefaultUser = "65532:65532"

// DefaultSmokeTimeout bounds a smoke run when Smoke.Timeout is zero.
const DefaultSmokeTimeout = 30 * time.Second

// Options configure one Run.
type Options struct {
	// Image is one platform image (the caller resolves index → platform).
	Image v1.Image
	// Platform is "os/arch" (e.g. "linux/amd64"); the image config must
	// agree with it.
	Platform string
	// Tier names the tier (distroless, slim, dev); Rules are its rules.
	Tier  string
	Rules TierRules
	// User is the expected user, "uid" or "uid:gid"; empty = DefaultUser.
	User string
	// Smoke is the smoke command; nil = none declared (the smoke check is
	// skipped, never passed).
	Smoke *Smoke
	// NoProgram declares an image that starts no program of its own: a base
	// for binaries added later (the static base). Its entrypoint check, and
	// its smoke check when no smoke command is declared, are not
	// applicable; an entrypoint it nevertheless has must still resolve.
	NoProgram bool
	// Runc is the path of the runc binary; "" = not available.
	Runc string
	// RequireSmoke fails a declared smoke command that cannot run here
	// (no runc, a foreign architecture) instead of skipping it: where
	// every image is tested on a host that can execute it, as a release
	// is, a skipped smoke run means a setting is missing.
	RequireSmoke bool
	// HostArch is the OCI architecture of this machine (amd64, arm64).
	// An image for another architecture is not executed.
	HostArch string
	// WorkDir is a scratch directory, which must exist, for the run's
	// temporary files: the layers' uncompressed streams and the smoke
	// bundle. A smoke run requires it; without one the layers are kept
	// under the system's temporary directory.
	WorkDir string
	// Subject names the image in the statement. An empty Digest is
	// taken from Image.
	Subject Subject
	// Progress, if set, receives one line per step.
	Progress func(string)
}

// Smoke is a command run inside the image.
type Smoke struct {
	Command []string
	// Expect is a regular expression matched against stdout+stderr.
	Expect string
	// Env entries (KEY=VALUE) are added to, and override, the image env.
	Env     []string
	Timeout time.Duration
}

// Subject is the statement subject.
type Subject struct {
	Name   string
	Digest v1.Hash
}

// Status is a check outcome.
type Status string

// Statuses (docs/adr/0017-warned-means-a-check-could-not-run.md).
// Skipped is a check that applies to the image but could not run where
// it was tested (the smoke run without runc, for a foreign architecture,
// or with no command declared): the statement is WARNED. NotApplicable is
// a check with nothing to check in this image (the entrypoint and smoke
// checks of a base that starts no program): it does not change the
// outcome and is listed in none of the statement's test lists.
const (
	Passed        Status = "passed"
	Failed        Status = "failed"
	Skipped       Status = "skipped"
	NotApplicable Status = "not_applicable"
)

// Check is the outcome of one invariant.
type Check struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Status Status   `json:"status"`
	Detail string   `json:"detail,omitempty"`
	Paths  []string `json:"paths,omitempty"`
}

// Result is the outcome of Run.
type Result struct {
	Subject  Subject   `json:"subject"`
	Platform string    `json:"platform"`
	Tier     string    `json:"tier"`
	Rules    TierRules `json:"rules"`
	Checks   []Check   `json:"checks"`
}

// Passed is true iff no check failed. Skipped and not-applicable checks
// do not fail a run (the statement reports a skipped one as a warning).
func (r Result) Passed() bool {
	for _, c := range r.Checks {
		if c.Status == Failed {
			return false
		}
	}
	return true
}

// Check returns the check with the given ID.
func (r Result) Check(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// Run tests the image. A returned error means the run could not be done
// (bad options, unreadable image); failed invariants are in Result. An
// image with a layer entry named outside the root is not flattened: its
// result holds the platform and layer checks only, and fails.
func Run(ctx context.Context, opts Options) (Result, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if opts.Image == nil {
		return Result{}, fmt.Errorf("%w: no image", ErrInvalidOptions)
	}
	if opts.Tier == "" {
		return Result{}, fmt.Errorf("%w: no tier", ErrInvalidOptions)
	}
	rules, err := opts.Rules.normalized()
	if err != nil {
		return Result{}, err
	}
	if opts.User == "" {
		opts.User = DefaultUser
	}
	want, err := parseUserSpec(opts.User)
	if err != nil {
		return Result{}, fmt.Errorf("%w: user %q: %v", ErrInvalidOptions, opts.User, err)
	}
	var expect *regexp.Regexp
	if opts.Smoke != nil {
		if len(opts.Smoke.Command) == 0 {
			return Result{}, fmt.Errorf("%w: smoke command is empty", ErrInvalidOptions)
		}
		if expect, err = regexp.Compile(opts.Smoke.Expect); err != nil {
			return Result{}, fmt.Errorf("%w: smoke expect %q: %v", ErrInvalidOptions, opts.Smoke.Expect, err)
		}
	}
	if opts.Subject.Digest == (v1.Hash{}) {
		d, err := opts.Image.Digest()
		if err != nil {
			return Result{}, fmt.Errorf("%w: digest: %v", ErrImage, err)
		}
		opts.Subject.Digest = d
	}
	cf, err := opts.Image.ConfigFile()
	if err != nil {
		return Result{}, fmt.Errorf("%w: config: %v", ErrImage, err)
	}

	progress("reading the image layers")
	spool, err := os.MkdirTemp(opts.WorkDir, "layers-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(spool)
	layers, spooled, err := scanLayers(opts.Image, spool)
	if err != nil {
		return Result{}, err
	}
	// Every later pass reads the layers this one checked.
	opts.Image = spooled
	in := &inputs{layers: layers, cfg: cf, rules: rules, want: want, platform: opts.Platform, noProgram: opts.NoProgram}
	res := Result{Subject: opts.Subject, Platform: opts.Platform, Tier: opts.Tier, Rules: rules}
	add := func(c Check) {
		progress(fmt.Sprintf("%s: %s", c.ID, c.Status))
		res.Checks = append(res.Checks, c)
	}
	add(checkPlatform(in))
	add(checkPathsInsideRoot(in))
	if rules.Deployable {
		add(checkNoDeviceNodes(in))
	}
	if layers.outsideNames > 0 {
		// An entry named outside the root has no place in the flattened
		// filesystem: the result is the failed layer check, and nothing
		// is judged on a filesystem the runtime would not build.
		return res, nil
	}

	progress("indexing the image filesystem")
	keep := map[string]bool{"/etc/passwd": true, "/etc/group": true}
	if f := envValue(cf.Config.Env, "SSL_CERT_FILE"); f != "" {
		keep[f] = true
	}
	ix, err := buildIndex(opts.Image, keep)
	if err != nil {
		return Result{}, err
	}
	// Symlinked files are loaded by a second pass.
	var more []string
	for p := range keep {
		if _, rp, err := ix.resolve(p); err == nil && rp != p {
			more = append(more, rp)
		}
	}
	if err := ix.loadContents(opts.Image, more); err != nil {
		return Result{}, err
	}

	in.ix = ix
	add(checkELFMachine(in))
	switch rules.Shell {
	case Forbidden:
		add(checkNoShell(in))
	case Required:
		add(checkShellPresent(in))
	}
	if rules.PackageManager == Forbidden {
		add(checkNoPackageManager(in))
	}
	if rules.Coreutils == Forbidden {
		add(checkNoCoreutils(in))
	}
	add(checkNoSetuid(in))
	add(checkNonrootUser(in))
	add(checkCABundle(in))
	add(checkEntrypoint(in))
	add(checkWorldWritable(in))
	add(checkTmp(in))
	add(checkStripped(in))
	add(checkCredentialHelper(in))
	c, err := runSmoke(ctx, opts, in, expect, progress)
	if err != nil {
		return res, err
	}
	add(c)
	return res, nil
}

// inputs is what every static check reads.
type inputs struct {
	layers    *layerScan
	ix        *index
	cfg       *v1.ConfigFile
	rules     TierRules
	want      userSpec
	platform  string
	noProgram bool
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

func pass(id, name, detail string) Check {
	return Check{ID: id, Name: name, Status: Passed, Detail: detail}
}

func fail(id, name, detail string, paths ...string) Check {
	return Check{ID: id, Name: name, Status: Failed, Detail: detail, Paths: paths}
}
