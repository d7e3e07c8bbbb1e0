package cli

import (
	"bytes"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/oci/ocitest"
	"github.com/clearcutt/clearcutt/internal/site"
	"github.com/clearcutt/clearcutt/internal/site/sitetest"
	"github.com/clearcutt/clearcutt/internal/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestSiteCommand(t *testing.T) {
	dir := t.TempDir()
	cat, out := filepath.Join(dir, "catalog"), filepath.Join(dir, "public")
	c := sitetest.Catalog(sitetest.Options{})
	sitetest.Write(t, cat, c)

	code, stdout, errs := run(t, "site", "--catalog", cat, "--out", out, "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res site.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if res.OutDir != out || res.Images != len(c.Images) || len(res.Pages) != 1+len(c.Images) {
		t.Fatalf("report %+v", res)
	}
	for _, f := range res.Files {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("reported %s: %v", f, err)
		}
	}

	// Text output; a second run replaces the site.
	code, stdout, errs = run(t, "site", "--catalog", cat, "--out", out)
	if code != ExitOK || !strings.Contains(stdout, "wrote 6 pages for 5 images to "+out) {
		t.Fatalf("exit %d: %s%s", code, stdout, errs)
	}

	// Usage errors: flags, a bad catalog, a directory that is not a site.
	writeFile(t, filepath.Join(dir, "notes.txt"), "keep")
	bad := filepath.Join(dir, "bad")
	sitetest.Write(t, bad, c)
	writeFile(t, filepath.Join(bad, catalog.FileName), `{"apiVersion": "catalog.clearcutt.dev/v1alpha1", "images": [{"runtime": "../x"}]}`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"site", "--out", out}, `required flag(s) "catalog"`},
		{[]string{"site", "--catalog", cat}, `required flag(s) "out"`},
		{[]string{"site", "--catalog", filepath.Join(dir, "none"), "--out", out}, "catalog.json: no such file"},
		{[]string{"site", "--catalog", bad, "--out", out}, filepath.Join(bad, catalog.FileName) + `: fleet: neither identity nor publicKey`},
		{[]string{"site", "--catalog", cat, "--out", dir}, "not a directory written by clearcutt site"},
		{[]string{"site", "--catalog", cat, "--out", cat}, "holds the catalog"},
	} {
		code, _, errs := run(t, tc.args...)
		if code != ExitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q: %s", tc.args, code, ExitUsage, tc.want, errs)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(b) != "keep" {
		t.Error("a refused run touched the directory")
	}
	// Writing fails (the parent is a file): exit 3, and nothing is left.
	code, _, errs = run(t, "site", "--catalog", cat, "--out", filepath.Join(dir, "notes.txt", "site"))
	if code != ExitRuntime {
		t.Errorf("unwritable out: exit %d, want %d: %s", code, ExitRuntime, errs)
	}
}

var siteCommandRE = regexp.MustCompile(`(?s)<pre><code>(.*?)</code></pre>`)

// siteCommands returns the commands of a site page, each as the argv a
// shell gives the program.
func siteCommands(t *testing.T, page string) [][]string {
	t.Helper()
	const stubs = `for tool in clearcutt cosign docker slsa-verifier; do eval "$tool() { printf '%s\0' $tool \"\$@\"; }"; done` + "\n"
	var out [][]string
	for _, m := range siteCommandRE.FindAllStringSubmatch(page, -1) {
		cmd := exec.Command("bash", "-c", stubs+html.UnescapeString(m[1]))
		cmd.Env = testenv.CleanEnv()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("bash: %v %s\n%s", err, stderr.String(), m[1])
		}
		out = append(out, strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00"))
	}
	return out
}

