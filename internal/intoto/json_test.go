package intoto

import (
	"testing"

	ita1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestMarshalIsCanonical(t *testing.T) {
	pred, err := structpb.NewStruct(map[string]any{"z": "<&>", "a": 1.0, "m": map[string]any{"y": true, "b": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	st := &ita1.Statement{
		Type:          ita1.StatementTypeUri,
		Subject:       []*ita1.ResourceDescriptor{{Name: "img", Digest: map[string]string{"sha256": "ab"}}},
		PredicateType: "https://example.test/p",
		Predicate:     pred,
	}
	want := `{"_type":"https://in-toto.io/Statement/v1","predicate":{"a":1,"m":{"b":"x","y":true},"z":"<&>"},"predicateType":"https://example.test/p","subject":[{"digest":{"sha256":"ab"},"name":"img"}]}`
	for i := 0; i < 20; i++ {
		got, err := Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
}
