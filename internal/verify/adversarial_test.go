package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// corpusCase is one case of testdata/adversarial (see its README).
type corpusCase struct {
	Name   string `json:"name"`
	Mode   string `json:"mode"`
	Policy struct {
		FailOn      string `json:"failOn"`
		OnlyFixable bool   `json:"onlyFixable"`
		MaxDBAge    string `json:"maxDBAge"`
	} `json:"policy"`
	Evidence []struct {
		Type  string          `json:"type"`
		Patch json.RawMessage `json:"patch"`
		About string          `json:"about"`
	} `json:"evidence"`
	Channel verify.Channel `json:"channel"`
	Want    verify.Status  `json:"want"`
	Reason  string         `json:"reason"`
}

// TestAdversarialCorpus signs every case of testdata/adversarial with the
// fleet's exact identity (or key) and checks the channel's verdict: the
// evidence is authentic, so what it says is what is judged.
func TestAdversarialCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/adversarial/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	keySigner, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var cases []corpusCase
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cases); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, tc := range cases {
			t.Run(strings.TrimSuffix(filepath.Base(file), ".json")+"/"+tc.Name, func(t *testing.T) {
				runCorpusCase(t, tc, keySigner)
			})
		}
	}
}

func runCorpusCase(t *testing.T, tc corpusCase, keySigner *sigtest.KeySigner) {
	f := newFixture(t)
	amd, arm := f.platforms["amd64"], f.platforms["arm64"]
	now := time.Now()
	f.policy.Gate = verify.GatePolicy{FailOn: gate.High}
	if tc.Policy.FailOn != "" {
		sev, ok := gate.ParseSeverity(tc.Policy.FailOn)
		if !ok {
			t.Fatalf("policy.failOn %q", tc.Policy.FailOn)
		}
		f.policy.Gate.FailOn = sev
	}
	f.policy.Gate.OnlyFixable = tc.Policy.OnlyFixable
	if tc.Policy.MaxDBAge != "" {
		d, err := time.ParseDuration(tc.Policy.MaxDBAge)
		if err != nil {
			t.Fatal(err)
		}
		f.policy.MaxDBAge = d
	}
	keyMode := tc.Mode == "key"
	if keyMode {
		f.policy = verify.Policy{PublicKey: keySigner.PublicKeyPEM(), Gate: f.policy.Gate, MaxDBAge: f.policy.MaxDBAge}
	}
	for i, ev := range tc.Evidence {
		base, pt := basePredicate(t, ev.Type, amd, now)
		var patch any
		if err := json.Unmarshal(ev.Patch, &patch); err != nil {
			t.Fatalf("evidence[%d].patch: %v", i, err)
		}
		pred := mergePatch(base, expand(t, patch, now, amd, arm))
		about := amd
		if ev.About == "other" {
			about = arm
		}
		st := f.statement(about, pt, pred)
		var b []byte
		var err error
		if keyMode {
			b, err = keySigner.SignStatement(context.Background(), st)
		} else {
			b, err = f.ss.SignStatement(context.Background(), signerID, st)
		}
		if err != nil {
			t.Fatal(err)
		}
		f.store(amd, pt, b)
	}
	o := f.options()
	o.Now = now
	if keyMode {
		o.Trusted = nil
	}
	rep, err := verify.Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	e := entry(t, rep, tc.Channel, "linux/amd64")
	t.Logf("%s: %s", e.Status, e.Reason)
	if e.Status != tc.Want {
		t.Fatalf("%s = %s (%s), want %s", tc.Channel, e.Status, e.Reason, tc.Want)
	}
	if tc.Reason != "" && !strings.Contains(e.Reason, tc.Reason) {
		t.Fatalf("reason %q does not say %q", e.Reason, tc.Reason)
	}
	if tc.Want != verify.StatusVerified && rep.Channel(tc.Channel).Status == verify.StatusVerified {
		t.Fatalf("channel %s verified with a %s entry", tc.Channel, e.Status)
	}
}

// basePredicate is a valid predicate of the given corpus type about d.
func basePredicate(t *testing.T, typ string, d v1.Hash, now time.Time) (any, string) {
	t.Helper()
	var m map[string]any
	var pt string
	switch typ {
	case "vulns":
		m, pt = scanAt(now.Add(-time.Hour), true), verify.PredicateVulns
		m["gate"] = map[string]any{"pass": true, "policy": "fail on high or above"}
	case "tests":
		m, pt = testsPassed(), verify.PredicateTestResult
	case "vex":
		m, pt = vexDoc(d), verify.PredicateVEX
	case "sbom":
		m, pt = sbomOf(d), verify.PredicateSBOM
	default:
		t.Fatalf("evidence type %q", typ)
	}
	// Round-trip through JSON so that patches see plain JSON values.
	b, _ := json.Marshal(m)
	var out any
	_ = json.Unmarshal(b, &out)
	return out, pt
}

// mergePatch applies an RFC 7386 JSON merge patch.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

