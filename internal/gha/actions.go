// Package gha is the GitHub Actions side of the CLI: step outputs, step
// summaries, masks and annotations. It is the only importer of
// github.com/sethvargo/go-githubactions. Outside a GitHub Actions job
// (GITHUB_ACTIONS != "true") every method is a no-op.
package gha

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	githubactions "github.com/sethvargo/go-githubactions"
)

// Sentinel errors, wrapped with %w.
var (
	// ErrInvalidName: an output name is not [A-Za-z0-9_-]+.
	ErrInvalidName = errors.New("invalid output name")
	// ErrNoCommandFile: GITHUB_OUTPUT or GITHUB_STEP_SUMMARY is not set in a job.
	ErrNoCommandFile = errors.New("GitHub Actions command file not set")
	// ErrWrite: a command file or the workflow-command stream could not be written.
	ErrWrite = errors.New("cannot write to GitHub Actions")
	// ErrSummaryTooLarge: GitHub refuses step summaries over SummaryLimit.
	ErrSummaryTooLarge = errors.New("step summary too large")
)

// SummaryLimit is the largest step summary GitHub accepts (1 MiB).
const SummaryLimit = 1 << 20

var outputName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Actions writes outputs, summaries and workflow commands of one step.
type Actions struct {
	getenv  func(string) string
	enabled bool
	w       io.Writer
	action  *githubactions.Action
}

// Option configures New.
type Option func(*Actions)

// WithWriter sets where workflow commands (masks, annotations) are written;
// the runner reads them from stdout and stderr alike. Default: io.Discard.
func WithWriter(w io.Writer) Option { return func(a *Actions) { a.w = w } }

// New returns the adapter for the job described by getenv (the CLI passes
// os.Getenv; a nil getenv means no job).
func New(getenv func(string) string, opts ...Option) *Actions {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	a := &Actions{getenv: getenv, w: io.Discard}
	for _, o := range opts {
		o(a)
	}
	a.enabled = getenv("GITHUB_ACTIONS") == "true"
	a.action = githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(a.w))
	return a
}

// Enabled reports whether the process runs as a GitHub Actions step.
func (a *Actions) Enabled() bool { return a.enabled }

// Input is the action input name as the runner passes it (INPUT_<NAME>,
// trimmed), or "" outside Actions.
func (a *Actions) Input(name string) string {
	if !a.enabled {
		return ""
	}
	return a.action.GetInput(name)
}

// SetOutput appends name=value to $GITHUB_OUTPUT in one write. A value with
// a line break uses GitHub's heredoc form with a random delimiter
// (name<<ghadelimiter_<hex>, value, delimiter), as actions/toolkit does.
func (a *Actions) SetOutput(name, value string) error {
	if !outputName.MatchString(name) {
		return fmt.Errorf("%w: %q (want [A-Za-z0-9_-]+)", ErrInvalidName, name)
	}
	if !a.enabled {
		return nil
	}
	rec, err := outputRecord(name, value)
	if err != nil {
		return err
	}
	return a.appendFile("GITHUB_OUTPUT", rec)
}

func outputRecord(name, value string) (string, error) {
	if !strings.ContainsAny(value, "\r\n") {
		return name + "=" + value + "\n", nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	delim := "ghadelimiter_" + hex.EncodeToString(b[:])
	if strings.Contains(value, delim) {
		return "", fmt.Errorf("output %s: value contains the delimiter", name)
	}
	return name + "<<" + delim + "\n" + value + "\n" + delim + "\n", nil
}

// Summary appends markdown to $GITHUB_STEP_SUMMARY.
func (a *Actions) Summary(markdown string) error {
	if !a.enabled {
		return nil
	}
	if len(markdown) > SummaryLimit {
		return fmt.Errorf("%w: %d bytes, GitHub accepts %d", ErrSummaryTooLarge, len(markdown), SummaryLimit)
	}
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	return a.appendFile("GITHUB_STEP_SUMMARY", markdown)
}

// appendFile appends data to the command file named by env in a single
// write, so concurrent writers never interleave within a record.
func (a *Actions) appendFile(env, data string) error {
	path := a.getenv(env)
	if path == "" {
		return fmt.Errorf("%w: %s", ErrNoCommandFile, env)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrWrite, env, err)
	}
	n, err := f.Write([]byte(data))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != len(data) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrWrite, env, path, err)
	}
	return nil
}

// Mask hides value (each of its lines) in the job's logs from now on.
func (a *Actions) Mask(value string) error {
	if !a.enabled {
		return nil
	}
	for _, line := range strings.Split(strings.ReplaceAll(value, "\r\n", "\n"), "\n") {
		if line == "" {
			continue
		}
		if err := a.issue(func() { a.action.AddMask(line) }); err != nil {
			return err
		}
	}
	return nil
}

// Location places an annotation in a file; the zero value places none.
type Location struct {
	File   string
	Line   int
	Column int
}

func (l Location) fields() map[string]string {
	if l.File == "" {
		return nil
	}
	m := map[string]string{"file": l.File}
	if l.Line > 0 {
		m["line"] = strconv.Itoa(l.Line)
		if l.Column > 0 {
			m["col"] = strconv.Itoa(l.Column)
		}
	}
	return m
}

// Errorf writes an error annotation (::error file=…,line=…,col=…::msg).
func (a *Actions) Errorf(at Location, format string, args ...any) error {
	if !a.enabled {
		return nil
	}
	act := a.action.WithFieldsMap(at.fields())
	return a.issue(func() { act.Errorf(format, args...) })
}

// Warningf writes a warning annotation.
func (a *Actions) Warningf(at Location, format string, args ...any) error {
	if !a.enabled {
		return nil
	}
	act := a.action.WithFieldsMap(at.fields())
	return a.issue(func() { act.Warningf(format, args...) })
}

// issue runs a go-githubactions call, which panics when it cannot write,
// and turns that panic into an error.
func (a *Actions) issue(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrWrite, r)
		}
	}()
	f()
	return nil
}
