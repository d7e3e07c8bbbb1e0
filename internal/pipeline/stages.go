package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/nixcmd"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/stage"
)

// Stages are the real stages of package stage for one fleet. They
// implement Builder, Checker and Publisher. Work files go under Work:
// closures/, stage/ (the staging layout) and evidence/.
type Stages struct {
	Fleet *fleet.File
	Work  string
	// Nixpkgs replaces the locked nixpkgs input ("": the lock's).
	Nixpkgs string
	// Env is the environment nix runs in.
	Env []string
	// Cache is the compressed-layer cache directory.
	Cache string
	// SourceDateEpoch is the timestamp of the images and their SBOMs.
	SourceDateEpoch int64
	// Runc runs the smoke commands ("": smoke runs are skipped).
	Runc string
	// Scanning says how images are scanned and gated; its Evidence is Work's.
	Scanning stage.ScanOptions
	// To is the destination of Publish.
	To string
	// Reuse, when set, keeps the build, assemble, test and SBOM results
	// and takes them again when nothing they consumed changed.
	Reuse    *Reuse
	Progress stage.Progress
}

// Closures is the directory of closure manifests.
func (s Stages) Closures() string { return filepath.Join(s.Work, "closures") }

// Stage is the staging layout.
func (s Stages) Stage() string { return filepath.Join(s.Work, "stage") }

// Evidence is the evidence directory.
func (s Stages) Evidence() string { return filepath.Join(s.Work, "evidence") }

// Build implements Builder. A reused build is one whose flake files,
// fleet, package set and Nix settings are unchanged and whose closure is
// still in the store, held by its garbage-collector root; or one that Nix
// evaluated, with something it reads changed, to the closure the cell
// already had (the evaluation ran, nothing was built).
func (s Stages) Build(ctx context.Context, img fleet.Image, arch string) error {
	cell := fmt.Sprintf("%s-%s-%s", img.Runtime, img.Tier, arch)
	manifest := filepath.Join(s.Closures(), cell+".json")
	key, inputs, err := s.buildKey(img, arch)
	if err != nil {
		return err
	}
	var m closure.Manifest
	hit, err := s.Reuse.load("build", key, &m, s.Closures(), func() bool { return closureInStore(&m, filepath.Join(s.Closures(), cell+".gcroot")) })
	if err != nil || hit {
		if hit {
			reused(ctx)
		}
		return err
	}
	// What this cell built last, while its closure is still held: when
	// Nix evaluates the cell to the same closure, it built nothing and
	// the step reused it (a package set that changed elsewhere).
	var before []byte
	if s.Reuse != nil {
		var prev closure.Manifest
		if raw, err := os.ReadFile(manifest); err == nil && json.Unmarshal(raw, &prev) == nil &&
			closureInStore(&prev, filepath.Join(s.Closures(), cell+".gcroot")) {
			before = raw
		}
	}
	nixpkgs, err := storedNixpkgs(ctx, s.Nixpkgs, s.Env)
	if err != nil {
		return err
	}
	built, path, err := stage.Build(ctx, s.Fleet, stage.BuildOptions{Runtime: img.Runtime, Tier: img.Tier, Arch: arch, Out: s.Closures(), Nixpkgs: nixpkgs, Env: s.Env, Log: io.Discard})
	if err != nil || path != manifest {
		return err
	}
	if before != nil {
		if after, err := os.ReadFile(manifest); err == nil && bytes.Equal(after, before) {
			reused(ctx)
		}
	}
	return s.Reuse.save("build", key, inputs, built, s.Closures(), []string{manifest})
}

