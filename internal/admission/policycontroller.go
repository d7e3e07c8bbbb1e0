package admission

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clearcutt/clearcutt/internal/verify"
)

// PolicyControllerFile is the file name of the ClusterImagePolicies.
const PolicyControllerFile = "policy-controller-clusterimagepolicies.yaml"

// IncludeLabel is the namespace label policy-controller enforces in.
const IncludeLabel = "policy.sigstore.dev/include"

// fulcioURL is the public-good certificate authority.
const fulcioURL = "https://fulcio.sigstore.dev"

// cip is one ClusterImagePolicy: one requirement, because the authorities
// of one policy are OR-ed while all matching policies must pass.
type cip struct {
	suffix   string
	comment  string
	enforces string
	auth     *yaml.Node
}

func renderPolicyController(s spec) (File, []Rule, error) {
	mode := "enforce"
	if s.profile == ProfileAudit {
		mode = "warn"
	}
	signed := func(ids []verify.Identity, comment, name, predicateType, cue string) *yaml.Node {
		att := []field{kv("name", name), kv("predicateType", predicateType)}
		if cue != "" {
			att = append(att, ckv("CUE unification would fill in a field the statement lacks: each check collects the\n"+
				"field's values from the statement and requires exactly the value it names.", "policy", obj(kv("type", "cue"), kv("data", cue))))
		}
		var identities []any
		for _, id := range ids {
			identities = append(identities, obj(kv("issuer", id.Issuer), kv("subject", id.SAN)))
		}
		return obj(
			kv("name", "fleet"),
			ckv(comment, "keyless", obj(
				kv("url", fulcioURL),
				kv("identities", list(identities...)),
			)),
			kv("ctlog", flow(obj(kv("url", rekorURL)))),
			ckv("ClearCutt stores Sigstore bundles as OCI referrers (or under the sha256-<digest> tag fallback).", "signatureFormat", "bundle"),
			kv("attestations", list(obj(att...))),
		)
	}
	const fleetComment = "The fleet identity from clearcutt.yaml, exactly: issuer and Build Signer URI (no regular\n" +
		"expressions). policy-controller matches no Fulcio extensions: the Source Repository URI and Ref\n" +
		"are not pinned here (docs/admission.md)."
	fleetSigned := func(name, predicateType, cue string) *yaml.Node {
		return signed([]verify.Identity{s.signer}, fleetComment, name, predicateType, cue)
	}
	scanIDs, scanComment := []verify.Identity{s.signer}, fleetComment
	if s.rescan != nil {
		scanIDs = append(scanIDs, *s.rescan)
		scanComment = "The fleet identity or the rescan identity (identity.rescanWorkflow), exactly: issuer and Build\n" +
			"Signer URI (no regular expressions); a bundle verifies when it matches either."
	}
	policies := []cip{
		{
			suffix: "signature",
			comment: "The image is signed by the fleet identity. With signatureFormat bundle, policy-controller reads\n" +
				"signatures through its attestation path: the cosign v3 signature is an in-toto statement of type\n" +
				PredicateSignature + ".",
			enforces: "is signed by " + s.signerText(),
			auth:     fleetSigned("signature", PredicateSignature, ""),
		},
		{
			suffix:   "sbom",
			comment:  "The image has an SPDX 2.3 SBOM attestation from the fleet identity.",
			enforces: "has an SPDX SBOM attestation from the fleet identity",
			auth:     fleetSigned("sbom", PredicateSBOM, cuePolicy(cueCheck{path: []string{"spdxVersion"}, want: cueString("SPDX-2.3")})),
		},
		{
			suffix: "tests",
			comment: "The image's test result is PASSED or WARNED, attested by the fleet identity. WARNED means every\n" +
				"tier invariant that ran passed and a check that applies (the smoke run) could not run where the image\n" +
				"was tested; FAILED is refused (docs/admission.md, \"Test results\").",
			enforces: "has a PASSED or WARNED in-toto test-result attestation from the fleet identity",
			auth:     fleetSigned("tests", PredicateTestResult, cuePolicy(cueCheck{path: []string{"result"}, want: cueString(TestPassed) + " | " + cueString(TestWarned)})),
		},
		{
			suffix: "vulnerabilities",
			comment: "The image's vulnerability scans passed the fleet's gate. policy-controller admits the image when\n" +
				"at least one scan of its digest, signed by one of these identities, satisfies the policy: a failed\n" +
				"scan does not refuse an image that also has a passing one (docs/admission.md, \"The vulnerability gate\").",
			enforces: "has a vulnerability scan signed by " + s.scanSignerText() + " that says gate.pass true and no stale database accepted",
			auth: signed(scanIDs, scanComment, "vulnerabilities", PredicateVulns, cuePolicy(
				cueCheck{path: []string{GateField, GatePass}, want: "true"},
				cueCheck{path: []string{GateField, GateStaleDBAccepted}, want: "false", orAbsent: true},
			)),
		},
		{
			suffix: "provenance",
			comment: "SLSA provenance from slsa-github-generator's container workflow (cosign's legacy .att tag),\n" +
				"whose predicate names the generator as builder and the fleet repository at its ref as source.",
			enforces: fmt.Sprintf("has SLSA provenance signed by %s about %s at %s", s.provenance.SAN, s.githubRepository, s.githubRef),
			auth: obj(
				kv("name", "slsa-github-generator"),
				kv("keyless", obj(
					kv("url", fulcioURL),
					kv("identities", list(obj(kv("issuer", s.provenance.Issuer), kv("subject", s.provenance.SAN)))),
				)),
				kv("ctlog", flow(obj(kv("url", rekorURL)))),
				kv("attestations", list(obj(
					kv("name", "provenance"),
					kv("predicateType", PredicateProvenance),
					ckv("The same CUE checks as above: each field must be present with exactly this value.", "policy", obj(kv("type", "cue"), kv("data", cuePolicy(
						cueCheck{path: []string{"builder", "id"}, want: cueString(s.provenance.SAN)},
						cueCheck{path: []string{"invocation", "configSource", "uri"}, want: cueString(ConfigSourceURI(s.githubRepository, s.githubRef))},
					)))),
				))),
			),
		},
	}
	var (
		docs  []document
		names []string
		rules []Rule
	)
	for i, p := range policies {
		name := s.fleetName + "-" + p.suffix
		names = append(names, name)
		rules = append(rules, Rule{Engine: EnginePolicyController, Policy: name, Enforces: fmt.Sprintf("every %s image %s", s.imagePattern(), p.enforces)})
		head := p.comment
		if i == 0 {
			head = policyControllerHeader(s) + "\n\n" + head
		}
		docs = append(docs, document{head: head, root: obj(
			kv("apiVersion", "policy.sigstore.dev/v1beta1"),
			kv("kind", "ClusterImagePolicy"),
			kv("metadata", obj(kv("name", name))),
			kv("spec", obj(
				kv("mode", mode),
				kv("images", list(obj(kv("glob", s.imagePattern())))),
				kv("authorities", list(p.auth)),
			)),
		)})
	}
	content, err := encode(docs...)
	if err != nil {
		return File{}, nil, err
	}
	return File{Name: PolicyControllerFile, Engine: EnginePolicyController, Kind: "ClusterImagePolicy", Policies: names, Content: string(content)}, rules, nil
}

