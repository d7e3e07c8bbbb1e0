package structure

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// runcEnv is the whole environment of the runc process: nothing of the
// caller's environment reaches the container.
var runcEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}

// outputTail is how much of the command's output a failed check shows.
const outputTail = 2048

// runSmoke runs the smoke command under runc, or says why it was skipped.
// For a base that starts no program and declares no smoke command there is
// nothing to run: the check is not applicable. The returned error is for
// a run that could not be prepared.
func runSmoke(ctx context.Context, opts Options, in *inputs, expect *regexp.Regexp, progress func(string)) (Check, error) {
	const name = "smoke command runs in the image"
	skip := func(why string) (Check, error) {
		if opts.RequireSmoke && opts.Smoke != nil {
			return fail(IDSmoke, name, "required, but could not run: "+why), nil
		}
		return Check{ID: IDSmoke, Name: name, Status: Skipped, Detail: "skipped: " + why}, nil
	}
	if opts.Smoke == nil && in.noProgram {
		return Check{ID: IDSmoke, Name: name, Status: NotApplicable, Detail: "not applicable: the image is a base that starts no program of its own, and no smoke command is declared"}, nil
	}
	if opts.Smoke == nil {
		return skip("none declared")
	}
	if opts.Runc == "" {
		return skip("runc not available")
	}
	arch := in.cfg.Architecture
	if arch == "" {
		if parts := strings.Split(opts.Platform, "/"); len(parts) > 1 {
			arch = parts[1]
		}
	}
	if opts.HostArch == "" {
		return skip("host architecture unknown")
	}
	if arch != opts.HostArch {
		return skip(fmt.Sprintf("cannot execute %s on %s host", arch, opts.HostArch))
	}
	if opts.WorkDir == "" {
		return Check{}, fmt.Errorf("%w: WorkDir is required for a smoke run", ErrInvalidOptions)
	}
	uid, gid, err := imageUser(in.ix, in.cfg.Config.User)
	if err != nil {
		return fail(IDSmoke, name, fmt.Sprintf("cannot resolve config User %q: %v", in.cfg.Config.User, err)), nil
	}

	bundle, err := os.MkdirTemp(opts.WorkDir, "smoke-")
	if err != nil {
		return Check{}, fmt.Errorf("%w: %v", ErrSmoke, err)
	}
	defer os.RemoveAll(bundle)
	if err := os.Chmod(bundle, 0o711); err != nil {
		return Check{}, fmt.Errorf("%w: %v", ErrSmoke, err)
	}
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return Check{}, fmt.Errorf("%w: %v", ErrSmoke, err)
	}
	progress("smoke: unpacking the root filesystem")
	if err := unpack(opts.Image, rootfs); err != nil {
		return Check{}, fmt.Errorf("%w: %s: %v", ErrSmoke, rootfs, err)
	}
	env := mergeEnv(in.cfg.Config.Env, opts.Smoke.Env)
	if envValue(env, "PATH") == "" {
		env = append(env, "PATH="+DefaultPath)
	}
	cwd := in.cfg.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	spec, err := json.MarshalIndent(smokeSpec(opts.Smoke.Command, env, cwd, uint32(uid), uint32(gid)), "", "  ")
	if err != nil {
		return Check{}, fmt.Errorf("%w: %v", ErrSmoke, err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), spec, 0o600); err != nil {
		return Check{}, fmt.Errorf("%w: %v", ErrSmoke, err)
	}
	timeout := opts.Smoke.Timeout
	if timeout <= 0 {
		timeout = DefaultSmokeTimeout
	}
	progress(fmt.Sprintf("smoke: runc run %q (timeout %s)", strings.Join(opts.Smoke.Command, " "), timeout))
	out, runErr := runRunc(ctx, opts.Runc, filepath.Join(bundle, "state"), bundle, timeout)
	tail := out
	if len(tail) > outputTail {
		tail = "..." + tail[len(tail)-outputTail:]
	}
	if runErr != nil {
		return fail(IDSmoke, name, fmt.Sprintf("%v; output:\n%s", runErr, tail)), nil
	}
	if !expect.MatchString(out) {
		return fail(IDSmoke, name, fmt.Sprintf("output does not match %q; output:\n%s", opts.Smoke.Expect, tail)), nil
	}
	return pass(IDSmoke, name, fmt.Sprintf("exit 0, output matches %q", opts.Smoke.Expect)), nil
}

// errTimeout is reported when the smoke command outlives its timeout.
var errTimeout = errors.New("timed out")

// runRunc runs the bundle under a fresh container id with its own state
// directory, kills it on timeout or cancellation, and always deletes it.
func runRunc(ctx context.Context, runc, state, bundle string, timeout time.Duration) (string, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	id := "clearcutt-smoke-" + hex.EncodeToString(rnd[:])
	runcCmd := func(args ...string) *exec.Cmd {
		c := exec.Command(runc, append([]string{"--root", state}, args...)...)
		c.Env = runcEnv
		return c
	}
	defer func() { _ = runcCmd("delete", "-f", id).Run() }()

	var out bytes.Buffer
	cmd := runcCmd("run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting %s: %w", runc, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var stopped error
	select {
	case err := <-done:
		return out.String(), exitError(err)
	case <-timer.C:
		stopped = fmt.Errorf("%w after %s", errTimeout, timeout)
	case <-ctx.Done():
		stopped = ctx.Err()
	}
	_ = runcCmd("kill", id, "KILL").Run()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	return out.String(), stopped
}

func exitError(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("exit status %d", ee.ExitCode())
	}
	return err
}

// mergeEnv returns base with every KEY=VALUE of extra added or replacing
// the entry of the same key.
func mergeEnv(base, extra []string) []string {
	out := append([]string(nil), base...)
	for _, e := range extra {
		k, _, _ := strings.Cut(e, "=")
		kept := out[:0]
		for _, o := range out {
			if ok, _, _ := strings.Cut(o, "="); ok != k {
				kept = append(kept, o)
			}
		}
		out = append(kept, e)
	}
	return out
}
