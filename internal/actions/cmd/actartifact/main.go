// Command actartifact is the client half of the upload-artifact and
// download-artifact stand-ins the offline rehearsal maps with act's
// --local-repository (testdata/act/actions). It speaks the artifact
// service protocol of upload-artifact and download-artifact v4 (Twirp
// JSON at $ACTIONS_RESULTS_URL, authorised by $ACTIONS_RUNTIME_TOKEN) to
// act's own artifact server, and carries the behaviour of GitHub's service
// and of the real actions that the workflows depend on:
//
//   - an artifact name already used in the run is refused (GitHub answers
//     409 Conflict) unless overwrite is true, which deletes it first; act's
//     server would silently replace it;
//   - hidden files and directories are left out unless include-hidden-files
//     is true (upload-artifact v4.4 and later);
//   - the artifact's root is the one directory given, or the least common
//     ancestor of several paths;
//   - if-no-files-found: error, warn or ignore;
//   - download by name fails when the artifact does not exist; by pattern
//     matches nothing without failing, and puts each artifact in its own
//     directory unless merge-multiple is true.
//
// What it does not model: retention-days (kept, never enforced),
// compression levels, artifact digests, and cross-run downloads.
//
// Usage:
//
//	actartifact upload NAME ROOT-OR-PATHS (newline-separated) [flags]
//	actartifact download [flags]
package main

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const service = "twirp/github.actions.results.api.v1.ArtifactService/"

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: actartifact upload|download [flags]"))
	}
	var err error
	switch os.Args[1] {
	case "upload":
		err = upload(os.Args[2:])
	case "download":
		err = download(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "::error::%v\n", err)
	os.Exit(1)
}

// backend is the run the artifacts belong to, from the runtime token as
// @actions/artifact reads it (scp "Actions.Results:<run>:<job>").
type backend struct {
	url, token, run, job string
}

