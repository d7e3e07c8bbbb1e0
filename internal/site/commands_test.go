package site

import (
	"bytes"
	"context"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/site/sitetest"
	"github.com/clearcutt/clearcutt/internal/testenv"
)

var commandRE = regexp.MustCompile(`(?s)<figure class="cmd">\s*<figcaption>(.*?)</figcaption>\s*<pre><code>(.*?)</code></pre>`)

type pageCommand struct {
	title, text string
}

// pageCommands returns the verification commands of a page as a reader
// copies them.
func pageCommands(page string) []pageCommand {
	var out []pageCommand
	for _, m := range commandRE.FindAllStringSubmatch(page, -1) {
		out = append(out, pageCommand{html.UnescapeString(m[1]), html.UnescapeString(m[2])})
	}
	return out
}

// argv runs a copied command through bash with the tools replaced by a
// function that prints the arguments it got.
func argv(t *testing.T, text string) []string {
	t.Helper()
	const stubs = `for tool in clearcutt cosign slsa-verifier docker; do eval "$tool() { printf '%s\0' $tool \"\$@\"; }"; done` + "\n"
	cmd := exec.Command("bash", "-c", stubs+text)
	cmd.Env = testenv.CleanEnv()
	cmd.Dir = t.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("bash: %v %s\n%s", err, stderr.String(), text)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

func TestCommandsCarryTheExactIdentity(t *testing.T) {
	type tc struct {
		o sitetest.Options
		// pathOnly drops the key's PEM, as in catalogs written before it
		// was recorded: the commands name the key file's path.
		pathOnly bool
	}
	for _, tc := range []tc{{o: sitetest.Options{}}, {o: sitetest.Options{Hostile: true}}, {o: sitetest.Options{KeyMode: true}},
		{o: sitetest.Options{KeyMode: true, Hostile: true}}, {o: sitetest.Options{KeyMode: true, Hostile: true}, pathOnly: true}} {
		o := tc.o
		var out string
		var c *catalog.Catalog
		if tc.pathOnly {
			c = sitetest.Catalog(o)
			c.Fleet.PublicKeyPEM = ""
			dir := t.TempDir()
			sitetest.Write(t, filepath.Join(dir, "catalog"), c)
			out = filepath.Join(dir, "site")
			if _, err := Build(Options{CatalogDir: filepath.Join(dir, "catalog"), OutDir: out}); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(out, KeyFile)); err == nil {
				t.Errorf("a catalog without the key has a %s", KeyFile)
			}
		} else {
			_, out, c = buildSite(t, o)
		}
		f := c.Fleet
		keyFile := f.PublicKey
		if f.PublicKeyPEM != "" {
			keyFile = KeyFile
			if b, err := os.ReadFile(filepath.Join(out, KeyFile)); err != nil || string(b) != f.PublicKeyPEM {
				t.Errorf("%+v: %s is %q, %v: want the catalog's key", o, KeyFile, b, err)
			}
		}
		for _, im := range c.Images {
			page := readPage(t, out, "images/"+im.Runtime+"-"+im.Tier+".html")
			repo := strings.TrimSuffix(im.Reference, "@"+im.IndexDigest)
			digests := map[string]bool{im.IndexDigest: true}
			for _, p := range im.Platforms {
				digests[p.Digest] = true
			}
			count := map[string]int{}
			for _, pc := range pageCommands(page) {
				args := argv(t, pc.text)
				tool := args[0] + " " + args[1]
				count[tool]++
				// The images verified are the trailing arguments: the
				// index, or every architecture's image in platform order.
				var refs []string
				for k := len(args) - 1; k > 1 && strings.HasPrefix(args[k], repo+"@"); k-- {
					refs = append([]string{args[k]}, refs...)
				}
				if len(refs) == 0 {
					t.Errorf("%+v %s: %q verifies %s, not this image by digest", o, im.Name, pc.title, args[len(args)-1])
				}
				var ds []string
				for _, ref := range refs {
					d := strings.TrimPrefix(ref, repo+"@")
					if !digests[d] {
						t.Errorf("%+v %s: %q verifies %s, not this image by digest", o, im.Name, pc.title, ref)
					}
					ds = append(ds, d)
				}
				var platforms []string
				for _, p := range im.Platforms {
					platforms = append(platforms, p.Digest)
				}
				if strings.HasPrefix(pc.title, "Each architecture's") != slices.Equal(ds, platforms) {
					t.Errorf("%+v %s: %q verifies %v, want every architecture's image, in order, under that title only", o, im.Name, pc.title, ds)
				}
				if tool == "clearcutt verify" || tool == "slsa-verifier verify-image" {
					if !slices.Equal(ds, []string{im.IndexDigest}) {
						t.Errorf("%+v %s: %s on %v, want the index", o, im.Name, tool, ds)
					}
				}
				for _, a := range args {
					if strings.Contains(a, "regexp") {
						t.Errorf("%+v: %s: pin exact values, never patterns", o, a)
					}
				}
				want := map[string]string{}
				switch {
				case f.Identity == nil && args[0] == "clearcutt":
					want["key"] = keyFile
				case f.Identity == nil:
					want["key"] = keyFile
					if !strings.Contains(pc.text, "--insecure-ignore-tlog") {
						t.Errorf("%+v: key-signed bundles have no tlog entry: %s", o, pc.text)
					}
				case args[0] == "clearcutt":
					want = map[string]string{
						"certificate-identity": f.Identity.BuildSignerURI, "certificate-oidc-issuer": f.Identity.Issuer,
						"source-repository": f.Identity.SourceRepositoryURI, "source-ref": f.Identity.SourceRepositoryRef,
						"rescan-identity": f.Identity.RescanSignerURI,
					}
				case args[0] == "cosign":
					want = map[string]string{
						"certificate-identity": f.Identity.BuildSignerURI, "certificate-oidc-issuer": f.Identity.Issuer,
						"certificate-github-workflow-repository": "acme/fleet", "certificate-github-workflow-ref": f.Identity.SourceRepositoryRef,
					}
				case args[0] == "slsa-verifier":
					want = map[string]string{
						"source-uri": "github.com/acme/fleet", "builder-id": sitetest.BuilderID,
						"source-branch": strings.TrimPrefix(f.Identity.SourceRepositoryRef, "refs/heads/"),
					}
				}
				if args[1] == "verify-attestation" {
					want["type"] = "spdxjson"
				}
				for flag, v := range want {
					if got, ok := flagValue(args, flag); !ok || got != v {
						t.Errorf("%+v %s: %q: --%s %q, want %q\n%s", o, im.Name, pc.title, flag, got, v, pc.text)
					}
				}
			}
			// One cosign command of each kind verifies every architecture.
			wantCount := map[string]int{"clearcutt verify": 1, "cosign verify": 2, "cosign verify-attestation": 1, "slsa-verifier verify-image": 1}
			if f.Identity == nil {
				delete(wantCount, "slsa-verifier verify-image")
			}
			for tool, n := range wantCount {
				if count[tool] != n {
					t.Errorf("%+v %s: %d %q commands, want %d", o, im.Name, count[tool], tool, n)
				}
			}
		}
	}
}

