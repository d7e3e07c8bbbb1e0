package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/vulndb"
	"github.com/clearcutt/clearcutt/internal/vulndb/vulndbtest"
)

// serveTestDB publishes a database built at builtAt from testdata/vulndb
// as Anchore does and serves it over HTTPS; it returns the listing URL, the
// CA file to trust and the published files.
func serveTestDB(t *testing.T, builtAt time.Time) (string, string, vulndbtest.Published) {
	t.Helper()
	pub := vulndbtest.Publish(t, buildTestDB(t, builtAt.Format(time.RFC3339)), nil)
	root := t.TempDir()
	vulndbtest.Mirror(t, root, pub)
	srv := vulndbtest.Serve(t, root)
	return srv.URL + "/databases/v6/latest.json", srv.CACert, pub
}

func TestVulndbFetchCommand(t *testing.T) {
	built := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	listing, ca, pub := serveTestDB(t, built)
	db := filepath.Join(t.TempDir(), "grype-db")

	code, out, errs := run(t, "vulndb", "fetch", "--out", db, "--url", listing, "--ca-cert", ca, "--json")
	if code != ExitOK {
		t.Fatalf("fetch: exit %d\n%s\n%s", code, out, errs)
	}
	var res vulndb.FetchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	archive := strings.TrimSuffix(listing, "latest.json") + filepath.Base(pub.Archive)
	if !res.DB.Built.Equal(built) || res.Checksum != pub.Doc.Checksum || res.ArchiveURL != archive || res.ListingURL != listing ||
		!strings.HasPrefix(res.DB.SchemaVersion, "v6.") {
		t.Fatalf("result = %s", out)
	}
	for _, want := range []string{"vulndb fetch: reading the listing " + listing, "vulndb fetch: downloading " + archive, "vulndb fetch: archive matches " + res.Checksum} {
		if !strings.Contains(errs, want) {
			t.Errorf("progress lacks %q:\n%s", want, errs)
		}
	}

	// vulndb info reads the build time the listing gave.
	code, out, errs = run(t, "vulndb", "info", db, "--json")
	if code != ExitOK {
		t.Fatalf("info: exit %d %s", code, errs)
	}
	var info vulndb.Info
	if err := json.Unmarshal([]byte(out), &info); err != nil || !info.Built.Equal(built) || info.Digest != res.DB.Digest {
		t.Fatalf("info = %s (%v)", out, err)
	}

	// scan --db matches against it.
	ref, _, evidence := scanFixture(t)
	code, out, errs = run(t, "-f", "../../clearcutt.yaml", "scan", ref, "--db", db, "--evidence", evidence)
	if code != ExitOK || !strings.Contains(out, "gate PASS") || !strings.Contains(out, "CVE-2023-40217") {
		t.Fatalf("scan --db: exit %d\n%s\n%s", code, out, errs)
	}

	// The table names what was installed and where it came from.
	code, out, errs = run(t, "vulndb", "fetch", "--out", db, "--url", listing, "--ca-cert", ca)
	if code != ExitOK {
		t.Fatalf("fetch (table): exit %d %s", code, errs)
	}
	for _, want := range []string{
		"built     " + built.Format(time.RFC3339) + ", 1h0m0s ago",
		"schema    " + res.DB.SchemaVersion,
		"checksum  " + res.Checksum + " (archive, matches the listing)",
		"source    " + archive,
		"listing   " + listing + " (status active)",
		"replaced  the database built " + built.Format(time.RFC3339),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestVulndbFetchFailures(t *testing.T) {
	listing, ca, _ := serveTestDB(t, time.Now().UTC().Add(-6*24*time.Hour))
	db := filepath.Join(t.TempDir(), "db")

	// A listing that 404s: exit 3, naming the URL.
	missing := strings.Replace(listing, "/v6/", "/v5/", 1)
	code, _, errs := run(t, "vulndb", "fetch", "--out", db, "--url", missing, "--ca-cert", ca)
	if code != ExitRuntime || !strings.Contains(errs, missing) || !strings.Contains(errs, "404") {
		t.Fatalf("404: exit %d %s", code, errs)
	}

	// A stale database is refused (exit 3) unless accepted unsafely.
	code, _, errs = run(t, "vulndb", "fetch", "--out", db, "--url", listing, "--ca-cert", ca)
	if code != ExitRuntime || !strings.Contains(errs, "vulnerability database is stale") {
		t.Fatalf("stale: exit %d %s", code, errs)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("a refused fetch created %s", db)
	}
	code, out, errs := run(t, "vulndb", "fetch", "--out", db, "--url", listing, "--ca-cert", ca, "--allow-stale-db-unsafe")
	if code != ExitOK || !strings.Contains(out, "(STALE, accepted unsafely)") || !strings.Contains(errs, "--allow-stale-db-unsafe") {
		t.Fatalf("stale accepted: exit %d\n%s\n%s", code, out, errs)
	}

	// Invocation errors: exit 2.
	notes := t.TempDir()
	writeFile(t, filepath.Join(notes, "README"), "keep")
	for name, args := range map[string][]string{
		"no --out":          {"vulndb", "fetch", "--url", listing},
		"plain http":        {"vulndb", "fetch", "--out", db, "--url", "http://127.0.0.1:1/latest.json"},
		"foreign directory": {"vulndb", "fetch", "--out", notes, "--url", listing, "--ca-cert", ca},
		"zero max age":      {"vulndb", "fetch", "--out", db, "--url", listing, "--max-age", "0s"},
	} {
		if code, _, errs := run(t, args...); code != ExitUsage {
			t.Errorf("%s: exit %d, want %d: %s", name, code, ExitUsage, errs)
		}
	}
}
