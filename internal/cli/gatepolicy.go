package cli

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

// positiveDuration is a duration flag that refuses zero and negative
// values; unset, it leaves its target zero (the fleet file's value or the
// default then applies).
type positiveDuration struct{ d *time.Duration }

func (p positiveDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as 24h: %v", err)
	}
	if d <= 0 {
		return fmt.Errorf("must be a positive duration such as 24h")
	}
	*p.d = d
	return nil
}

func (p positiveDuration) String() string {
	if p.d == nil || *p.d == 0 {
		return ""
	}
	return p.d.String()
}

func (positiveDuration) Type() string { return "duration" }

// durationFlag registers a positiveDuration flag.
func durationFlag(fs *pflag.FlagSet, d *time.Duration, name, usage string) {
	fs.Var(positiveDuration{d}, name, usage)
}

const (
	dbUsage          = "directory of the Grype v6 vulnerability database (vulnerability.db; required; 'clearcutt vulndb build' makes one)"
	failOnUsage      = "lowest severity that fails the vulnerability gate: critical, high, medium, low, negligible or any (default: vulnerabilities.failOn in clearcutt.yaml, else high)"
	onlyFixableUsage = "fail the vulnerability gate only on findings with a known fix (default: vulnerabilities.onlyFixable)"
	maxDBAgeUsage    = "oldest vulnerability database a scan may use (default: vulnerabilities.maxDBAge, else 120h)"
	maxScanAgeUsage  = "a newest vulnerability scan older than this is pending (default: vulnerabilities.maxScanAge, else 24h)"
)
