// Package nixcmd runs the nix command for every ClearCutt stage that needs
// it (closure builds, remediation evaluations): it finds the binary on the
// PATH of the environment it is given, never the process's, turns flakes
// on, and adapts the invocation to the host where Nix's own defaults cannot
// work.
//
// Nix's configuration lives in two places, and only these:
//
//   - What the offline package set needs (no substituters, no flake
//     registry, aarch64 cells on an x86_64 host) is nix/fixtures/nix.conf,
//     which scripts/lib/prereqs.sh exports as NIX_CONFIG and
//     testenv.CleanEnv reads. The CLI takes NIX_CONFIG from its environment,
//     as nix does.
//   - What the host needs is decided here, from the configuration Nix
//     reports (`nix show-config`), for every invocation.
//
// The host adaptation: Nix run as root without a daemon builds as the
// members of build-users-group, which defaults to "nixbld". Debian's
// nix-bin does not create that group (nix-setup-systemd does), so on a
// fresh machine every build would stop with "the group 'nixbld' specified
// in 'build-users-group' does not exist". When the configured group does
// not exist or has no members, nix is told to build without build users
// (`--option build-users-group ""`); sandboxed builds then run in a user
// namespace. Where the group exists with members, Nix uses it as
// configured.
package nixcmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Sentinel errors; every error of this package wraps one of them.
var (
	// ErrNotFound: no nix binary on the environment's PATH.
	ErrNotFound = errors.New("nix not found: install it with `apt-get install nix-bin` (Debian/Ubuntu) or the installer from https://nixos.org/download, then make sure `nix` is on PATH")
	// ErrFailed: nix ran and failed, or could not be started.
	ErrFailed = errors.New("nix failed")
)

// Flakes is the experimental-features value every invocation adds: flakes
// are experimental in the Nix versions Debian ships, and ClearCutt needs
// them whatever the caller's configuration says.
const Flakes = "nix-command flakes"

// Nix is one way of running nix: a binary, an environment and the host
// facts its options depend on.
type Nix struct {
	// Bin is the nix binary; empty means "nix" on Env's PATH.
	Bin string
	// Env is the complete environment of the nix process (NIX_CONFIG,
	// PATH, HOME, ...). The process environment is never consulted.
	Env []string
	// Options are extra `--option NAME VALUE` settings for every call.
	Options map[string]string
	// GroupFile is the group database the build-users-group check reads;
	// empty means /etc/group.
	GroupFile string
	// Euid is the effective user ID the check assumes; nil means
	// os.Geteuid().
	Euid *int
}

// Path returns the nix binary: Bin if set, else "nix" on Env's PATH.
func (n Nix) Path() (string, error) {
	if n.Bin != "" {
		if _, err := os.Stat(n.Bin); err != nil {
			return "", fmt.Errorf("%w (%s: %v)", ErrNotFound, n.Bin, err)
		}
		return n.Bin, nil
	}
	for _, dir := range filepath.SplitList(envValue(n.Env, "PATH")) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, "nix")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", ErrNotFound
}

// Adaptation is a setting the host needs, with the reason.
type Adaptation struct {
	Name, Value, Reason string
}

// HostOptions returns the settings this host needs on top of the
// configured ones: today, at most `build-users-group =` (see the package
// documentation). The answer is cached per binary and environment.
func (n Nix) HostOptions(ctx context.Context) ([]Adaptation, error) {
	bin, err := n.Path()
	if err != nil {
		return nil, err
	}
	key := bin + "\x00" + n.GroupFile + "\x00" + fmt.Sprint(n.euid()) + "\x00" + strings.Join(n.Env, "\x00") + "\x00" + fmt.Sprint(sortedOptions(n.Options))
	hostCache.Lock()
	c, ok := hostCache.m[key]
	hostCache.Unlock()
	if ok {
		return c, nil
	}
	cfg, err := n.showConfig(ctx, bin)
	if err != nil {
		return nil, err
	}
	var out []Adaptation
	if a, ok := n.buildUsers(cfg); ok {
		out = append(out, a)
	}
	hostCache.Lock()
	hostCache.m[key] = out
	hostCache.Unlock()
	return out, nil
}

var hostCache = struct {
	sync.Mutex
	m map[string][]Adaptation
}{m: map[string][]Adaptation{}}

func (n Nix) euid() int {
	if n.Euid != nil {
		return *n.Euid
	}
	return os.Geteuid()
}

// buildUsers decides whether Nix must build without build users.
func (n Nix) buildUsers(cfg map[string]string) (Adaptation, bool) {
	group := cfg["build-users-group"]
	if group == "" || n.euid() != 0 || !localStore(cfg["store"]) {
		return Adaptation{}, false
	}
	members, found, err := groupMembers(n.groupFile(), group)
	if err != nil || !found {
		// Not in /etc/group: it may still come from NSS (LDAP, ...).
		if n.GroupFile == "" {
			if _, lerr := user.LookupGroup(group); lerr == nil {
				return Adaptation{}, false
			}
		}
		return Adaptation{Name: "build-users-group", Reason: fmt.Sprintf(
			"the group %q named by build-users-group does not exist on this host: building without build users", group)}, true
	}
	if members == 0 {
		return Adaptation{Name: "build-users-group", Reason: fmt.Sprintf(
			"the group %q named by build-users-group has no members on this host: building without build users", group)}, true
	}
	return Adaptation{}, false
}

