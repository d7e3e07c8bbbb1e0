package structure

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestStatement(t *testing.T) {
	img := distroless(t, file("usr/bin/env", 0o755, []byte("x")))
	res := run(t, img, "distroless", distrolessRules)
	b, err := res.StatementJSON()
	if err != nil {
		t.Fatal(err)
	}
	again, err := res.StatementJSON()
	if err != nil || !bytes.Equal(b, again) {
		t.Fatalf("StatementJSON is not deterministic: %v", err)
	}
	var st struct {
		Type    string `json:"_type"`
		Subject []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string `json:"predicateType"`
		Predicate     struct {
			Result        string `json:"result"`
			Configuration []struct {
				Name      string            `json:"name"`
				Digest    map[string]string `json:"digest"`
				Content   string            `json:"content"`
				MediaType string            `json:"mediaType"`
			} `json:"configuration"`
			PassedTests []string `json:"passedTests"`
			WarnedTests []string `json:"warnedTests"`
			FailedTests []string `json:"failedTests"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != "https://in-toto.io/attestation/test-result/v0.1" {
		t.Errorf("types: %s %s", st.Type, st.PredicateType)
	}
	if len(st.Subject) != 1 || st.Subject[0].Name != "registry.test/python" || st.Subject[0].Digest["sha256"] != d.Hex {
		t.Errorf("subject %+v, want digest %s", st.Subject, d.Hex)
	}
	p := st.Predicate
	if p.Result != ResultFailed {
		t.Errorf("result %s", p.Result)
	}
	if !contains(p.FailedTests, IDNoCoreutils) || contains(p.PassedTests, IDNoCoreutils) {
		t.Errorf("failed %v", p.FailedTests)
	}
	if !contains(p.WarnedTests, IDSmoke) || contains(p.PassedTests, IDSmoke) {
		t.Errorf("a skipped smoke must be warned, never passed: %v / %v", p.WarnedTests, p.PassedTests)
	}
	if !contains(p.PassedTests, IDNoShell) || len(p.PassedTests)+len(p.WarnedTests)+len(p.FailedTests) != len(res.Checks) {
		t.Errorf("passed %v", p.PassedTests)
	}
	if len(p.Configuration) != 1 {
		t.Fatalf("configuration %+v", p.Configuration)
	}
	cfg := p.Configuration[0]
	content, err := base64.StdEncoding.DecodeString(cfg.Content)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	if cfg.Name != "clearcutt-tier-rules/distroless" || cfg.Digest["sha256"] != hex.EncodeToString(sum[:]) || cfg.MediaType != "application/json" {
		t.Errorf("configuration %+v", cfg)
	}
	if string(content) != `{"shell":"forbidden","packageManager":"forbidden","coreutils":"forbidden","symbols":"forbidden","deployable":true,"credentialHelper":false}` {
		t.Errorf("canonical rules %s", content)
	}
}

func TestStatementOutcomes(t *testing.T) {
	if got := run(t, distroless(t), "distroless", distrolessRules).Outcome(); got != ResultWarned {
		t.Errorf("smoke skipped: %s", got)
	}
	for _, c := range []struct {
		statuses              []Status
		want                  string
		passed, warned, faild []string
	}{
		{[]Status{Passed}, ResultPassed, []string{"c0"}, nil, nil},
		// Not applicable: no change to the outcome, in no list.
		{[]Status{Passed, NotApplicable}, ResultPassed, []string{"c0"}, nil, nil},
		{[]Status{NotApplicable}, ResultPassed, nil, nil, nil},
		// Could not run where the image was tested.
		{[]Status{Passed, Skipped, NotApplicable}, ResultWarned, []string{"c0"}, []string{"c1"}, nil},
		{[]Status{Skipped, Failed, Passed}, ResultFailed, []string{"c2"}, []string{"c0"}, []string{"c1"}},
	} {
		res := Result{Tier: "x"}
		for i, s := range c.statuses {
			res.Checks = append(res.Checks, Check{ID: fmt.Sprintf("c%d", i), Status: s})
		}
		p := res.Predicate()
		if res.Outcome() != c.want || p.GetResult() != c.want || !slices.Equal(p.GetPassedTests(), c.passed) ||
			!slices.Equal(p.GetWarnedTests(), c.warned) || !slices.Equal(p.GetFailedTests(), c.faild) {
			t.Errorf("%v: %s (predicate %s) passed %v warned %v failed %v, want %s %v %v %v", c.statuses, res.Outcome(), p.GetResult(),
				p.GetPassedTests(), p.GetWarnedTests(), p.GetFailedTests(), c.want, c.passed, c.warned, c.faild)
		}
	}
	res := Result{Tier: "x", Checks: []Check{{ID: "a", Status: Passed}}}
	if _, err := res.StatementJSON(); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("statement without a subject digest: %v", err)
	}
}
