package cli

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestMain runs the package's tests, then stops the registries and removes
// the directories of the fixtures the tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	binaryCleanups.run()
	os.Exit(code)
}

// binaryCleanups are the cleanups of the shared fixtures, run by TestMain
// last added first.
var binaryCleanups cleanups

type cleanups struct {
	mu  sync.Mutex
	fns []func()
}

func (c *cleanups) add(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, fn)
}

func (c *cleanups) run() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// sharedTB is the testing.TB a shared fixture is built with: it fails,
// skips and logs through the test that first needs the fixture, but its
// temporary directories and cleanups last as long as the test binary.
type sharedTB struct{ testing.TB }

// TempDir returns a new directory that TestMain removes.
func (s sharedTB) TempDir() string {
	s.Helper()
	dir, err := os.MkdirTemp("", "clearcutt-cli-fixture-")
	if err != nil {
		s.Fatal(err)
	}
	binaryCleanups.add(func() { os.RemoveAll(dir) })
	return dir
}

// Cleanup registers fn with TestMain.
func (s sharedTB) Cleanup(fn func()) { binaryCleanups.add(fn) }

// fixture is a value built once per test binary, by the first test that
// needs it. A test that needs it after that build failed fails, and after
// it was skipped skips, without building it again.
type fixture[T any] struct {
	once    sync.Once
	v       T
	built   bool
	skipped bool
	// by is the test that built the value or tried to.
	by string
}

// get returns the value, building it with build (given the calling test)
// if no test has tried yet. What build must keep beyond the calling test
// it makes with sharedTB, never with t.TempDir or t.Cleanup.
func (x *fixture[T]) get(t *testing.T, what string, build func(t *testing.T) T) T {
	t.Helper()
	x.once.Do(func() {
		x.by = t.Name()
		defer func() { x.skipped = !x.built && t.Skipped() }()
		x.v = build(t)
		x.built = true
	})
	switch {
	case x.built:
	case x.skipped:
		t.Skipf("%s was skipped in %s", what, x.by)
	default:
		t.Fatalf("%s could not be built: %s failed building it", what, x.by)
	}
	return x.v
}

var (
	namespaces   atomic.Int64
	notNameChars = regexp.MustCompile(`[^a-z0-9]+`)
)

// namespace returns a repository prefix in the registry host that no other
// test (nor another run of the same test) writes to: host/<test name>-N.
func namespace(t *testing.T, host string) string {
	t.Helper()
	n := strings.Trim(notNameChars.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	return fmt.Sprintf("%s/%s-%d", host, n, namespaces.Add(1))
}
