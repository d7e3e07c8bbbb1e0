package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/spf13/cobra"
)

// signingChecklist is the item of docs/forking.md that sets the rule up.
const signingChecklist = `docs/forking.md, section 4 "Settings checklist", "Environments → ` + "`clearcutt-signing`" + `"`

func newFleetCheckEnvironmentCmd(g *globals) *cobra.Command {
	var environment, repository, api string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check-environment",
		Short: "Check that the signing environment admits exactly the fleet's signing ref",
		Long: `check-environment reads the deployment branch rule of the environment
the signing jobs run in (clearcutt-signing) with GitHub's REST API, and
checks that it admits exactly identity.ref of the fleet file: the
environment exists (GitHub creates a missing one without rules when a job
names it), it has a rule, and the rule admits no other branch or tag. The
release and the nightly rescan run it before anything is signed.

The repository is --repository, else $GITHUB_REPOSITORY, else
identity.repository; the API is --api, else $GITHUB_API_URL, else
https://api.github.com. The token is $GITHUB_TOKEN or $GH_TOKEN (none: a
public repository is read anonymously); in a job it needs actions: read.

Exit status: 0 the environment admits exactly the ref, 1 it is missing or
admits more (or not the ref), 2 bad flags or fleet file, 3 the API could not
be asked or refused the token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			env := g.getenv
			if env == nil {
				env = func(string) string { return "" }
			}
			o := gha.EnvironmentCheck{API: api, Repository: repository, Environment: environment, Ref: f.Identity.Ref,
				Token: env("GITHUB_TOKEN")}
			if o.API == "" {
				o.API = env("GITHUB_API_URL")
			}
			if o.Repository == "" {
				o.Repository = env("GITHUB_REPOSITORY")
			}
			if o.Repository == "" {
				o.Repository = f.Identity.Repository
			}
			if o.Token == "" {
				o.Token = env("GH_TOKEN")
			}
			rep, err := gha.CheckEnvironment(cmd.Context(), o)
			switch {
			case errors.Is(err, gha.ErrEnvironmentOptions):
				return usageErr(err)
			case err != nil && !errors.Is(err, gha.ErrEnvironmentRule):
				return err
			}
			return g.emit(asJSON, rep, func() error { return renderEnvironment(g, rep) }, rep.OK(),
				fmt.Sprintf("environment %s of %s (%s)", rep.Environment, rep.Repository, signingChecklist))
		},
	}
	cmd.Flags().StringVar(&environment, "environment", "clearcutt-signing", "the environment the signing jobs run in")
	cmd.Flags().StringVar(&repository, "repository", "", "the repository, owner/name (default: $GITHUB_REPOSITORY, else identity.repository)")
	cmd.Flags().StringVar(&api, "api", "", "GitHub's REST API (default: $GITHUB_API_URL, else https://api.github.com)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func renderEnvironment(g *globals, r gha.EnvironmentReport) error {
	admits := "nothing"
	switch {
	case !r.Exists:
		admits = "(no such environment)"
	case r.Rule == "none":
		admits = "every branch and tag"
	case len(r.Admits) > 0:
		admits = strings.Join(r.Admits, ", ")
	}
	t := table{}
	t.add("environment", r.Repository+" "+r.Environment)
	t.add("signing ref", r.Ref)
	t.add("admits", admits)
	for _, p := range r.Problems {
		t.add("PROBLEM", p)
	}
	if r.OK() {
		t.add("verdict", "admits exactly the signing ref")
	}
	return t.write(g.stdout, tableWidth)
}
