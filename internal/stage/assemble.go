package stage

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/outcome"
)

// AssembleOptions selects one image of the fleet and where its index goes.
type AssembleOptions struct {
	Runtime, Tier string
	// Archs are the architectures assembled (none: every architecture of
	// the image); the index then holds just them.
	Archs []string
	// Closures is the directory of closure manifests written by Build.
	Closures string
	// Stage is the staging OCI layout the index is written to.
	Stage string
	// Cache is the compressed-layer cache directory (required).
	Cache string
	// Revision is org.opencontainers.image.revision ("": git HEAD of the
	// fleet repository).
	Revision string
	// SourceDateEpoch is the timestamp of every file and of the image
	// (see SourceDateEpoch).
	SourceDateEpoch int64
	Progress        Progress
}

// AssembleReport is an assembled image index.
type AssembleReport struct {
	Image      string                     `json:"image"`
	Reference  string                     `json:"reference"`
	Digest     string                     `json:"digest"`
	Platforms  []AssemblePlatform         `json:"platforms"`
	CacheHits  int                        `json:"cacheHits"`
	Built      int                        `json:"layersBuilt"`
	Candidates []closure.PruningCandidate `json:"pruningCandidates,omitempty"`
}

// AssemblePlatform is one platform image of an assembled index.
type AssemblePlatform struct {
	Arch       string `json:"arch"`
	Digest     string `json:"digest"`
	Layers     int    `json:"layers"`
	Size       int64  `json:"compressedSize"`
	BaseDigest string `json:"baseDigest,omitempty"`
}

// Assemble turns the closure manifests of one image into OCI images per
// architecture and an index over them, written to the staging layout
// under the image's name. The same closures always give the same digest.
func Assemble(ctx context.Context, f *fleet.File, o AssembleOptions) (AssembleReport, error) {
	img, err := f.Image(o.Runtime, o.Tier)
	if err != nil {
		return AssembleReport{}, outcome.UsageError{Err: err}
	}
	rt, _ := f.Runtime(o.Runtime)
	var ms []*closure.Manifest
	var candidates []closure.PruningCandidate
	archs, err := SelectArchs(img.Architectures, o.Archs)
	if err != nil {
		return AssembleReport{}, outcome.UsageError{Err: fmt.Errorf("--arch: %w", err)}
	}
	for _, arch := range archs {
		p := filepath.Join(o.Closures, fmt.Sprintf("%s-%s-%s.json", o.Runtime, o.Tier, arch))
		m, err := closure.ReadManifest(p)
		if err != nil {
			return AssembleReport{}, fmt.Errorf("closure manifest for %s (run 'clearcutt build --runtime %s --tier %s --arch %s'): %w", arch, o.Runtime, o.Tier, arch, err)
		}
		if m.Runtime != o.Runtime || m.Tier != o.Tier || m.Arch != arch {
			return AssembleReport{}, outcome.UsageError{Err: fmt.Errorf("%s: manifest is for %s/%s/%s, not %s/%s/%s", p, m.Runtime, m.Tier, m.Arch, o.Runtime, o.Tier, arch)}
		}
		ms = append(ms, m)
		candidates = append(candidates, m.PruningCandidates...)
	}
	if o.Cache == "" {
		return AssembleReport{}, outcome.UsageError{Err: fmt.Errorf("assemble %s: no layer cache directory", img.RefName)}
	}
	rev := o.Revision
	if rev == "" {
		rev = GitRevision(f.Dir)
	}
	update, done := ProgressOf(o.Progress).Status("assemble " + img.RefName)
	defer done()
	opts := oci.AssembleOptions{
		Manifests:       ms,
		Config:          ImageConfig(f, rt, img, rev),
		SourceDateEpoch: o.SourceDateEpoch,
		LayerBudget:     f.Build.LayerBudget,
		CacheDir:        o.Cache,
		Progress:        Events(update),
	}
	if rt.Base != nil {
		_, baseIdx, err := OpenIndex(ctx, rt.Base.Image, f.Dir)
		if err != nil {
			return AssembleReport{}, fmt.Errorf("%s: runtimes[%s].base.image: %w", f.Path, rt.ID, err)
		}
		opts.Base = &oci.Base{Ref: rt.Base.Image, Index: baseIdx}
	}
	res, err := oci.Assemble(ctx, opts)
	if err != nil {
		return AssembleReport{}, fmt.Errorf("assemble %s: %w", img.RefName, err)
	}
	if _, err := oci.WriteLayout(ctx, o.Stage, res.Index, img.RefName); err != nil {
		return AssembleReport{}, fmt.Errorf("writing %s to the staging layout: %w", img.RefName, err)
	}
	rep := AssembleReport{
		Image:      img.RefName,
		Reference:  fmt.Sprintf("oci:%s@%s", o.Stage, res.Digest),
		Digest:     res.Digest.String(),
		CacheHits:  res.CacheHits,
		Built:      res.LayersBuilt,
		Candidates: candidates,
	}
	for _, pi := range res.Images {
		pr := AssemblePlatform{Arch: pi.Platform.Architecture, Digest: pi.Digest.String()}
		layers, _ := pi.Image.Layers()
		pr.Layers = len(layers)
		for _, l := range layers {
			if s, err := l.Size(); err == nil {
				pr.Size += s
			}
		}
		if pi.BaseDigest != nil {
			pr.BaseDigest = pi.BaseDigest.String()
		}
		rep.Platforms = append(rep.Platforms, pr)
	}
	return rep, nil
}

