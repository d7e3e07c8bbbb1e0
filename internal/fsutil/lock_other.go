//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package fsutil

import (
	"os"
)

// Without flock, LockDir excludes callers in this process only.

func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