// buildKey is what a build consumes: the cell, the fleet as Nix reads it,
// the flake's files, the package set that replaces nixpkgs (a quick stamp
// of its files: it is large and replaced, not edited in place) and Nix's
// settings.
func (s Stages) buildKey(img fleet.Image, arch string) (string, json.RawMessage, error) {
	if s.Reuse == nil {
		return "", nil, nil
	}
	flake, err := treeDigest(stage.FlakeDir(s.Fleet), func(rel string, _ fs.DirEntry) bool {
		top, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		return top == "fixtures" || top == "fleet.json" || strings.HasPrefix(top, "result")
	})
	if err != nil {
		return "", nil, fmt.Errorf("reuse: %w", err)
	}
	override, stamp := s.Nixpkgs, ""
	if override != "" {
		dir := strings.TrimPrefix(override, "path:")
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			if override, err = filepath.Abs(dir); err != nil {
				return "", nil, err
			}
			if stamp, err = treeStamp(dir); err != nil {
				return "", nil, fmt.Errorf("reuse: %w", err)
			}
		}
	}
	var nixEnv []string
	for _, e := range s.Env {
		if strings.HasPrefix(e, "NIX_") || strings.HasPrefix(e, "PATH=") {
			nixEnv = append(nixEnv, e)
		}
	}
	slices.Sort(nixEnv)
	return s.Reuse.key("build", map[string]any{
		"runtime": img.Runtime, "tier": img.Tier, "arch": arch,
		"fleet": stage.NixFleet(s.Fleet), "flake": flake,
		"nixpkgs": override, "nixpkgsStamp": stamp, "env": nixEnv,
	})
}

// stored are the package sets added to the Nix store, by directory and
// stamp; storing serialises the adding, so that images built at once add a
// package set once.
var (
	stored  sync.Map
	storing sync.Mutex
)

// storedNixpkgs is the package set that replaces nixpkgs, a directory,
// added to the Nix store once per content stamp (closure.AddSource): every
// build of the run then reads the store path, and Nix does not hash the
// directory again for each cell. Anything but a directory is returned as
// it is.
func storedNixpkgs(ctx context.Context, dir string, env []string) (string, error) {
	if dir == "" || strings.HasPrefix(dir, "/nix/store/") {
		return dir, nil
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return dir, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	stamp, err := treeStamp(abs)
	if err != nil {
		return "", err
	}
	if p, ok := stored.Load(abs + "\x00" + stamp); ok {
		return p.(string), nil
	}
	storing.Lock()
	defer storing.Unlock()
	if p, ok := stored.Load(abs + "\x00" + stamp); ok {
		return p.(string), nil
	}
	if _, err := stage.NixOverride(abs); err != nil {
		return "", err
	}
	p, err := closure.AddSource(ctx, nixcmd.Nix{Env: env}, abs)
	if err != nil {
		return "", err
	}
	stored.Store(abs+"\x00"+stamp, p)
	return p, nil
}

// closureInStore reports whether every store path of m, and the
// garbage-collector root that keeps them, still exists.
func closureInStore(m *closure.Manifest, gcroot string) bool {
	if _, err := os.Stat(gcroot); err != nil || len(m.Paths) == 0 {
		return false
	}
	for _, p := range m.Paths {
		if _, err := os.Lstat(p.Path); err != nil {
			return false
		}
	}
	return true
}

// Assemble implements Builder. A reused assembly is one whose closure
// manifests, fleet, image clock and revision label are unchanged and whose
// index is still in the staging layout under the image's name.
func (s Stages) Assemble(ctx context.Context, img fleet.Image, archs []string) (stage.AssembleReport, error) {
	// The revision label is read once, so that the key and the image name
	// the same commit.
	revision := stage.GitRevision(s.Fleet.Dir)
	var key string
	var inputs json.RawMessage
	if s.Reuse != nil {
		manifests := map[string]string{}
		for _, a := range archs {
			p := filepath.Join(s.Closures(), fmt.Sprintf("%s-%s-%s.json", img.Runtime, img.Tier, a))
			d, err := fileDigest(p)
			if err != nil {
				return stage.AssembleReport{}, err
			}
			manifests[a] = d
		}
		var err error
		if key, inputs, err = s.Reuse.key("assemble", map[string]any{
			"image": img.RefName, "archs": archs, "manifests": manifests, "fleet": s.Fleet,
			"sourceDateEpoch": s.SourceDateEpoch, "revision": revision, "stage": s.Stage(), "cache": s.Cache,
		}); err != nil {
			return stage.AssembleReport{}, err
		}
		var rep stage.AssembleReport
		hit, err := s.Reuse.load("assemble", key, &rep, s.Stage(), func() bool { return inLayout(s.Stage(), img.RefName, rep.Digest) })
		if err != nil || hit {
			if hit {
				reused(ctx)
			}
			return rep, err
		}
	}
	rep, err := stage.Assemble(ctx, s.Fleet, stage.AssembleOptions{Runtime: img.Runtime, Tier: img.Tier, Archs: archs, Closures: s.Closures(), Stage: s.Stage(),
		Cache: s.Cache, SourceDateEpoch: s.SourceDateEpoch, Revision: revision, Progress: s.Progress})
	if err != nil {
		return rep, err
	}
	return rep, s.Reuse.save("assemble", key, inputs, rep, s.Stage(), nil)
}

// inLayout reports whether the OCI layout dir names digest refName and
// holds the index's blob.
func inLayout(dir, refName, digest string) bool {
	hex, ok := strings.CutPrefix(digest, "sha256:")
	if !ok {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", hex)); err != nil {
		return false
	}
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return false
	}
	var idx struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if json.Unmarshal(raw, &idx) != nil {
		return false
	}
	return slices.ContainsFunc(idx.Manifests, func(m struct {
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
	}) bool {
		return m.Digest == digest && m.Annotations[oci.AnnotationRefName] == refName
	})
}

