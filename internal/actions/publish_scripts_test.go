package actions

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/testenv"
	"go.yaml.in/yaml/v3"
)

// The scripts of the publish and rescan workflows, run as their run: steps
// run them, against files laid out as download-artifact lays them out.

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	digestC = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

// publishScript runs scripts/publish/NAME.sh with env and args in dir and
// returns its step outputs, its combined output and its error.
func publishScript(t *testing.T, dir, name string, env map[string]string, args ...string) (map[string]string, string, error) {
	t.Helper()
	testenv.Need(t, "jq", "scripts/test.sh installs it")
	root := testenv.RepoRoot(t)
	outFile := filepath.Join(t.TempDir(), "output")
	if err := os.WriteFile(outFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	extra := []string{"GITHUB_OUTPUT=" + outFile}
	for k, v := range env {
		extra = append(extra, k+"="+v)
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "publish", name+".sh"), args...)
	cmd.Dir = dir
	cmd.Env = testenv.CleanEnv(extra...)
	out, err := cmd.CombinedOutput()
	outputs := map[string]string{}
	f, ferr := os.Open(outFile)
	if ferr != nil {
		t.Fatal(ferr)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if k, delim, ok := strings.Cut(line, "<<"); ok {
			var val []string
			for sc.Scan() && sc.Text() != delim {
				val = append(val, sc.Text())
			}
			outputs[k] = strings.Join(val, "\n")
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			outputs[k] = v
		}
	}
	return outputs, string(out), err
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeLeg lays out one leg's artifact as download-artifact does by
// pattern: DIR/clearcutt-leg-<runtime>-<tier>-<arch>/{legs,evidence}.
func writeLeg(t *testing.T, dir, runtime, tier, arch, digest string) string {
	t.Helper()
	leg := filepath.Join(dir, "clearcutt-leg-"+runtime+"-"+tier+"-"+arch)
	// The leg pushes a one-platform index; its evidence is about the
	// platform manifest inside, another digest.
	platform := platformOf(digest)
	rec, _ := json.Marshal(map[string]any{"runtime": runtime, "tier": tier, "arch": arch,
		"reference": "r.example/fleet/" + runtime + "@" + digest, "evidence": []string{platform}})
	writeFile(t, filepath.Join(leg, "legs", runtime+"-"+tier+"-"+arch+".json"), string(rec))
	ev := filepath.Join(leg, "evidence", "sha256-"+strings.TrimPrefix(platform, "sha256:"))
	writeFile(t, filepath.Join(ev, "vulns.json"), `{"leg":"`+arch+`"}`)
	writeFile(t, filepath.Join(ev, "sbom.spdx.json"), `{}`)
	return leg
}

// platformOf is the platform digest inside the fixture leg image digest.
func platformOf(digest string) string {
	return "sha256:" + strings.Repeat("0", 8) + strings.TrimPrefix(digest, "sha256:")[8:]
}

func TestLegsAcceptOnlyTheirOwnEvidence(t *testing.T) {
	env := func(dir, evidence string) map[string]string {
		return map[string]string{"RUNTIME": "python", "TIER": "distroless", "ARCHES": "amd64 arm64", "DIR": dir, "EVIDENCE": evidence}
	}
	t.Run("complete", func(t *testing.T) {
		dir, ev := t.TempDir(), filepath.Join(t.TempDir(), "evidence")
		writeLeg(t, dir, "python", "distroless", "amd64", digestA)
		writeLeg(t, dir, "python", "distroless", "arm64", digestB)
		// Another image's leg downloaded by an overlapping pattern is ignored.
		writeLeg(t, dir, "python", "distroless-x", "amd64", digestC)
		out, log, err := publishScript(t, dir, "legs", env(dir, ev))
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		want := "r.example/fleet/python@" + digestA + "\nr.example/fleet/python@" + digestB
		if out["complete"] != "true" || out["platforms"] != want {
			t.Errorf("outputs %v, want complete with %q", out, want)
		}
		entries, _ := os.ReadDir(ev)
		if len(entries) != 2 {
			t.Errorf("evidence holds %d digests, want the two legs'", len(entries))
		}
	})
	t.Run("a leg missing", func(t *testing.T) {
		dir := t.TempDir()
		writeLeg(t, dir, "python", "distroless", "amd64", digestA)
		out, log, err := publishScript(t, dir, "legs", env(dir, ""))
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		if out["complete"] != "false" || out["missing"] != "arm64" || out["platforms"] != "" {
			t.Errorf("outputs %v, want incomplete, arm64 missing, no platforms", out)
		}
	})
	plant := []struct{ name, want string }{
		{"evidence for another digest", "not this leg's own record or evidence"},
		{"a second record", "not this leg's own record or evidence"},
		{"a record naming another arch", "does not name python:distroless arm64"},
		{"a reference by tag", "is not a reference by digest"},
		{"a link in the evidence", "is not a regular file"},
		{"evidence another leg also claims", "arrived from two legs"},
		{"a record without evidence", "names no evidence"},
	}
	for _, p := range plant {
		t.Run(p.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLeg(t, dir, "python", "distroless", "amd64", digestA)
			leg := writeLeg(t, dir, "python", "distroless", "arm64", digestB)
			rec := filepath.Join(leg, "legs", "python-distroless-arm64.json")
			switch p.name {
			case "evidence for another digest":
				writeFile(t, filepath.Join(leg, "evidence", "sha256-"+strings.TrimPrefix(platformOf(digestA), "sha256:"), "vulns.json"), `{"forged":true}`)
			case "evidence another leg also claims":
				writeFile(t, filepath.Join(leg, "evidence", "sha256-"+strings.TrimPrefix(platformOf(digestA), "sha256:"), "vulns.json"), `{"forged":true}`)
				writeFile(t, rec, `{"runtime":"python","tier":"distroless","arch":"arm64","reference":"r.example/fleet/python@`+digestB+`","evidence":["`+platformOf(digestB)+`","`+platformOf(digestA)+`"]}`)
			case "a record without evidence":
				writeFile(t, rec, `{"runtime":"python","tier":"distroless","arch":"arm64","reference":"r.example/fleet/python@`+digestB+`"}`)
			case "a second record":
				writeFile(t, filepath.Join(leg, "legs", "python-distroless-amd64.json"), `{}`)
			case "a record naming another arch":
				writeFile(t, rec, `{"runtime":"python","tier":"distroless","arch":"amd64","reference":"r.example/fleet/python@`+digestB+`","evidence":["`+platformOf(digestB)+`"]}`)
			case "a reference by tag":
				writeFile(t, rec, `{"runtime":"python","tier":"distroless","arch":"arm64","reference":"r.example/fleet/python:latest","evidence":["`+platformOf(digestB)+`"]}`)
			case "a link in the evidence":
				if err := os.Symlink("/etc/passwd", filepath.Join(leg, "evidence", "sha256-"+strings.TrimPrefix(platformOf(digestB), "sha256:"), "test-result.json")); err != nil {
					t.Fatal(err)
				}
			}
			ev := filepath.Join(t.TempDir(), "evidence")
			_, log, err := publishScript(t, dir, "legs", env(dir, ev))
			if err == nil || !strings.Contains(log, p.want) {
				t.Fatalf("accepted a leg with %s (err %v), want %q:\n%s", p.name, err, p.want, log)
			}
		})
	}
}

