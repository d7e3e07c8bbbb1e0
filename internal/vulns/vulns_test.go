package vulns

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/clearcutt/clearcutt/internal/gate"
)

const scanned = `{"scanner": {"uri": "pkg:golang/github.com/anchore/grype@v0.121.2", "version": "v0.121.2",
  "db": {"uri": "pkg:generic/grype-vulnerability-db@v6.1.10", "version": "v6.1.10", "lastUpdate": "2026-01-01T00:00:00Z"},
  "result": [{"id": "CVE-2026-1", "severity": [{"method": "grype", "score": "high"}], "annotations": [{"package": "openssl", "status": "active"}]}]},
 "metadata": {"scanStartedOn": "2026-01-02T00:00:00Z", "scanFinishedOn": "2026-01-02T00:01:00.5+01:00"},
 "gate": {"pass": false, "policy": "fail on high or above", "reasons": ["CVE-2026-1"], "counts": {"active": 1, "suppressed": 0, "excepted": 0, "blocking": 1, "expiredExceptions": 0, "bySeverity": {"high": 1}}}}`

func TestDecode(t *testing.T) {
	p, err := Decode(PredicateType, []byte(scanned))
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := p.ScanTime(); !ok || !at.Equal(time.Date(2026, 1, 1, 23, 1, 0, 5e8, time.UTC)) {
		t.Errorf("scan time %s %v, want the finishing time", at, ok)
	}
	if b := p.DBBuilt(); b == nil || !b.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("database built %v", b)
	}
	if pass, ok := p.Gate.Verdict(); !ok || pass || p.Gate.Counts.BySeverity["high"] != 1 {
		t.Errorf("gate %+v", p.Gate)
	}
	if r := p.Scanner.Result; len(r) != 1 || r[0].Severity[0].Method != SeverityScanner || r[0].Annotations[0][AnnotationPackage] != "openssl" {
		t.Errorf("results %+v", r)
	}

	started := strings.Replace(scanned, `, "scanFinishedOn": "2026-01-02T00:01:00.5+01:00"`, "", 1)
	if p, err := Decode(PredicateType, []byte(started)); err != nil {
		t.Fatal(err)
	} else if at, ok := p.ScanTime(); !ok || !at.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("a scan without a finishing time: %s %v, want the starting time", at, ok)
	}
	if p, err := Decode(PredicateType, []byte(`{"scanner": {}}`)); err != nil {
		t.Fatal(err)
	} else if _, ok := p.ScanTime(); ok || p.DBBuilt() != nil {
		t.Errorf("a predicate without times: %+v", p)
	}
}

// TestDecodeRefuses: another predicate type, and a predicate the readers
// cannot rely on, are ErrInvalid.
func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, predicateType, predicate, want string
	}{
		{"another predicate type", "https://in-toto.io/attestation/test-result/v0.1", scanned, `predicateType is "https://in-toto.io/attestation/test-result/v0.1", want "` + PredicateType + `"`},
		{"no predicate type", "", scanned, `predicateType is ""`},
		{"not json", PredicateType, `{"scanner": `, "unexpected end of JSON input"},
		{"not an object", PredicateType, `["scanner"]`, "cannot unmarshal array"},
		{"no scanner", PredicateType, `{"metadata": {}}`, "no scanner"},
		{"null scanner", PredicateType, `{"scanner": null}`, "no scanner"},
		{"null", PredicateType, `null`, "no scanner"},
		{"result without id", PredicateType, strings.Replace(scanned, `"id": "CVE-2026-1", `, "", 1), "scanner.result[0] has no id"},
		{"bad time", PredicateType, strings.Replace(scanned, `"2026-01-02T00:00:00Z"`, `"yesterday"`, 1), "yesterday"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.predicateType, []byte(tc.predicate))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
}

func TestGateVerdict(t *testing.T) {
	var none *Gate
	if _, ok := none.Verdict(); ok {
		t.Error("no gate object has a verdict")
	}
	var g Gate
	if err := json.Unmarshal([]byte(`{"policy": "fail on high or above"}`), &g); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Verdict(); ok {
		t.Error("a gate object without pass has a verdict")
	}
	d := gate.Decision{Pass: true, Policy: "fail on high or above", Counts: gate.Counts{BySeverity: map[string]int{}}}
	b, err := json.Marshal(NewGate(d, true))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"pass":true,"policy":"fail on high or above","counts":{"active":0,"suppressed":0,"excepted":0,"blocking":0,"expiredExceptions":0,"bySeverity":{}},"staleDBAccepted":true}`
	if string(b) != want {
		t.Errorf("gate object\n got %s\nwant %s", b, want)
	}
	var back Gate
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if pass, ok := back.Verdict(); !ok || !pass || !back.StaleDBAccepted {
		t.Errorf("gate read back %+v", back)
	}
}

// TestTimeIsWrittenAsProtobufJSON: a predicate time is written exactly as
// protobuf JSON writes a google.protobuf.Timestamp, whatever its zone and
// precision.
func TestTimeIsWrittenAsProtobufJSON(t *testing.T) {
	zone := time.FixedZone("CET", 3600)
	for _, at := range []time.Time{
		{},
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 5e8, zone),
		time.Date(2026, 1, 2, 3, 4, 5, 120e6, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 123456000, zone),
		time.Date(2026, 1, 2, 3, 4, 5, 123456780, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		got, err := json.Marshal(At(at))
		if err != nil {
			t.Fatal(err)
		}
		want, err := protojson.Marshal(timestamppb.New(at))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: got %s, want %s", at, got, want)
		}
		var back Time
		if err := json.Unmarshal(got, &back); err != nil || !back.Equal(at) {
			t.Errorf("%s read back as %s: %v", got, back, err)
		}
	}
	if _, err := json.Marshal(At(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))); err == nil {
		t.Error("a time after the year 9999 was written")
	}
}
