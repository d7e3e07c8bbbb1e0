package cli

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildVersion is what the running binary knows of its own build: the
// module version ("(devel)" when built from a checkout), the VCS revision
// and whether the tree was modified, and the Go version.
type buildVersion struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified"`
	Go       string `json:"go"`
}

// versionOf reads a build's version from its build information (nil: the
// binary carries none).
func versionOf(bi *debug.BuildInfo) buildVersion {
	if bi == nil {
		return buildVersion{Version: "unknown"}
	}
	v := buildVersion{Module: bi.Main.Path, Version: bi.Main.Version, Go: bi.GoVersion}
	if v.Version == "" {
		v.Version = "unknown"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one-line rendering: "v1.2.0 (revision abc…, modified) go1.26.8".
func (v buildVersion) String() string {
	s := v.Version
	if v.Revision != "" {
		s += " (revision " + v.Revision
		if v.Modified {
			s += ", modified"
		}
		s += ")"
	}
	if v.Go != "" {
		s += " " + v.Go
	}
	return s
}

// runningVersion is the version of this binary.
func runningVersion() buildVersion {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(bi)
}

func newVersionCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the module version, VCS revision and Go version of this binary",
		Long: `version prints the version of the clearcutt module this binary was built
from ("(devel)" when built from a checkout rather than installed with go
install …@VERSION), the VCS revision and whether the tree had uncommitted
changes, and the Go version. clearcutt --version prints the same line.

Exit status: 0 printed, 2 bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return renderVersion(g.stdout, runningVersion(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as JSON")
	return cmd
}

func renderVersion(w io.Writer, v buildVersion, asJSON bool) error {
	if asJSON {
		return writeJSON(w, v)
	}
	_, err := fmt.Fprintf(w, "clearcutt %s\n", v)
	return err
}