func TestCollectReleasesWhatPassed(t *testing.T) {
	expect := `{"include":[{"runtime":"python","tier":"distroless","arches":"amd64 arm64"},{"runtime":"node","tier":"slim","arches":"amd64 arm64"}]}`
	run := func(t *testing.T, indexes map[string]string) (map[string]string, string, error, string) {
		dir := t.TempDir()
		for name, ref := range indexes {
			writeFile(t, filepath.Join(dir, "indexes", strings.ReplaceAll(name, ":", "-")+".json"), `{"`+name+`":"`+ref+`"}`)
		}
		if err := os.MkdirAll(filepath.Join(dir, "indexes"), 0o755); err != nil {
			t.Fatal(err)
		}
		out, log, err := publishScript(t, dir, "collect", map[string]string{
			"INDEXES": "indexes", "IMAGES_FILE": "images.json", "FAILED_FILE": "failed.json", "EXPECT": expect})
		failed, _ := os.ReadFile(filepath.Join(dir, "failed.json"))
		return out, log, err, string(failed)
	}
	t.Run("one image failed", func(t *testing.T) {
		out, log, err, failed := run(t, map[string]string{"python:distroless": "r.example/fleet/python@" + digestA})
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		var subjects struct{ Include []map[string]string }
		if err := json.Unmarshal([]byte(out["subjects"]), &subjects); err != nil || len(subjects.Include) != 1 {
			t.Fatalf("subjects %q: %v", out["subjects"], err)
		}
		if s := subjects.Include[0]; s["name"] != "python:distroless" || s["digest"] != digestA || s["arches"] != "amd64 arm64" {
			t.Errorf("subject %v", s)
		}
		if out["failed"] != `["node:slim"]` || !strings.Contains(failed, `"node:slim"`) || !strings.Contains(log, "::error::node:slim was not released") {
			t.Errorf("failed output %q, file %s, log %s", out["failed"], failed, log)
		}
	})
	t.Run("nothing released", func(t *testing.T) {
		_, log, err, _ := run(t, nil)
		if err == nil || !strings.Contains(log, "no image was released") {
			t.Fatalf("collect passed with no index (err %v):\n%s", err, log)
		}
	})
	t.Run("an index the plan does not have", func(t *testing.T) {
		_, log, err, _ := run(t, map[string]string{"python:distroless": "r.example/fleet/python@" + digestA, "ruby:dev": "r.example/fleet/ruby@" + digestB})
		if err == nil || !strings.Contains(log, "the plan does not have: ruby:dev") {
			t.Fatalf("collect took an unplanned index (err %v):\n%s", err, log)
		}
	})
}

