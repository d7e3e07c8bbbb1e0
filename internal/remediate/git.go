package remediate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrGit: git could not be run, or refused.
var ErrGit = errors.New("git failed")

// Git runs git in the fleet repository.
type Git struct {
	// Dir is a directory inside the repository.
	Dir string
	// Env is the complete environment of git (PATH, HOME, ...).
	Env []string
}

func (g Git) run(ctx context.Context, extraEnv []string, args ...string) (string, error) {
	bin, err := lookPath("git", pathOf(g.Env))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrGit, err)
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"-C", g.Dir}, args...)...)
	cmd.Env = append(append([]string{}, g.Env...), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: git %s: %v: %s", ErrGit, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func pathOf(env []string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			return v
		}
	}
	return ""
}

func lookPath(name, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not on PATH", name)
}

// TopLevel is the repository's root directory.
func (g Git) TopLevel(ctx context.Context) (string, error) {
	return g.run(ctx, nil, "rev-parse", "--show-toplevel")
}

// CheckNewBranch refuses a branch name git does not accept, or one that
// exists.
func (g Git) CheckNewBranch(ctx context.Context, branch string) error {
	if _, err := g.run(ctx, nil, "check-ref-format", "--branch", branch); err != nil {
		return fmt.Errorf("--branch %q is not a valid branch name", branch)
	}
	if _, err := g.run(ctx, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch); err == nil {
		return fmt.Errorf("branch %q exists: a draft goes to a new branch", branch)
	}
	return nil
}

// CheckClean refuses paths with changes that are not committed: the draft
// would overwrite them.
func (g Git) CheckClean(ctx context.Context, paths ...string) error {
	out, err := g.run(ctx, nil, append([]string{"status", "--porcelain", "--"}, paths...)...)
	if err != nil {
		return err
	}
	if out != "" {
		return fmt.Errorf("uncommitted changes in the files the draft edits:\n%s", out)
	}
	return nil
}

// SwitchNew creates branch at HEAD and switches the working tree to it;
// uncommitted changes stay in the working tree.
func (g Git) SwitchNew(ctx context.Context, branch string) error {
	_, err := g.run(ctx, nil, "switch", "--create", branch)
	return err
}

// Commit commits exactly paths (relative to the repository root) with
// message and returns the commit. Without a configured identity the
// commit is authored as "clearcutt remediate".
func (g Git) Commit(ctx context.Context, message string, paths ...string) (string, error) {
	var env []string
	if email, _ := g.run(ctx, nil, "config", "user.email"); email == "" {
		env = []string{"GIT_AUTHOR_NAME=clearcutt remediate", "GIT_AUTHOR_EMAIL=remediate@clearcutt.invalid",
			"GIT_COMMITTER_NAME=clearcutt remediate", "GIT_COMMITTER_EMAIL=remediate@clearcutt.invalid"}
	}
	if _, err := g.run(ctx, nil, append([]string{"add", "--"}, paths...)...); err != nil {
		return "", err
	}
	msg, err := os.CreateTemp("", "clearcutt-commit-")
	if err != nil {
		return "", err
	}
	defer os.Remove(msg.Name())
	if _, err := msg.WriteString(message); err != nil {
		msg.Close()
		return "", err
	}
	if err := msg.Close(); err != nil {
		return "", err
	}
	if _, err := g.run(ctx, env, append([]string{"commit", "--quiet", "--file", msg.Name(), "--"}, paths...)...); err != nil {
		return "", err
	}
	return g.run(ctx, nil, "rev-parse", "HEAD")
}