var pullRE = regexp.MustCompile(`(?s)<figure class="cmd pull">\s*<figcaption>(.*?)</figcaption>\s*<pre><code>(.*?)</code></pre>`)

// TestPullCommands: each image page offers docker pull by digest first,
// then by its first tag pinned to the digest, then by each of its tags,
// every word quoted for the shell.
func TestPullCommands(t *testing.T) {
	for _, o := range []sitetest.Options{{}, {Hostile: true}} {
		_, out, c := buildSite(t, o)
		for _, im := range c.Images {
			page := readPage(t, out, "images/"+im.Runtime+"-"+im.Tier+".html")
			repo := strings.TrimSuffix(im.Reference, "@"+im.IndexDigest)
			want := [][]string{{"docker", "pull", im.Reference}}
			if len(im.Tags) > 0 {
				want = append(want, []string{"docker", "pull", repo + ":" + im.Tags[0] + "@" + im.IndexDigest})
			}
			for _, tag := range im.Tags {
				want = append(want, []string{"docker", "pull", repo + ":" + tag})
			}
			got := pullRE.FindAllStringSubmatch(page, -1)
			if len(got) != len(want) {
				t.Fatalf("%+v %s: %d pull commands, want %d", o, im.Name, len(got), len(want))
			}
			for i, m := range got {
				if args := argv(t, html.UnescapeString(m[2])); !slices.Equal(args, want[i]) {
					t.Errorf("%+v %s: pull %d is %q, want %q", o, im.Name, i, args, want[i])
				}
			}
			// Pull comes before the verification commands, near the top.
			if p, v := strings.Index(page, `id="pull"`), strings.Index(page, `id="verify"`); p < 0 || v < p || v > strings.Index(page, `id="evidence"`) {
				t.Errorf("%+v %s: pull at %d, verify at %d: want both before the evidence", o, im.Name, p, v)
			}
		}
	}
	_, out, _ := buildSite(t, sitetest.Options{Registry: "oci:/srv/fleet layout"})
	if page := readPage(t, out, "images/python-slim.html"); pullRE.MatchString(page) || !strings.Contains(page, "docker cannot pull it") {
		t.Errorf("a local layout offers docker pull")
	}
}