func TestVerifiedGatesTheTags(t *testing.T) {
	dir := t.TempDir()
	ref := "r.example/fleet/python@" + digestA
	if _, log, err := publishScript(t, dir, "verified", map[string]string{"NAME": "python:distroless", "REFERENCE": ref,
		"OUT": filepath.Join(dir, "clearcutt-verified-python-distroless")}, "record"); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	check := func(runtime, tier, digest string) (map[string]string, string, error) {
		return publishScript(t, dir, "verified", map[string]string{"NAME": runtime + ":" + tier, "RUNTIME": runtime, "TIER": tier, "DIGEST": digest, "DIR": dir}, "check")
	}
	if out, log, err := check("python", "distroless", digestA); err != nil || out["reference"] != ref {
		t.Errorf("the verified digest: %v %v\n%s", err, out, log)
	}
	if _, log, err := check("python", "distroless", digestB); err == nil || !strings.Contains(log, "the tags stay where they were") {
		t.Errorf("another digest passed the check (err %v):\n%s", err, log)
	}
	if _, log, err := check("node", "slim", digestA); err == nil || !strings.Contains(log, "not verified in this run") {
		t.Errorf("an image without a verdict passed the check (err %v):\n%s", err, log)
	}
}

func TestCatalogApplyTakesOnlyData(t *testing.T) {
	good := func(t *testing.T) string {
		data := t.TempDir()
		writeFile(t, filepath.Join(data, "catalog", "catalog.json"), `{"new":true}`)
		writeFile(t, filepath.Join(data, "catalog", "sbom", "x.spdx.json"), `{}`)
		writeFile(t, filepath.Join(data, "site", "index.html"), `<html>`)
		writeFile(t, filepath.Join(data, "site", ".clearcutt-site"), ``)
		return data
	}
	clone := func(t *testing.T) string {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "catalog", "catalog.json"), `{"old":true}`)
		writeFile(t, filepath.Join(dir, "catalog", "gone.json"), `{}`)
		writeFile(t, filepath.Join(dir, ".git", "config"), "[core]\n")
		return dir
	}
	t.Run("data", func(t *testing.T) {
		data, dir := good(t), clone(t)
		if _, log, err := publishScript(t, dir, "catalog-apply", map[string]string{"DATA": data, "DIR": dir}); err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "catalog", "catalog.json"))
		cfg, _ := os.ReadFile(filepath.Join(dir, ".git", "config"))
		if string(b) != `{"new":true}` || string(cfg) != "[core]\n" {
			t.Errorf("catalog %s, .git/config %q", b, cfg)
		}
		if _, err := os.Stat(filepath.Join(dir, "catalog", "gone.json")); !os.IsNotExist(err) {
			t.Errorf("a file the new catalog does not have survived: %v", err)
		}
	})
	for _, bad := range []struct{ name, path, want string }{
		{"a .git directory", ".git/config", "is neither catalog/ nor site/"},
		{"hooks inside the catalog", "catalog/.git/hooks/post-commit", "is a hidden file"},
		{"a gitattributes file", "site/.gitattributes", "is a hidden file"},
		{"another top-level entry", "nix/flake.lock", "is neither catalog/ nor site/"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			data, dir := good(t), clone(t)
			writeFile(t, filepath.Join(data, bad.path), "x")
			_, log, err := publishScript(t, dir, "catalog-apply", map[string]string{"DATA": data, "DIR": dir})
			if err == nil || !strings.Contains(log, bad.want) {
				t.Fatalf("took %s (err %v), want %q:\n%s", bad.name, err, bad.want, log)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "catalog", "catalog.json")); string(b) != `{"old":true}` {
				t.Errorf("the clone changed before the data was refused: %s", b)
			}
		})
	}
	t.Run("a link", func(t *testing.T) {
		data, dir := good(t), clone(t)
		if err := os.Symlink("/etc/passwd", filepath.Join(data, "catalog", "passwd")); err != nil {
			t.Fatal(err)
		}
		if _, log, err := publishScript(t, dir, "catalog-apply", map[string]string{"DATA": data, "DIR": dir}); err == nil || !strings.Contains(log, "is a link") {
			t.Fatalf("took a link (err %v):\n%s", err, log)
		}
	})
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	cmd.Env = testenv.CleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestCatalogBranch(t *testing.T) {
	testenv.Need(t, "git", "scripts/test.sh installs it")
	remote := filepath.Join(t.TempDir(), "fleet.git")
	git(t, "/", "init", "--quiet", "--bare", remote)
	env := func(dir string, kv ...string) map[string]string {
		m := map[string]string{"BRANCH": "clearcutt-catalog", "DIR": dir, "REMOTE": remote, "MESSAGE": "test", "ATTEMPTS": "2"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	work := t.TempDir()
	// A rescan before the first publish has nothing to read.
	if _, log, err := publishScript(t, work, "catalog-checkout", env(filepath.Join(work, "none"), "REQUIRE", "true")); err == nil || !strings.Contains(log, "nothing has been published yet") {
		t.Fatalf("a rescan checked out a catalog branch that does not exist (err %v):\n%s", err, log)
	}
	// The first publish starts the branch.
	first := filepath.Join(work, "first")
	if _, log, err := publishScript(t, work, "catalog-checkout", env(first)); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	writeFile(t, filepath.Join(first, "catalog", "catalog.json"), "1\n")
	out, log, err := publishScript(t, work, "catalog-commit", env(first))
	if err != nil || out["commit"] == "" {
		t.Fatalf("first commit: %v %v\n%s", err, out, log)
	}
	base := out["commit"]

	// Two writers read the same commit; the second finds the branch moved.
	checkout := func(name string, kv ...string) (string, map[string]string) {
		dir := filepath.Join(work, name)
		o, log, err := publishScript(t, work, "catalog-checkout", env(dir, kv...))
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		return dir, o
	}
	a, oa := checkout("a")
	b, _ := checkout("b")
	c, _ := checkout("c")
	if oa["commit"] != base {
		t.Fatalf("checkout at %s, want %s", oa["commit"], base)
	}
	writeFile(t, filepath.Join(a, "catalog", "catalog.json"), "2\n")
	if _, log, err := publishScript(t, work, "catalog-commit", env(a)); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	// Another file: rebased onto the new tip and pushed.
	writeFile(t, filepath.Join(b, "README.md"), "catalog branch\n")
	if out, log, err := publishScript(t, work, "catalog-commit", env(b)); err != nil || out["commit"] == "" {
		t.Fatalf("a change to another file was not rebased and pushed: %v\n%s", err, log)
	}
	// The same file: nothing is overwritten.
	writeFile(t, filepath.Join(c, "catalog", "catalog.json"), "3\n")
	if _, log, err := publishScript(t, work, "catalog-commit", env(c)); err == nil || !strings.Contains(log, "nothing was overwritten") {
		t.Fatalf("a stale catalog was pushed over a newer one (err %v):\n%s", err, log)
	}
	if got := git(t, "/", "--git-dir", remote, "show", "clearcutt-catalog:catalog/catalog.json"); got != "2" {
		t.Errorf("catalog.json on the branch is %q, want the first writer's 2", got)
	}
	// A push the repository's rules refuse (GitHub's pre-receive answer) is
	// not retried, and names the setting.
	ruled := filepath.Join(t.TempDir(), "ruled.git")
	git(t, "/", "clone", "--quiet", "--bare", remote, ruled)
	writeFile(t, filepath.Join(ruled, "hooks", "pre-receive"), "#!/bin/sh\necho 'error: GH013: Repository rule violations found for refs/heads/clearcutt-catalog.' >&2\necho '- Changes must be made through a pull request.' >&2\nexit 1\n")
	if err := os.Chmod(filepath.Join(ruled, "hooks", "pre-receive"), 0o755); err != nil {
		t.Fatal(err)
	}
	e, _ := checkout("e")
	writeFile(t, filepath.Join(e, "catalog", "catalog.json"), "4\n")
	ruledEnv := env(e, "REMOTE", ruled, "ATTEMPTS", "3")
	if _, log, err := publishScript(t, work, "catalog-commit", ruledEnv); err == nil ||
		!strings.Contains(log, "the repository's rules refuse the workflow's push") || !strings.Contains(log, "Settings checklist") ||
		strings.Contains(log, "attempt 1 of 3") {
		t.Errorf("a push refused by the repository's rules (err %v):\n%s", err, log)
	}
	// A commit job that checks out where its rescan read refuses a moved branch.
	if _, log, err := publishScript(t, work, "catalog-checkout", env(filepath.Join(work, "d"), "AT", base)); err == nil || !strings.Contains(log, "moved from "+base) {
		t.Fatalf("checked out a moved branch as if it were the rescan's base (err %v):\n%s", err, log)
	}
}

func TestRegistryLoginWritesOnlyTheConfig(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".docker", "config.json"), `{"auths":{"other.example":{"auth":"eA=="}},"credsStore":""}`)
	_, log, err := publishScript(t, home, "registry-login", map[string]string{"HOME": home,
		"REPOSITORY": "ghcr.io/org/fleet/python", "REGISTRY_USERNAME": "bot", "REGISTRY_PASSWORD": "s3cret"})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if strings.Contains(log, "s3cret") {
		t.Errorf("the password reached the log: %s", log)
	}
	p := filepath.Join(home, ".docker", "config.json")
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config.json: %v %v", err, st)
	}
	var cfg struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	raw, _ := os.ReadFile(p)
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Auths["ghcr.io"].Auth != "Ym90OnMzY3JldA==" || cfg.Auths["other.example"].Auth != "eA==" {
		t.Errorf("auths %v", cfg.Auths)
	}
	if _, log, err := publishScript(t, home, "registry-login", map[string]string{"HOME": home,
		"REPOSITORY": "ghcr.io/org/fleet", "REGISTRY_USERNAME": "bot", "REGISTRY_PASSWORD": ""}); err == nil || !strings.Contains(log, "no registry password") {
		t.Errorf("logged in without a password (err %v):\n%s", err, log)
	}
}