// Test implements Checker. A reused test result is one of the same index,
// under unchanged fleet settings, on a host that runs smoke commands as
// this one does.
func (s Stages) Test(ctx context.Context, ref string) (stage.TestReport, error) {
	key, inputs, err := s.Reuse.keyOf("test", map[string]any{
		"image": ref, "fleet": s.Fleet, "runc": s.Runc != "", "host": stage.HostArch(),
	})
	if err != nil {
		return stage.TestReport{}, err
	}
	var rep stage.TestReport
	if hit, err := s.Reuse.load("test", key, &rep, s.Evidence(), nil); err != nil || hit {
		if hit {
			reused(ctx)
		}
		return rep, err
	}
	rep, err = stage.Test(ctx, s.Fleet, ref, stage.TestOptions{Evidence: s.Evidence(), Runc: s.Runc, Progress: s.Progress})
	if err != nil || !rep.Passed {
		return rep, err
	}
	return rep, s.Reuse.save("test", key, inputs, rep, s.Evidence(), mapValues(rep.Statements))
}

// SBOM implements Checker. A reused SBOM is one of the same index (whose
// store paths name the closure it describes) under the same image clock.
func (s Stages) SBOM(ctx context.Context, ref string) (stage.SBOMReport, error) {
	key, inputs, err := s.Reuse.keyOf("sbom", map[string]any{
		"image": ref, "fleet": s.Fleet, "sourceDateEpoch": s.SourceDateEpoch,
	})
	if err != nil {
		return stage.SBOMReport{}, err
	}
	var rep stage.SBOMReport
	if hit, err := s.Reuse.load("sbom", key, &rep, s.Evidence(), nil); err != nil || hit {
		if hit {
			reused(ctx)
		}
		return rep, err
	}
	rep, err = stage.SBOM(ctx, s.Fleet, ref, stage.SBOMOptions{Closures: s.Closures(), Evidence: s.Evidence(), SourceDateEpoch: s.SourceDateEpoch, Progress: s.Progress})
	if err != nil {
		return rep, err
	}
	var files []string
	for _, p := range rep.Platforms {
		files = append(files, p.File)
	}
	return rep, s.Reuse.save("sbom", key, inputs, rep, s.Evidence(), files)
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// Scan implements Checker.
func (s Stages) Scan(ctx context.Context, ref string) (stage.ScanReport, error) {
	o := s.Scanning
	o.Evidence = s.Evidence()
	o.Progress = s.Progress
	return stage.Scan(ctx, s.Fleet, ref, o)
}

// Publish implements Publisher.
func (s Stages) Publish(ctx context.Context, src string, digestOnly bool) (stage.PublishReport, error) {
	return stage.Publish(ctx, s.Fleet, src, stage.PublishOptions{To: s.To, Evidence: s.Evidence(), DigestOnly: digestOnly, Progress: s.Progress})
}

// Ref implements Publisher.
func (s Stages) Ref(refName, digest string) string { return stage.PublishedRef(s.To, refName, digest) }
