// Command actiondocs regenerates actions/<stage>/README.md from each
// action.yml. Run it from the repository root:
//
//	go run ./internal/actions/cmd/actiondocs
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/clearcutt/clearcutt/internal/actions"
	"github.com/clearcutt/clearcutt/internal/fsutil"
)

func main() {
	if err := run("."); err != nil {
		fmt.Fprintln(os.Stderr, "actiondocs:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	all, err := actions.LoadAll(root)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return fmt.Errorf("no actions/*/action.yml under %s", root)
	}
	for _, a := range all {
		path := filepath.Join(filepath.Dir(a.Path), actions.ReadmeName)
		if err := fsutil.WriteFileAtomic(path, actions.Readme(a), 0o644); err != nil {
			return err
		}
		fmt.Println(path)
	}
	return nil
}