func newBackend() (*backend, error) {
	b := &backend{url: os.Getenv("ACTIONS_RESULTS_URL"), token: os.Getenv("ACTIONS_RUNTIME_TOKEN")}
	if b.url == "" || b.token == "" {
		return nil, errors.New("ACTIONS_RESULTS_URL and ACTIONS_RUNTIME_TOKEN are not set: is the artifact server running (act --artifact-server-path)?")
	}
	parts := strings.Split(b.token, ".")
	if len(parts) != 3 {
		return nil, errors.New("ACTIONS_RUNTIME_TOKEN is not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("ACTIONS_RUNTIME_TOKEN: %w", err)
	}
	var claims struct {
		Scp string `json:"scp"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, fmt.Errorf("ACTIONS_RUNTIME_TOKEN: %w", err)
	}
	for _, s := range strings.Fields(claims.Scp) {
		if f := strings.Split(s, ":"); len(f) == 3 && f[0] == "Actions.Results" {
			b.run, b.job = f[1], f[2]
		}
	}
	if b.run == "" {
		return nil, errors.New("ACTIONS_RUNTIME_TOKEN names no Actions.Results scope")
	}
	return b, nil
}

func (b *backend) call(method string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	r, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(b.url, "/")+"/"+service+method, bytes.NewReader(body))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+b.token)
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s: %s", method, res.Status, out)
	}
	if resp == nil {
		return nil
	}
	return json.Unmarshal(out, resp)
}

type artifact struct {
	Name       string `json:"name"`
	DatabaseID string `json:"databaseId"`
}

func (b *backend) list() ([]artifact, error) {
	var resp struct {
		Artifacts []artifact `json:"artifacts"`
	}
	err := b.call("ListArtifacts", map[string]string{"workflowRunBackendId": b.run, "workflowJobRunBackendId": b.job}, &resp)
	return resp.Artifacts, err
}

func upload(args []string) error {
	fl := flag.NewFlagSet("upload", flag.ContinueOnError)
	name := fl.String("name", "artifact", "artifact name")
	paths := fl.String("path", "", "paths, one a line")
	overwrite := fl.String("overwrite", "false", "replace an artifact of the same name")
	hidden := fl.String("include-hidden-files", "false", "include hidden files")
	ifNone := fl.String("if-no-files-found", "warn", "error, warn or ignore")
	if err := fl.Parse(args); err != nil {
		return err
	}
	root, files, err := collect(*paths, *hidden == "true")
	if err != nil {
		return err
	}
	if len(files) == 0 {
		switch *ifNone {
		case "error":
			return fmt.Errorf("no files were found with the provided path: %s. No artifacts will be uploaded", strings.TrimSpace(*paths))
		case "warn":
			fmt.Fprintf(os.Stderr, "::warning::No files were found with the provided path: %s. No artifacts will be uploaded.\n", strings.TrimSpace(*paths))
		}
		return nil
	}
	b, err := newBackend()
	if err != nil {
		return err
	}
	existing, err := b.list()
	if err != nil {
		return err
	}
	for _, a := range existing {
		if a.Name != *name {
			continue
		}
		if *overwrite != "true" {
			return fmt.Errorf("Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: an artifact with this name already exists on the workflow run")
		}
		if err := b.call("DeleteArtifact", map[string]string{"workflowRunBackendId": b.run, "workflowJobRunBackendId": b.job, "name": *name}, nil); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "artifact %s deleted: overwrite is true\n", *name)
	}
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	for _, f := range files {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			return err
		}
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	var created struct {
		Ok              bool   `json:"ok"`
		SignedUploadURL string `json:"signedUploadUrl"`
	}
	if err := b.call("CreateArtifact", map[string]any{"workflowRunBackendId": b.run, "workflowJobRunBackendId": b.job, "name": *name, "version": 4}, &created); err != nil {
		return err
	}
	put, err := http.NewRequest(http.MethodPut, created.SignedUploadURL+"&comp=block", bytes.NewReader(zipped.Bytes()))
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(put)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("upload %s: %s", *name, res.Status)
	}
	if err := b.call("FinalizeArtifact", map[string]any{"workflowRunBackendId": b.run, "workflowJobRunBackendId": b.job, "name": *name, "size": strconv.Itoa(zipped.Len())}, nil); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "artifact %s: %d files from %s\n", *name, len(files), root)
	return nil
}

// collect resolves the upload paths as upload-artifact does: every regular
// file under each path (links followed), hidden entries left out unless
// asked for; the root is the one directory given, the directory of the one
// file given, or the least common ancestor of several paths.
func collect(spec string, hidden bool) (string, []string, error) {
	var roots []string
	for _, line := range strings.Split(spec, "\n") {
		if p := strings.TrimSpace(line); p != "" {
			abs, err := filepath.Abs(p)
			if err != nil {
				return "", nil, err
			}
			roots = append(roots, abs)
		}
	}
	if len(roots) == 0 {
		return "", nil, errors.New("path is empty")
	}
	var files []string
	for _, r := range roots {
		err := filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if !hidden && p != r && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			if st.Mode().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return "", nil, err
		}
	}
	sort.Strings(files)
	root := roots[0]
	if len(roots) == 1 {
		if st, err := os.Stat(root); err == nil && !st.IsDir() {
			root = filepath.Dir(root)
		}
		return root, files, nil
	}
	root = filepath.Dir(roots[0])
	for _, r := range roots[1:] {
		for !strings.HasPrefix(r+string(filepath.Separator), root+string(filepath.Separator)) && root != "/" {
			root = filepath.Dir(root)
		}
	}
	return root, files, nil
}

func download(args []string) error {
	fl := flag.NewFlagSet("download", flag.ContinueOnError)
	name := fl.String("name", "", "one artifact by name")
	pattern := fl.String("pattern", "", "artifacts whose names match this glob")
	dest := fl.String("path", "", "destination (default: the workspace)")
	merge := fl.String("merge-multiple", "false", "extract every artifact into the destination itself")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *dest == "" {
		*dest = os.Getenv("GITHUB_WORKSPACE")
	}
	abs, err := filepath.Abs(*dest)
	if err != nil {
		return err
	}
	b, err := newBackend()
	if err != nil {
		return err
	}
	all, err := b.list()
	if err != nil {
		return err
	}
	var pick []artifact
	for _, a := range all {
		switch {
		case *name != "":
			if a.Name == *name {
				pick = append(pick, a)
			}
		case *pattern != "":
			if ok, _ := path.Match(*pattern, a.Name); ok {
				pick = append(pick, a)
			}
		default:
			pick = append(pick, a)
		}
	}
	if *name != "" && len(pick) == 0 {
		return fmt.Errorf("Unable to download artifact(s): Artifact '%s' not found", *name)
	}
	for _, a := range pick {
		var signed struct {
			SignedURL string `json:"signedUrl"`
		}
		if err := b.call("GetSignedArtifactURL", map[string]string{"workflowRunBackendId": b.run, "workflowJobRunBackendId": b.job, "name": a.Name}, &signed); err != nil {
			return err
		}
		res, err := http.Get(signed.SignedURL)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode/100 != 2 {
			return fmt.Errorf("download %s: %v %s", a.Name, err, res.Status)
		}
		to := abs
		if *name == "" && *merge != "true" {
			to = filepath.Join(abs, a.Name)
		}
		if err := unzip(data, to); err != nil {
			return fmt.Errorf("artifact %s: %w", a.Name, err)
		}
		fmt.Fprintf(os.Stderr, "artifact %s → %s\n", a.Name, to)
	}
	fmt.Fprintf(os.Stderr, "Total of %d artifact(s) downloaded\n", len(pick))
	return nil
}

func unzip(data []byte, to string) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	for _, f := range zr.File {
		p := filepath.Join(to, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(p, filepath.Clean(to)+string(filepath.Separator)) {
			return fmt.Errorf("%s leaves the destination", f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		r, err := f.Open()
		if err != nil {
			return err
		}
		w, err := os.Create(p)
		if err != nil {
			r.Close()
			return err
		}
		_, err = io.Copy(w, r)
		r.Close()
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