// SelectArchs returns the architectures of all that are named in want
// (all of them when want is empty), in the order of all.
func SelectArchs(all, want []string) ([]string, error) {
	if len(want) == 0 {
		return all, nil
	}
	for _, w := range want {
		if !slices.Contains(all, w) {
			return nil, fmt.Errorf("architecture %q is not in build.architectures %v", w, all)
		}
	}
	var out []string
	for _, a := range all {
		if slices.Contains(want, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// SourceDateEpoch picks the image timestamp: flag when not negative, else
// env (the SOURCE_DATE_EPOCH environment variable of
// reproducible-builds.org) when not empty, else build.sourceDateEpoch of
// the fleet (f may be nil: 0).
func SourceDateEpoch(flag int64, env string, f *fleet.File) (int64, error) {
	if flag >= 0 {
		return flag, nil
	}
	if env != "" {
		n, err := strconv.ParseInt(env, 10, 64)
		if err != nil || n < 0 {
			return 0, outcome.UsageError{Err: fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a non-negative integer", env)}
		}
		return n, nil
	}
	if f == nil {
		return 0, nil
	}
	return f.Build.SourceDateEpoch, nil
}

// ImageConfig is the runtime configuration of one image.
func ImageConfig(f *fleet.File, rt fleet.Runtime, img fleet.Image, revision string) oci.ImageConfig {
	path := "/bin"
	if rt.Base != nil {
		path = "/bin:/usr/local/bin:/usr/bin"
	}
	env := []string{"PATH=" + path, "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"}
	keys := make([]string, 0, len(rt.Env))
	for k := range rt.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+rt.Env[k])
	}
	labels := map[string]string{
		"org.opencontainers.image.version": rt.Version,
		"org.opencontainers.image.title":   rt.ID + "-" + img.Tier,
		oci.LabelFleet:                     f.Metadata.Name,
	}
	if f.Metadata.Source != "" {
		labels["org.opencontainers.image.source"] = f.Metadata.Source
	}
	if revision != "" {
		labels["org.opencontainers.image.revision"] = revision
	}
	if f.Metadata.Description != "" {
		labels["org.opencontainers.image.description"] = f.Metadata.Description
	}
	wd := rt.WorkingDir
	if wd == "" {
		wd = "/"
	}
	return oci.ImageConfig{
		User:       fmt.Sprintf("%d:%d", f.Build.User.UID, f.Build.User.GID),
		Env:        env,
		Entrypoint: rt.Entrypoint,
		Cmd:        rt.Cmd,
		WorkingDir: wd,
		Labels:     labels,
	}
}

// GitRevision returns the commit of the repository holding dir, or "":
// the revision label of an image assembled without an explicit one.
func GitRevision(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
