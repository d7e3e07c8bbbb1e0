package cli

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gate"
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

// fleetVulnerabilities is the fleet's vulnerability gate, or the defaults
// without a fleet file.
func fleetVulnerabilities(f *fleet.File) fleet.Vulnerabilities {
	if f != nil {
		return f.Vulnerabilities
	}
	return fleet.Vulnerabilities{FailOn: fleet.DefaultFailOn, MaxDBAge: fleet.DefaultMaxDBAge, MaxScanAge: fleet.DefaultMaxScanAge}
}

// gatePolicy is the vulnerability gate of the fleet file, with --fail-on
// replacing its threshold and --only-fixable narrowing it.
func gatePolicy(f *fleet.File, failOnFlag string, onlyFixableFlag bool) (gate.Severity, bool, error) {
	v := fleetVulnerabilities(f)
	name := v.FailOn
	if failOnFlag != "" {
		name = failOnFlag
	}
	failOn, ok := gate.ParseSeverity(name)
	if name == "any" {
		failOn, ok = gate.Unknown, true
	}
	if !ok || name == "unknown" {
		what := "--fail-on"
		if failOnFlag == "" && f != nil {
			what = f.Path + ": vulnerabilities.failOn"
		}
		return 0, false, usageError{fmt.Errorf("%s %q: want critical, high, medium, low, negligible or any", what, name)}
	}
	return failOn, v.OnlyFixable || onlyFixableFlag, nil
}

// maxAges are the fleet file's maximum database and scan ages, each
// replaced by its flag when given.
func maxAges(f *fleet.File, dbFlag, scanFlag time.Duration) (maxDB, maxScan time.Duration) {
	maxDB, maxScan = fleetVulnerabilities(f).Ages()
	if dbFlag > 0 {
		maxDB = dbFlag
	}
	if scanFlag > 0 {
		maxScan = scanFlag
	}
	return maxDB, maxScan
}

const (
	failOnUsage      = "lowest severity that fails the vulnerability gate: critical, high, medium, low, negligible or any (default: vulnerabilities.failOn in clearcutt.yaml, else high)"
	onlyFixableUsage = "fail the vulnerability gate only on findings with a known fix (default: vulnerabilities.onlyFixable)"
	maxDBAgeUsage    = "oldest vulnerability database a scan may use (default: vulnerabilities.maxDBAge, else 120h)"
	maxScanAgeUsage  = "a newest vulnerability scan older than this is pending (default: vulnerabilities.maxScanAge, else 24h)"
)
