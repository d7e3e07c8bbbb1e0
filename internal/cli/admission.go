package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/admission"
	"github.com/clearcutt/clearcutt/internal/fleet"
)

type admissionFlags struct {
	engine           string
	profile          string
	namespaces       string
	key              string
	provenanceSigner string
	out              string
	asJSON           bool
}

// admissionReport is what admission prints with --json.
type admissionReport struct {
	admission.Result
	// Out is the directory written (empty: the YAML went to stdout).
	Out     string   `json:"out,omitempty"`
	Written []string `json:"written,omitempty"`
}

func newAdmissionCmd(g *globals) *cobra.Command {
	var fl admissionFlags
	cmd := &cobra.Command{
		Use:   "admission",
		Short: "Generate Kubernetes admission policies (Kyverno, sigstore policy-controller) from clearcutt.yaml",
		Long: `admission writes the admission policies that let a cluster run images of the
fleet only with the evidence ClearCutt publishes for them:

  kyverno             a ClusterPolicy (kyverno.io/v1): the fleet's signature, SPDX SBOM
                      and PASSED test results (Sigstore bundles, type SigstoreBundle),
                      SLSA provenance from slsa-github-generator about the fleet
                      repository (keyless), vulnerability scans that passed the
                      fleet's gate (every scan of the digest), tags rewritten to
                      verified digests, and no image of a non-deployable tier (dev)
                      in production namespaces.
  policy-controller   ClusterImagePolicies (policy.sigstore.dev/v1beta1), one per
                      requirement: signature, SBOM, tests, vulnerability gate (at
                      least one passing scan), provenance (keyless only).

The identities come from clearcutt.yaml exactly as verify pins them (issuer and
Build Signer URI, no patterns); scans may also be signed by the rescan workflow.
A value an engine would read as a pattern (*, ?, [, ], {, }, $, \, spaces or
control characters) is refused, from the fleet file or from --provenance-signer.
--key PUBLIC_KEY generates key-mode policies for
fleets signed with a local key (Kyverno only; no provenance rule).
--production-namespaces is a label selector (environment=production,
"tier in (prod,critical)") or a comma-separated list of namespace names.

Without --out the YAML is printed; with --out DIR it is written to
DIR/kyverno-clusterpolicy.yaml and DIR/policy-controller-clusterimagepolicies.yaml.
See docs/admission.md for what each rule enforces and the engines' limits.

Exit status: 0 the policies were printed or written, 2 bad flags, an unusable
fleet file or key, or a value an engine would read as a pattern, 3 the files
could not be written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := runAdmission(f, fl)
			if err != nil {
				return err
			}
			switch {
			case fl.asJSON:
				return writeJSON(g.stdout, rep)
			case fl.out == "":
				return printAdmissionYAML(g.stdout, rep.Result)
			default:
				return renderAdmission(g, rep)
			}
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&fl.engine, "engine", "all", "kyverno, policy-controller or all")
	fs.StringVar(&fl.profile, "profile", string(admission.ProfileEnforce), "enforce (reject violating Pods) or audit (report them)")
	fs.StringVar(&fl.namespaces, "production-namespaces", admission.DefaultProductionNamespaces, "label selector or comma-separated namespace names the tier rule guards")
	fs.StringVar(&fl.key, "key", "", "public key (PEM) of a key-signed fleet: key-mode policies (Kyverno only)")
	fs.StringVar(&fl.provenanceSigner, "provenance-signer", "", "SAN of the SLSA provenance signer (default: slsa-github-generator's container workflow)")
	fs.StringVar(&fl.out, "out", "", "directory to write the policy files to (default: print the YAML)")
	fs.BoolVar(&fl.asJSON, "json", false, "print the report (with every file's content) as JSON")
	return cmd
}

func runAdmission(f *fleet.File, fl admissionFlags) (admissionReport, error) {
	o := admission.Options{
		Profile:              admission.Profile(fl.profile),
		ProductionNamespaces: fl.namespaces,
		ProvenanceSignerURI:  fl.provenanceSigner,
	}
	switch fl.engine {
	case "all", "":
	case string(admission.EngineKyverno), string(admission.EnginePolicyController):
		o.Engines = []admission.Engine{admission.Engine(fl.engine)}
	default:
		return admissionReport{}, usageErr(fmt.Errorf("--engine %q: want kyverno, policy-controller or all", fl.engine))
	}
	if fl.key != "" {
		pem, err := os.ReadFile(fl.key)
		if err != nil {
			return admissionReport{}, usageErr(fmt.Errorf("--key: %w", err))
		}
		o.PublicKeyPEM = pem
		if fl.engine == "all" || fl.engine == "" {
			o.Engines = []admission.Engine{admission.EngineKyverno}
		}
	}
	res, err := admission.Generate(f, o)
	if errors.Is(err, admission.ErrInvalidOptions) {
		return admissionReport{}, usageErr(err)
	}
	if err != nil {
		return admissionReport{}, err
	}
	rep := admissionReport{Result: res}
	if fl.out == "" {
		return rep, nil
	}
	written, err := admission.WriteFiles(fl.out, res.Files)
	if err != nil {
		return admissionReport{}, fmt.Errorf("--out: %w", err)
	}
	rep.Out, rep.Written = fl.out, written
	return rep, nil
}

// printAdmissionYAML prints every file as one multi-document stream.
func printAdmissionYAML(w io.Writer, res admission.Result) error {
	for i, file := range res.Files {
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(w, file.Content); err != nil {
			return err
		}
	}
	return nil
}

func renderAdmission(g *globals, rep admissionReport) error {
	t := table{}
	t.add(fmt.Sprintf("fleet %s: %s policies, profile %s, production namespaces %s", rep.Fleet, rep.Mode, rep.Profile, rep.ProductionNamespaces))
	if rep.Signer != "" {
		t.add(fmt.Sprintf("signer %s (issuer %s)", rep.Signer, rep.Issuer))
	}
	for _, p := range rep.Written {
		t.add("wrote " + p)
	}
	t.add("ENGINE", "POLICY", "RULE", "ENFORCES")
	for _, r := range rep.Rules {
		t.add(string(r.Engine), r.Policy, orDash(r.Rule), r.Enforces)
	}
	if len(rep.DeniedTiers) > 0 {
		t.add("tiers kept out of production namespaces: " + strings.Join(rep.DeniedTiers, ", "))
	}
	return t.write(g.stdout, tableWidth)
}