func TestLocalLayoutHasOnlyClearcuttVerify(t *testing.T) {
	_, out, c := buildSite(t, sitetest.Options{Registry: "oci:/srv/fleet layout"})
	page := readPage(t, out, "images/python-slim.html")
	cmds := pageCommands(page)
	if len(cmds) != 1 {
		t.Fatalf("a local layout has %d commands, want clearcutt verify only", len(cmds))
	}
	if args := argv(t, cmds[0].text); args[len(args)-1] != c.Images[3].Reference {
		t.Errorf("clearcutt verify %v, want %s", args, c.Images[3].Reference)
	}
}

// flagErrors are what cosign and slsa-verifier (cobra) say about bad flags.
var flagErrors = []string{"unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument", "required flag", "accepts 1 arg", "unknown command"}

// TestToolsAcceptTheCommands runs the cosign and slsa-verifier commands of
// the pages with the real tools against a registry port nothing listens on:
// each must get past its flags and fail for want of the network.
func TestToolsAcceptTheCommands(t *testing.T) {
	for _, tool := range []string{"cosign", "slsa-verifier"} {
		testenv.Need(t, tool, "scripts/install-tools.sh")
	}
	for _, o := range []sitetest.Options{{Registry: "127.0.0.1:9/fleet"}, {Registry: "127.0.0.1:9/fleet", KeyMode: true}} {
		_, out, c := buildSite(t, o)
		work := t.TempDir()
		if o.KeyMode {
			// The reader downloads the site's copy of the key.
			key, err := os.ReadFile(filepath.Join(out, KeyFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(work, KeyFile), key, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ran := 0
		for _, im := range []catalog.Image{c.Images[2]} {
			for _, pc := range pageCommands(readPage(t, out, "images/"+im.Runtime+"-"+im.Tier+".html")) {
				if strings.HasPrefix(pc.text, "clearcutt ") {
					continue
				}
				ran++
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				cmd := exec.CommandContext(ctx, "bash", "-c", pc.text)
				cmd.Dir = work
				cmd.Env = testenv.CleanEnv("HOME=" + t.TempDir())
				b, err := cmd.CombinedOutput()
				cancel()
				msg := strings.ToLower(string(b))
				for _, e := range flagErrors {
					if strings.Contains(msg, e) {
						t.Errorf("key mode %v: %q: the tool rejects its flags:\n%s\n%s", o.KeyMode, pc.title, pc.text, b)
					}
				}
				network := strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") ||
					strings.Contains(msg, "dial tcp") || strings.Contains(msg, "network is unreachable")
				if err == nil || !network {
					t.Errorf("key mode %v: %q: want a network failure offline, got %v:\n%s", o.KeyMode, pc.title, err, b)
				}
			}
		}
		if ran < 3 {
			t.Errorf("key mode %v: ran %d tool commands", o.KeyMode, ran)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", `a "b" $(c) ` + "`d`" + ` \e ~f #g *h`, "refs/heads/x;y", "new\nline", "'"} {
		got := argv(t, "cosign "+shellQuote(s))
		if len(got) != 2 || got[1] != s {
			t.Errorf("shellQuote(%q) = %s, read back as %q", s, shellQuote(s), got)
		}
	}
}