func policyControllerHeader(s spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sigstore policy-controller ClusterImagePolicies for the ClearCutt fleet %q, generated by\n", s.fleetName)
	fmt.Fprintf(&b, "`clearcutt admission` from %s (profile %s). Regenerate them after editing clearcutt.yaml.\n", s.fleetPath, s.profile)
	b.WriteString("\nNeeds policy-controller 0.13 or later (signatureFormat bundle). One policy per requirement: the\n")
	b.WriteString("authorities inside one policy are OR-ed, while every policy that matches an image must pass.\n")
	if s.profile == ProfileAudit {
		b.WriteString("Mode warn: violations are returned as admission warnings and the Pod is admitted.\n")
	} else {
		b.WriteString("Mode enforce: a Pod whose image fails any of these policies is rejected.\n")
	}
	fmt.Fprintf(&b, "\npolicy-controller acts only in namespaces labelled %s=true. Opt the production\n", IncludeLabel)
	b.WriteString("namespaces in:\n")
	if len(s.namespaces.Names) > 0 {
		for _, n := range s.namespaces.Names {
			fmt.Fprintf(&b, "  kubectl label namespace %s %s=true\n", n, IncludeLabel)
		}
	} else {
		fmt.Fprintf(&b, "  kubectl label namespace -l '%s' %s=true\n", s.namespacesText, IncludeLabel)
	}
	if len(s.deniedTiers) > 0 {
		fmt.Fprintf(&b, "policy-controller cannot read image labels, so it cannot keep the %s tier out of those\n", strings.Join(s.deniedTiers, ", "))
		b.WriteString("namespaces: the Kyverno policy does that (docs/admission.md).\n")
	}
	b.WriteString("The evidence is read at the digest the Pod runs; see docs/admission.md, \"Multi-platform images\".")
	return b.String()
}
