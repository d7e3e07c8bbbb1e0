package intoto

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	trv0 "github.com/in-toto/attestation/go/predicates/test_result/v0"
	ita1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

var (
	testDigest  = map[string]string{"sha256": strings.Repeat("ab", 32)}
	testSubject = []Subject{{Name: "registry.test/python<&>", Digest: testDigest}}
)

// testResult is a test-result predicate as internal/structure writes it.
func testResult() *trv0.TestResult {
	return &trv0.TestResult{
		Result: "WARNED",
		Configuration: []*ita1.ResourceDescriptor{{
			Name:      "clearcutt-tier-rules/distroless",
			Digest:    map[string]string{"sha256": strings.Repeat("cd", 32)},
			Content:   []byte(`{"shell":"forbidden"}`),
			MediaType: "application/json",
		}},
		PassedTests: []string{"no-shell", "non-root"},
		WarnedTests: []string{"stripped\u2028"},
	}
}

// TestNewStatementBytes pins the bytes of one statement: signed evidence
// and its digests depend on them.
func TestNewStatementBytes(t *testing.T) {
	want := `{"_type":"https://in-toto.io/Statement/v1",` +
		`"predicate":{"configuration":[{"content":"eyJzaGVsbCI6ImZvcmJpZGRlbiJ9","digest":{"sha256":"` + strings.Repeat("cd", 32) + `"},"mediaType":"application/json","name":"clearcutt-tier-rules/distroless"}],` +
		`"passedTests":["no-shell","non-root"],"result":"WARNED","warnedTests":["stripped\u2028"]},` +
		`"predicateType":"https://in-toto.io/attestation/test-result/v0.1",` +
		`"subject":[{"digest":{"sha256":"` + strings.Repeat("ab", 32) + `"},"name":"registry.test/python<&>"}]}`
	for i := 0; i < 20; i++ {
		got, err := NewStatement("https://in-toto.io/attestation/test-result/v0.1", testSubject, testResult())
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}

	// The same predicate as protobuf JSON, or as a decoded value, gives
	// the same bytes.
	pj, err := protojson.Marshal(testResult())
	if err != nil {
		t.Fatal(err)
	}
	var decoded map[string]any
	if err := json.Unmarshal(pj, &decoded); err != nil {
		t.Fatal(err)
	}
	for _, p := range []any{json.RawMessage(pj), decoded} {
		got, err := NewStatement("https://in-toto.io/attestation/test-result/v0.1", testSubject, p)
		if err != nil || string(got) != want {
			t.Errorf("predicate %T: %v\ngot  %s\nwant %s", p, err, got, want)
		}
	}
}

// TestNewStatementSubjects: a subject's name is left out when empty, and
// its annotations are written when not nil, even empty.
func TestNewStatementSubjects(t *testing.T) {
	got, err := NewStatement("https://sigstore.dev/cosign/sign/v1", []Subject{
		{Digest: testDigest},
		{Name: "b", Digest: testDigest, Annotations: map[string]any{}},
	}, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_type":"https://in-toto.io/Statement/v1","predicate":{},"predicateType":"https://sigstore.dev/cosign/sign/v1","subject":[` +
		`{"digest":{"sha256":"` + testDigest["sha256"] + `"}},{"annotations":{},"digest":{"sha256":"` + testDigest["sha256"] + `"},"name":"b"}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestNewStatementKeepsNumbers: a JSON predicate's numbers are written as
// they were.
func TestNewStatementKeepsNumbers(t *testing.T) {
	got, err := NewStatement("https://spdx.dev/Document", testSubject, json.RawMessage(` {"n": 1.50, "big": 12345678901234567890, "e": 1e3} `))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"predicate":{"big":12345678901234567890,"e":1e3,"n":1.50}`; !strings.Contains(string(got), want) {
		t.Errorf("%s lacks %s", got, want)
	}
}

func TestNewStatementRefuses(t *testing.T) {
	const pt = "https://in-toto.io/attestation/vulns/v0.2"
	for _, tc := range []struct {
		name          string
		predicateType string
		subjects      []Subject
		predicate     any
		want          string
	}{
		{"no predicate type", "", testSubject, map[string]any{}, "no predicate type"},
		{"no subject", pt, nil, map[string]any{}, "no subject"},
		{"subject without digest", pt, []Subject{{Name: "x"}}, map[string]any{}, "subject[0] has no digest"},
		{"short sha256", pt, []Subject{{Digest: map[string]string{"sha256": "ab"}}}, map[string]any{}, "subject[0]: digest has incorrect length"},
		{"digest not hex", pt, []Subject{{Digest: map[string]string{"sha256": strings.Repeat("zz", 32)}}}, map[string]any{}, "subject[0]: digest is not valid hex"},
		{"array predicate", pt, testSubject, []string{"a"}, "predicate is not a JSON object"},
		{"null predicate", pt, testSubject, json.RawMessage(`null`), "predicate is not a JSON object"},
		{"not json", pt, testSubject, json.RawMessage(`{"a":`), "predicate is not a JSON object"},
		{"unencodable", pt, testSubject, map[string]any{"c": make(chan int)}, "unsupported type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewStatement(tc.predicateType, tc.subjects, tc.predicate)
			if !errors.Is(err, ErrInvalidStatement) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidStatement saying %q", err, tc.want)
			}
		})
	}
}