var placeholder = regexp.MustCompile(`^\$(now|date)([+-][0-9hms]+)?$`)

// expand replaces the corpus placeholders in string values.
func expand(t *testing.T, v any, now time.Time, d, other v1.Hash) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = expand(t, e, now, d, other)
		}
	case []any:
		for i, e := range x {
			x[i] = expand(t, e, now, d, other)
		}
	case string:
		x = strings.ReplaceAll(x, "$digest", d.String())
		x = strings.ReplaceAll(x, "$other", other.String())
		if m := placeholder.FindStringSubmatch(x); m != nil {
			at := now
			if m[2] != "" {
				off, err := time.ParseDuration(strings.TrimPrefix(m[2], "+"))
				if err != nil {
					t.Fatalf("placeholder %q: %v", x, err)
				}
				at = now.Add(off)
			}
			if m[1] == "date" {
				return at.UTC().Format(time.DateOnly)
			}
			return at.UTC().Format(time.RFC3339)
		}
		return x
	}
	return v
}

// TestAdversarialIndexEntryWithoutPlatform: a signed index that carries a
// manifest no channel would check fails, naming the entry.
func TestAdversarialIndexEntryWithoutPlatform(t *testing.T) {
	for _, tc := range []struct {
		name     string
		platform *v1.Platform
	}{
		{"no platform", nil},
		{"unknown/unknown", &v1.Platform{OS: "unknown", Architecture: "unknown"}},
		{"OS without architecture", &v1.Platform{OS: "linux"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			extra, err := random.Image(128, 1)
			if err != nil {
				t.Fatal(err)
			}
			idx := mutate.AppendManifests(f.index, mutate.IndexAddendum{Add: extra, Descriptor: v1.Descriptor{Platform: tc.platform}})
			f.index, f.indexHash = idx, mustDigest(t, idx)
			f.complete()
			rep := f.run()
			for _, c := range []verify.Channel{verify.ChannelSignature, verify.ChannelSBOM, verify.ChannelTests, verify.ChannelVulnerabilities} {
				e := entry(t, rep, c, "manifests[2]")
				if e.Status != verify.StatusFailed || !strings.Contains(e.Reason, "has no platform") {
					t.Errorf("%s entry = %s (%s)", c, e.Status, e.Reason)
				}
			}
			if rep.Passed() {
				t.Fatal("an index with an unchecked manifest passed")
			}
			if entry(t, rep, verify.ChannelSBOM, "linux/amd64").Status != verify.StatusVerified {
				t.Error("the platform images still verify on their own")
			}
		})
	}
	t.Run("an index of no platform image at all cannot run", func(t *testing.T) {
		img, _ := random.Image(128, 1)
		idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})
		f := newFixture(t)
		f.index, f.indexHash = idx, mustDigest(t, idx)
		if _, err := verify.Run(context.Background(), f.options()); !errors.Is(err, verify.ErrInvalidOptions) {
			t.Fatalf("err = %v", err)
		}
	})
}

func mustDigest(t *testing.T, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAdversarialUnreadableReferrer: one referrer that cannot be read (its
// manifest deleted, a blob corrupted) fails its own channel only.
func TestAdversarialUnreadableReferrer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		claimed string
		failed  []verify.Channel
	}{
		{"SBOM referrer whose manifest is gone", verify.PredicateSBOM, []verify.Channel{verify.ChannelSBOM}},
		{"scan referrer with a corrupted blob", verify.PredicateVulns, []verify.Channel{verify.ChannelVulnerabilities}},
		{"referrer that does not say what it is", "", []verify.Channel{verify.ChannelSignature, verify.ChannelSBOM, verify.ChannelTests, verify.ChannelVulnerabilities, verify.ChannelVEX}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			amd := f.platforms["amd64"]
			f.attach(f.indexHash, verify.PredicateSignature, map[string]any{})
			f.bundles[amd] = append(f.bundles[amd], verify.StoredBundle{Digest: fakeHash(), PredicateType: tc.claimed,
				Err: errors.New("MANIFEST_UNKNOWN: manifest unknown")})
			rep := f.run()
			for _, c := range tc.failed {
				e := entry(t, rep, c, "linux/amd64")
				if e.Status != verify.StatusFailed || !strings.Contains(e.Reason, "cannot be read: MANIFEST_UNKNOWN") {
					t.Errorf("%s = %s (%s), want failed naming the referrer", c, e.Status, e.Reason)
				}
			}
			// Every other digest and channel is still reported.
			if e := entry(t, rep, verify.ChannelSignature, "index"); e.Status != verify.StatusVerified {
				t.Errorf("index signature = %s (%s)", e.Status, e.Reason)
			}
		})
	}
	t.Run("a good statement is not hidden by an unreadable sibling", func(t *testing.T) {
		f := newFixture(t)
		amd := f.platforms["amd64"]
		f.attach(amd, verify.PredicateTestResult, testsPassed())
		f.bundles[amd] = append(f.bundles[amd], verify.StoredBundle{Digest: fakeHash(), PredicateType: verify.PredicateTestResult, Err: errors.New("blob corrupted")})
		e := entry(t, f.run(), verify.ChannelTests, "linux/amd64")
		if e.Status != verify.StatusVerified || e.Rejected != 1 {
			t.Fatalf("tests = %s (%s), rejected %d", e.Status, e.Reason, e.Rejected)
		}
	})
}