func (n Nix) groupFile() string {
	if n.GroupFile != "" {
		return n.GroupFile
	}
	return "/etc/group"
}

// localStore reports whether the store setting opens the store in this
// process (as root, "auto" does), rather than through a daemon.
func localStore(store string) bool {
	switch {
	case store == "", store == "auto", store == "local":
		return true
	case strings.HasPrefix(store, "local?"), strings.HasPrefix(store, "/"):
		return true
	}
	return false
}

// groupMembers reads an /etc/group-format file and returns the number of
// members of group and whether the group is listed.
func groupMembers(file, group string) (int, bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 4 || fields[0] != group {
			continue
		}
		n := 0
		for _, m := range strings.Split(fields[3], ",") {
			if strings.TrimSpace(m) != "" {
				n++
			}
		}
		return n, true, nil
	}
	return 0, false, sc.Err()
}

// showConfig returns the effective settings as `nix show-config --json`
// prints them (Nix 2.8 prints {"name": {"value": ...}}, older versions
// {"name": value}).
func (n Nix) showConfig(ctx context.Context, bin string) (map[string]string, error) {
	args := append([]string{"show-config", "--json", "--extra-experimental-features", Flakes}, optionArgs(n.Options)...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = n.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: nix %s: %v\n%s", ErrFailed, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(stdout.Bytes(), &raw); err != nil {
		return nil, fmt.Errorf("%w: `nix show-config --json`: %v", ErrFailed, err)
	}
	cfg := map[string]string{}
	for _, k := range []string{"build-users-group", "store"} {
		v, ok := raw[k]
		if !ok {
			continue
		}
		var wrapped struct {
			Value *string `json:"value"`
		}
		if json.Unmarshal(v, &wrapped) == nil && wrapped.Value != nil {
			cfg[k] = *wrapped.Value
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			cfg[k] = s
		}
	}
	return cfg, nil
}

// Args returns args followed by the flags every invocation carries: the
// flakes feature, Options and the host's adaptations.
func (n Nix) Args(ctx context.Context, args ...string) ([]string, error) {
	host, err := n.HostOptions(ctx)
	if err != nil {
		return nil, err
	}
	opts := map[string]string{}
	for k, v := range n.Options {
		opts[k] = v
	}
	for _, a := range host {
		opts[a.Name] = a.Value
	}
	out := append(append([]string{}, args...), "--extra-experimental-features", Flakes)
	return append(out, optionArgs(opts)...), nil
}

// Run runs nix with args (plus Args' flags) in dir and returns its
// stdout. Its stderr streams to progress (may be nil); the last lines of
// it are in the error when nix fails.
func (n Nix) Run(ctx context.Context, dir string, progress io.Writer, args ...string) ([]byte, error) {
	bin, err := n.Path()
	if err != nil {
		return nil, err
	}
	full, err := n.Args(ctx, args...)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = n.env()
	cmd.Dir = dir
	var stdout bytes.Buffer
	tail := &tailWriter{max: stderrTail}
	cmd.Stdout = &stdout
	if progress != nil {
		cmd.Stderr = io.MultiWriter(tail, progress)
	} else {
		cmd.Stderr = tail
	}
	err = cmd.Run()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrFailed, ctxErr)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("%w: nix %s: %v\n%s", ErrFailed, strings.Join(full, " "), err, tail.String())
		}
		return nil, fmt.Errorf("%w: running %s: %v", ErrFailed, bin, err)
	}
	return stdout.Bytes(), nil
}

func (n Nix) env() []string {
	if n.Env == nil {
		return []string{}
	}
	return n.Env
}

// stderrTail is how many lines of nix's stderr an error carries.
const stderrTail = 25

func optionArgs(opts map[string]string) []string {
	var out []string
	for _, kv := range sortedOptions(opts) {
		out = append(out, "--option", kv[0], kv[1])
	}
	return out
}

func sortedOptions(opts map[string]string) [][2]string {
	names := make([]string, 0, len(opts))
	for k := range opts {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([][2]string, 0, len(names))
	for _, k := range names {
		out = append(out, [2]string{k, opts[k]})
	}
	return out
}

func envValue(env []string, key string) string {
	v := ""
	for _, e := range env {
		if s, ok := strings.CutPrefix(e, key+"="); ok {
			v = s
		}
	}
	return v
}

// tailWriter keeps the last max lines written to it.
type tailWriter struct {
	mu      sync.Mutex
	max     int
	lines   []string
	partial string
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.partial + string(p)
	parts := strings.Split(s, "\n")
	t.partial = parts[len(parts)-1]
	t.lines = append(t.lines, parts[:len(parts)-1]...)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if t.partial != "" {
		lines = append(append([]string{}, lines...), t.partial)
	}
	return strings.Join(lines, "\n")
}
