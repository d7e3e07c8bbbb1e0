package cli

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"
)

// TestVulndbBuildJSON: `vulndb build --json` reports the database written:
// its file, schema version, recorded build time, digest and advisory count.
func TestVulndbBuildJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "db")
	code, stdout, errs := run(t, "vulndb", "build", "--advisories", "../../testdata/vulndb/advisories.yaml",
		"--out", out, "--built-at", "2026-01-02T03:04:05Z", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Path          string    `json:"path"`
		SchemaVersion string    `json:"schemaVersion"`
		Built         time.Time `json:"built"`
		Digest        string    `json:"digest"`
		Advisories    int       `json:"advisories"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report %q: %v", stdout, err)
	}
	if filepath.Dir(rep.Path) != out || rep.SchemaVersion == "" || len(rep.Digest) != 64 || rep.Advisories == 0 ||
		!rep.Built.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("report: %s", stdout)
	}
}
