package verify

import "testing"

func TestWorst(t *testing.T) {
	order := []Status{StatusVerified, StatusNotApplicable, StatusPending, StatusMissing, StatusFailed}
	for i, a := range order {
		for j, b := range order {
			want := a
			if j > i {
				want = b
			}
			if got := Worst(a, b); got != want {
				t.Errorf("Worst(%s, %s) = %s, want %s", a, b, got, want)
			}
		}
	}
	// An unknown status ranks with failed: of the two, the first is kept.
	if got := Worst("bogus", StatusFailed); got != "bogus" {
		t.Errorf("Worst(bogus, failed) = %s", got)
	}
	if got := Worst(StatusMissing, "bogus"); got != "bogus" {
		t.Errorf("Worst(missing, bogus) = %s", got)
	}
}
