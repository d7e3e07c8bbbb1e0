package cli

import (
	"github.com/spf13/cobra"
)

func newAppCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Build application images on fleet bases, compare bases and rebase",
		Long: `app is the application team's side of the fleet: build an application image on
a verified fleet base (app build), see what moving to a newer base changes
(app diff-base), and move a signed application image onto it without
rebuilding (app rebase). Bases are verified with the fleet identity from
clearcutt.yaml (or --key/--base-key in key mode), exactly as 'clearcutt verify'
does; application images are signed under the application repository's own
identity.`,
	}
	cmd.AddCommand(newAppBuildCmd(g), newAppDiffCmd(g), newAppRebaseCmd(g))
	return cmd
}