// TestAdversarialTamperedPayload: a payload altered after signing is
// failed on the channel its referrer claims, never missing.
func TestAdversarialTamperedPayload(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(d v1.Hash, f *fixture) []byte
	}{
		{"payload that is not JSON", func(v1.Hash, *fixture) []byte { return []byte("{not json") }},
		{"predicate type changed to another channel", func(d v1.Hash, f *fixture) []byte {
			return f.statement(d, verify.PredicateVEX, vexDoc(d))
		}},
		{"predicate type changed to something unknown", func(d v1.Hash, f *fixture) []byte {
			return f.statement(d, "https://example.com/other/v1", testsPassed())
		}},
		{"predicate type removed", func(d v1.Hash, f *fixture) []byte {
			return []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + d.Hex + `"}}],"predicate":{"result":"PASSED"}}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			d := f.platforms["amd64"]
			b, err := f.ss.SignStatement(context.Background(), signerID, f.statement(d, verify.PredicateTestResult, map[string]any{"result": "FAILED"}))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			m["dsseEnvelope"].(map[string]any)["payload"] = tc.tamper(d, f)
			tampered, _ := json.Marshal(m)
			f.store(d, verify.PredicateTestResult, tampered)
			rep := f.run()
			e := entry(t, rep, verify.ChannelTests, "linux/amd64")
			t.Log(e.Reason)
			if e.Status != verify.StatusFailed || !errors.Is(e.Err, verify.ErrSignature) {
				t.Fatalf("tests = %s (%v), want failed with a signature error", e.Status, e.Err)
			}
			if v := entry(t, rep, verify.ChannelVEX, "linux/amd64"); v.Status == verify.StatusVerified {
				t.Fatalf("the altered statement verified as VEX")
			}
		})
	}
}

// TestAdversarialSigningMode: evidence signed the other way, or by
// another key, says so in words.
func TestAdversarialSigningMode(t *testing.T) {
	key, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	other, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		keyless bool // sign keyless (else with key)
		verify  []byte
		reason  string
	}{
		{"keyless bundle checked against a key", true, key.PublicKeyPEM(), "this bundle is keyless (certificate for " + signerID.BuildSignerURI() + "); verify it with the fleet identity, not --key"},
		{"key-signed bundle checked against the fleet identity", false, nil, "this bundle is signed with a key, not a Fulcio certificate; verify it with --key"},
		{"bundle signed by another key", false, other.PublicKeyPEM(), "does not verify with the given key: signed by another key, or altered after signing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			st := f.statement(f.indexHash, verify.PredicateSignature, map[string]any{})
			var b []byte
			if tc.keyless {
				b, err = f.ss.SignStatement(context.Background(), signerID, st)
			} else {
				b, err = key.SignStatement(context.Background(), st)
			}
			if err != nil {
				t.Fatal(err)
			}
			f.store(f.indexHash, verify.PredicateSignature, b)
			o := f.options()
			if tc.verify != nil {
				o.Policy = verify.Policy{PublicKey: tc.verify}
				o.Trusted = nil
			}
			rep, err := verify.Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			e := entry(t, rep, verify.ChannelSignature, "index")
			if e.Status != verify.StatusFailed || !strings.Contains(e.Reason, tc.reason) {
				t.Fatalf("signature = %s (%s), want it to say %q", e.Status, e.Reason, tc.reason)
			}
			for _, internal := range []string{"threshold", "Found: 0", "log entries 0 < 1", "must provide timestamp"} {
				if strings.Contains(e.Reason, internal) && !strings.Contains(e.Reason, "(") {
					t.Errorf("reason is a library internal: %s", e.Reason)
				}
			}
		})
	}
}

// TestKeyModeProvenanceNotApplicable: slsa-github-generator's provenance
// is keyless only; in key mode the channel is not_applicable, as the audit
// guide says, and not required.
func TestKeyModeProvenanceNotApplicable(t *testing.T) {
	key, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	o := f.options()
	o.Policy = verify.Policy{PublicKey: key.PublicKeyPEM()}
	o.Trusted = nil
	rep, err := verify.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	cr := rep.Channel(verify.ChannelProvenance)
	if cr.Status != verify.StatusNotApplicable || len(cr.Entries) != 1 || cr.Entries[0].Reason == "" {
		t.Fatalf("provenance in key mode = %+v", cr)
	}
	if st := rep.Channel(verify.ChannelSBOM).Status; st != verify.StatusMissing {
		t.Fatalf("other channels stay missing: sbom %s", st)
	}
}
