// Command actiondocs regenerates actions/<stage>/README.md from each
// action.yml. Run it from the repository root:
//
//	go run ./internal/actionlint/cmd/actiondocs
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/clearcutt/clearcutt/internal/actionlint"
	"github.com/clearcutt/clearcutt/internal/fsutil"
)

func main() {
	if err := run("."); err != nil {
		fmt.Fprintln(os.Stderr, "actiondocs:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	actions, err := actionlint.LoadAll(root)
	if err != nil {
		return err
	}
	if len(actions) == 0 {
		return fmt.Errorf("no actions/*/action.yml under %s", root)
	}
	for _, a := range actions {
		path := filepath.Join(filepath.Dir(a.Path), actionlint.ReadmeName)
		if err := fsutil.WriteFileAtomic(path, actionlint.Readme(a), 0o644); err != nil {
			return err
		}
		fmt.Println(path)
	}
	return nil
}
