// Command clearcutt builds, gates, publishes and verifies a hardened base-image
// fleet declared in clearcutt.yaml. See README.md.
package main

import (
	"os"

	"github.com/clearcutt/clearcutt/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