func TestNeedToolsNamesTheRunner(t *testing.T) {
	_, log, err := publishScript(t, t.TempDir(), "need-tools", map[string]string{"TOOLS": "jq no-such-tool-a root:no-such-tool-b", "RUNNER_LABEL": "ubuntu-24.04-arm"})
	if err == nil || !strings.Contains(log, "runner 'ubuntu-24.04-arm' lacks no-such-tool-a, no-such-tool-b") {
		t.Fatalf("err %v:\n%s", err, log)
	}
	if _, log, err := publishScript(t, t.TempDir(), "need-tools", map[string]string{"TOOLS": "jq git", "RUNNER_LABEL": "ubuntu-24.04"}); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
}

// The checklist items the workflows' refusals name exist in
// docs/forking.md under those names.
func TestRefusalsNameChecklistItems(t *testing.T) {
	root := testenv.RepoRoot(t)
	guide, err := os.ReadFile(filepath.Join(root, "docs", "forking.md"))
	if err != nil {
		t.Fatal(err)
	}
	item := regexp.MustCompile(`\(docs/forking\.md, section 4 "Settings checklist", "([^"]+)"\)`)
	named := func(t *testing.T, log string) {
		t.Helper()
		m := item.FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("the refusal names no checklist item:\n%s", log)
		}
		if !strings.Contains(string(guide), "- [ ] **"+m[1]) && !strings.Contains(string(guide), "- [ ] **Actions → General → "+m[1]) {
			t.Errorf("docs/forking.md has no checklist item %q", m[1])
		}
	}
	for _, token := range []string{"false", "true"} {
		t.Run("pr-token="+token, func(t *testing.T) {
			_, log, err := publishScript(t, t.TempDir(), "pr-refused", map[string]string{"PR_TOKEN": token, "BRANCH": "clearcutt/remediate-openssl"})
			if err == nil || !strings.Contains(log, "::error::remediation: the pull request for clearcutt/remediate-openssl was not opened") {
				t.Fatalf("err %v:\n%s", err, log)
			}
			named(t, log)
			if token == "false" && !strings.Contains(string(guide), "Allow GitHub Actions to create and approve") {
				t.Error("docs/forking.md does not name the setting the refusal tells to tick")
			}
		})
	}
	// The step runs exactly when opening the pull request failed.
	raw, err := os.ReadFile(filepath.Join(root, ".github", "workflows", "rescan.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	steps := lookup(lookup(lookup(doc.Content[0], "jobs"), "remediate"), "steps").Content
	for i, st := range steps {
		if r := lookup(st, "run"); r == nil || !strings.Contains(r.Value, "pr-refused.sh") {
			continue
		}
		if id := lookup(steps[i-1], "id"); id == nil || id.Value != "pr" {
			t.Errorf("pr-refused.sh does not follow the step that opens the pull request")
		}
		if cond := lookup(st, "if"); cond == nil || cond.Value != "failure() && steps.pr.outcome == 'failure'" {
			t.Errorf("pr-refused.sh runs if: %v, want failure() && steps.pr.outcome == 'failure'", cond)
		}
		return
	}
	t.Error("rescan.yml's remediate job does not explain a refused pull request")
}
