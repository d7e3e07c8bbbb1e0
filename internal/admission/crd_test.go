package admission_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/clearcutt/clearcutt/internal/admission"
	"github.com/clearcutt/clearcutt/internal/sigtest"
)

// crdSchema compiles the openAPIV3Schema of version of the CRD in file
// (testdata/admission, vendored from the engine's module) into a JSON
// schema. Every object schema that lists properties and does not preserve
// unknown fields gets additionalProperties: false, so a misspelt field —
// which the API server would silently prune — is an error, as with
// `kubectl apply --validate=strict`.
func crdSchema(t *testing.T, file, version string) *jsonschema.Schema {
	t.Helper()
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string `yaml:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
				} `yaml:"schema"`
			} `yaml:"versions"`
		} `yaml:"spec"`
	}
	path := filepath.Join("..", "..", "testdata", "admission", file)
	if err := yaml.Unmarshal(mustRead(t, path), &crd); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != version {
			continue
		}
		s := v.Schema.OpenAPIV3Schema
		strict(s)
		// The CRD schema describes spec and status; the object around them
		// is Kubernetes' own.
		props := s["properties"].(map[string]any)
		props["apiVersion"] = map[string]any{"type": "string"}
		props["kind"] = map[string]any{"type": "string"}
		props["metadata"] = map[string]any{"type": "object", "required": []any{"name"},
			"properties": map[string]any{"name": map[string]any{"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 253},
				"annotations": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}},
			"additionalProperties": false}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustJSON(t, s)))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft7)
		if err := c.AddResource("crd.json", doc); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile("crd.json")
		if err != nil {
			t.Fatalf("%s %s: %v", file, version, err)
		}
		return sch
	}
	t.Fatalf("%s has no version %s", path, version)
	return nil
}

// strict closes every object schema that lists its properties.
func strict(v any) {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["properties"]; ok {
			if _, set := x["additionalProperties"]; !set && x["x-kubernetes-preserve-unknown-fields"] != true {
				x["additionalProperties"] = false
			}
		}
		for _, e := range x {
			strict(e)
		}
	case []any:
		for _, e := range x {
			strict(e)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// documents splits a generated file into its YAML documents, as JSON
// values the schema validator reads.
func documents(t *testing.T, content string) []any {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(content))
	var out []any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("generated YAML does not parse: %v\n%s", err, content)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustJSON(t, doc)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
}

// TestPoliciesMatchCRDSchemas validates every generated object against the
// published CRD schema of its engine: policy-controller v0.14.0's
// ClusterImagePolicy v1beta1 and Kyverno v1.19.1's ClusterPolicy v1.
func TestPoliciesMatchCRDSchemas(t *testing.T) {
	key, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[admission.Engine]*jsonschema.Schema{
		admission.EnginePolicyController: crdSchema(t, "policy-controller-v0.14.0-clusterimagepolicy.yaml", "v1beta1"),
		admission.EngineKyverno:          crdSchema(t, "kyverno-v1.19.1-clusterpolicies.yaml", "v1"),
	}
	kinds := map[admission.Engine]string{
		admission.EnginePolicyController: "policy.sigstore.dev/v1beta1 ClusterImagePolicy",
		admission.EngineKyverno:          "kyverno.io/v1 ClusterPolicy",
	}
	f := loadFleet(t, "")
	for _, c := range []struct {
		name string
		o    admission.Options
		docs map[admission.Engine]int
	}{
		{"keyless enforce", admission.Options{}, map[admission.Engine]int{admission.EngineKyverno: 1, admission.EnginePolicyController: 5}},
		{"keyless audit, namespaces by name", admission.Options{Profile: admission.ProfileAudit, ProductionNamespaces: "prod,payments"}, map[admission.Engine]int{admission.EngineKyverno: 1, admission.EnginePolicyController: 5}},
		{"key mode, selector expressions", admission.Options{Engines: []admission.Engine{admission.EngineKyverno}, PublicKeyPEM: key.PublicKeyPEM(),
			ProductionNamespaces: "env in (prod,critical),!sandbox,team!=qa"}, map[admission.Engine]int{admission.EngineKyverno: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := admission.Generate(f, c.o)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[admission.Engine]int{}
			for _, file := range res.Files {
				for _, doc := range documents(t, file.Content) {
					m := doc.(map[string]any)
					if got := m["apiVersion"].(string) + " " + m["kind"].(string); got != kinds[file.Engine] {
						t.Errorf("%s: %s, want %s", file.Name, got, kinds[file.Engine])
					}
					if err := schemas[file.Engine].Validate(doc); err != nil {
						t.Errorf("%s does not match the CRD schema: %v", file.Name, err)
					}
					seen[file.Engine]++
				}
			}
			for e, n := range c.docs {
				if seen[e] != n {
					t.Errorf("%s: %d documents, want %d", e, seen[e], n)
				}
			}
		})
	}
}

// TestCRDSchemaCatchesMistakes shows the schema check can fail: misspelt
// and wrongly typed fields are rejected for both engines.
func TestCRDSchemaCatchesMistakes(t *testing.T) {
	res, err := admission.Generate(loadFleet(t, ""), admission.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file, crd, version, from, to string
	}{
		{admission.PolicyControllerFile, "policy-controller-v0.14.0-clusterimagepolicy.yaml", "v1beta1", "subject: https://github.com/clearcutt", "subjectRegexp: https://github.com/clearcutt"},
		{admission.PolicyControllerFile, "policy-controller-v0.14.0-clusterimagepolicy.yaml", "v1beta1", "mode: enforce", "mode: [enforce]"},
		{admission.KyvernoFile, "kyverno-v1.19.1-clusterpolicies.yaml", "v1", "mutateDigest: true", "mutateDigests: true"},
		{admission.KyvernoFile, "kyverno-v1.19.1-clusterpolicies.yaml", "v1", "type: SigstoreBundle", "type: Bundle"},
	} {
		sch := crdSchema(t, c.crd, c.version)
		var content string
		for _, f := range res.Files {
			if f.Name == c.file {
				content = f.Content
			}
		}
		bad := strings.Replace(content, c.from, c.to, 1)
		if bad == content {
			t.Fatalf("%q not found in %s", c.from, c.file)
		}
		if err := sch.Validate(documents(t, bad)[0]); err == nil {
			t.Errorf("%s: the schema accepted %q", c.file, c.to)
		}
	}
}