// TestSiteVerifyCommandBindsTheIdentity parses the site's clearcutt verify
// commands with the real command tree: every flag exists and carries the
// fleet's exact identity (or key), and the reference is the index digest.
func TestSiteVerifyCommandBindsTheIdentity(t *testing.T) {
	for _, o := range []sitetest.Options{{Hostile: true}, {KeyMode: true, Hostile: true}} {
		dir := t.TempDir()
		c := sitetest.Catalog(o)
		sitetest.Write(t, filepath.Join(dir, "catalog"), c)
		if code, _, errs := run(t, "site", "--catalog", filepath.Join(dir, "catalog"), "--out", filepath.Join(dir, "site")); code != 0 {
			t.Fatal(errs)
		}
		im := c.Images[0]
		page, err := os.ReadFile(filepath.Join(dir, "site", "images", im.Runtime+"-"+im.Tier+".html"))
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, args := range siteCommands(t, string(page)) {
			if args[0] != "clearcutt" {
				continue
			}
			found = true
			root := newRoot(&globals{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
			cmd, rest, err := root.Find(args[1:])
			if err != nil || cmd.Name() != "verify" {
				t.Fatalf("%v: %v", args, err)
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Fatalf("clearcutt verify rejects the site's flags %v: %v", rest, err)
			}
			want := map[string]string{"key": c.Fleet.PublicKey}
			if c.Fleet.PublicKeyPEM != "" {
				want["key"] = "cosign.pub" // the key the site publishes
			}
			if id := c.Fleet.Identity; id != nil {
				want = map[string]string{
					"certificate-identity": id.BuildSignerURI, "certificate-oidc-issuer": id.Issuer,
					"source-repository": id.SourceRepositoryURI, "source-ref": id.SourceRepositoryRef,
					"rescan-identity": id.RescanSignerURI,
				}
			}
			for flag, v := range want {
				if got, err := cmd.Flags().GetString(flag); err != nil || got != v {
					t.Errorf("key mode %v: --%s = %q, want %q (%v)", o.KeyMode, flag, got, v, err)
				}
			}
			if pos := cmd.Flags().Args(); len(pos) != 1 || pos[0] != im.Reference {
				t.Errorf("key mode %v: arguments %v, want %s", o.KeyMode, pos, im.Reference)
			}
		}
		if !found {
			t.Errorf("key mode %v: no clearcutt verify command on the page", o.KeyMode)
		}
	}
}

// TestSiteOfPublishedFleet publishes an image with the real pipeline to a
// registry, catalogs it, renders the site, and runs every verification
// command of the image's page as a reader would paste it: each must pass.
func TestSiteOfPublishedFleet(t *testing.T) {
	repo := needPipelineTools(t)
	testenv.Need(t, "cosign", "scripts/install-tools.sh")
	host := ocitest.StartDistribution(t)
	dir := t.TempDir()
	example, err := os.ReadFile(filepath.Join(repo, "clearcutt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(example), "\n  flake: nix\n", "\n  flake: "+filepath.Join(repo, "nix")+"\n", 1)
	src = strings.Replace(src, "\n  repository: ghcr.io/clearcutt/fleet\n", "\n  repository: "+host+"/fleet\n", 1)
	if !strings.Contains(src, host+"/fleet") || !strings.Contains(src, filepath.Join(repo, "nix")) {
		t.Fatal("the example fleet has no registry.repository or nix.flake line to replace")
	}
	fleetFile := filepath.Join(dir, "clearcutt.yaml")
	writeFile(t, fleetFile, src)

	start := time.Now()
	rep := pipelineJSON(t, ExitOK, "-f", fleetFile, "pipeline", "--only", "python:distroless", "--nixpkgs", filepath.Join(repo, "nix/fixtures"),
		"--db", testDB(t, repo), "--vex-dir", filepath.Join(repo, "vex"), "--exceptions", filepath.Join(repo, "exceptions.yaml"), "--no-smoke",
		"--work", filepath.Join(dir, "work"), "--cache", filepath.Join(dir, "cache"), "--to", host+"/fleet")
	t.Logf("pipeline: %s", time.Since(start).Round(time.Second))
	if len(rep.Images) != 1 || rep.Images[0].Published == "" {
		t.Fatalf("pipeline published %+v", rep.Images)
	}
	key, err := defaultKeyPath()
	if err != nil {
		t.Fatal(err)
	}
	images := filepath.Join(dir, "images.json")
	writeFile(t, images, `{"python:distroless": "`+rep.Images[0].Published+`"}`)
	cat, out := filepath.Join(dir, "catalog"), filepath.Join(dir, "site")
	if code, stdout, errs := run(t, "-f", fleetFile, "catalog", "--images", images, "--key", key+".pub", "--out", cat); code != ExitOK {
		t.Fatalf("catalog exit %d: %s%s", code, stdout, errs)
	}
	if code, _, errs := run(t, "site", "--catalog", cat, "--out", out); code != ExitOK {
		t.Fatalf("site exit %d: %s", code, errs)
	}
	page, err := os.ReadFile(filepath.Join(out, "images", "python-distroless.html"))
	if err != nil {
		t.Fatal(err)
	}
	// The page lists the packages of the real SBOMs, python3 once.
	if n := len(regexp.MustCompile(`<tr><th scope="row">python3[ <]`).FindAllIndex(page, -1)); n != 1 {
		t.Errorf("python3 is listed %d times on the page, want once", n)
	}
	counts := map[string]int{}
	published, err := name.NewDigest(rep.Images[0].Published)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range siteCommands(t, string(page)) {
		counts[args[0]+" "+args[1]]++
		// The page's key is the site's cosign.pub, downloaded next to it.
		for i, a := range args {
			if a == "cosign.pub" {
				args[i] = filepath.Join(out, a)
			}
		}
		ref := args[len(args)-1]
		if args[0] != "docker" && !strings.Contains(ref, "@sha256:") {
			t.Errorf("%v: not by digest", args)
		}
		switch args[0] {
		case "docker":
			// No docker daemon here: resolve what the pull would fetch.
			r, err := name.ParseReference(ref)
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			desc, err := remote.Head(r)
			if err != nil || args[1] != "pull" || desc.Digest.String() != published.DigestStr() {
				t.Errorf("%v: names %v (%v), want the published index %s", args, desc, err, published.DigestStr())
			}
		case "clearcutt":
			// Run from the fleet's checkout, as the page says.
			code, stdout, errs := run(t, append([]string{"-f", fleetFile}, args[1:]...)...)
			if code != ExitOK {
				t.Errorf("%v: exit %d\n%s%s", args, code, stdout, errs)
			}
		case "cosign":
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = testenv.CleanEnv("HOME=" + t.TempDir())
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%v: %v\n%s", args, err, b)
			}
		default:
			t.Errorf("%v: a key-signed fleet has no %s command", args, args[0])
		}
	}
	// The index and two architectures: verify, the index's signature, then
	// one command for every architecture's signatures and one for their
	// SBOMs; a pull by digest and one by each tag the release moved.
	if counts["clearcutt verify"] != 1 || counts["cosign verify"] != 2 || counts["cosign verify-attestation"] != 1 ||
		counts["docker pull"] < 2 {
		t.Errorf("commands on the page: %v", counts)
	}
}
