package vulndb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

func TestLoadTestdata(t *testing.T) {
	f, err := Load(filepath.Join(testenv.RepoRoot(t), "testdata", "vulndb", "advisories.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Provider != "clearcutt-testdata" || len(f.Advisories) < 6 {
		t.Fatalf("file = %+v", f)
	}
}

func TestParseErrors(t *testing.T) {
	head := "apiVersion: clearcutt.dev/v1alpha1\nkind: VulnerabilityAdvisories\nadvisories:\n"
	for name, tc := range map[string]struct{ body, want string }{
		"unknown field":     {"  - id: CVE-2023-1\n    severity: high\n    affected: [{ecosystem: nix, name: a, constraint: '< 1'}]\n    score: 9\n", "line 7"},
		"bad severity":      {"  - id: CVE-2023-1\n    severity: severe\n    affected: [{ecosystem: nix, name: a, constraint: '< 1'}]\n", "x.yaml:4: advisories[0]: CVE-2023-1: severity"},
		"no constraint":     {"  - id: CVE-2023-1\n    severity: high\n    affected: [{ecosystem: nix, name: a}]\n", "constraint is required"},
		"cpe and ecosystem": {"  - id: CVE-2023-1\n    severity: high\n    affected: [{ecosystem: nix, cpe: 'cpe:2.3:a:x:y:*:*:*:*:*:*:*:*', constraint: '< 1'}]\n", "cpe excludes"},
		"bad cpe":           {"  - id: CVE-2023-1\n    severity: high\n    affected: [{cpe: 'cpe:/a:x:y', constraint: '< 1'}]\n", "not a CPE 2.3"},
		"bad distro":        {"  - id: CVE-2023-1\n    severity: high\n    affected: [{ecosystem: deb, name: a, distro: debian, constraint: '< 1'}]\n", "NAME:MAJOR"},
		"duplicate":         {"  - {id: CVE-2023-1, severity: high, affected: [{ecosystem: nix, name: a, constraint: '< 1'}]}\n  - {id: CVE-2023-1, severity: low, affected: [{ecosystem: nix, name: b, constraint: '< 1'}]}\n", "x.yaml:5: advisories[1]: duplicate id"},
		"no affected":       {"  - {id: CVE-2023-1, severity: high}\n", "no affected packages"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(head+tc.body))
			if !errors.Is(err, ErrInvalidAdvisories) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidAdvisories containing %q", err, tc.want)
			}
		})
	}
	if _, err := Parse("x.yaml", []byte("apiVersion: v1\nkind: Fleet\nadvisories: []\n")); !errors.Is(err, ErrInvalidAdvisories) {
		t.Fatalf("wrong kind: %v", err)
	}
}

func TestBuildRecordsBuildTime(t *testing.T) {
	built := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	dir := filepath.Join(t.TempDir(), "db")
	advs := []Advisory{{ID: "CVE-2023-4911", Severity: "high", Affected: []Affected{{Ecosystem: "nix", Name: "glibc", Constraint: ">= 2.34, < 2.39", Fixed: "2.39"}}}}
	if err := Build(context.Background(), dir, advs, built); err != nil {
		t.Fatal(err)
	}
	info, err := Describe(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Built.Equal(built) {
		t.Fatalf("built = %s, want %s", info.Built, built)
	}
	// Rebuilding replaces the database in place; nothing else is left behind.
	later := built.Add(48 * time.Hour)
	if err := Build(context.Background(), dir, advs, later); err != nil {
		t.Fatal(err)
	}
	if info, _ := Describe(dir); !info.Built.Equal(later) {
		t.Fatalf("rebuilt = %s, want %s", info.Built, later)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "vulnerability.db" {
		t.Fatalf("dir holds %v", entries)
	}
	// An invalid advisory writes nothing.
	bad := filepath.Join(t.TempDir(), "bad")
	if err := Build(context.Background(), bad, []Advisory{{ID: "CVE-1", Severity: "high"}}, built); !errors.Is(err, ErrInvalidAdvisories) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(bad, "vulnerability.db")); err == nil {
		t.Fatal("an invalid build left a database")
	}
	if err := Build(context.Background(), bad, advs, time.Time{}); err == nil {
		t.Fatal("a zero build time was accepted")
	}
}
