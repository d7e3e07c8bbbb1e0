package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
)

func init() { extraCommands = append(extraCommands, newAssembleCmd) }

type assembleFlags struct {
	runtime, tier   string
	archs           []string
	closures        string
	stage           string
	cache           string
	revision        string
	sourceDateEpoch int64
	asJSON          bool
}

func newAssembleCmd(g *globals) *cobra.Command {
	var fl assembleFlags
	cmd := &cobra.Command{
		Use:   "assemble",
		Short: "Turn the closure manifests of one image into OCI images per architecture and an index",
		Long: `assemble reads the closure manifest of every architecture of one image
(written by 'clearcutt build'), lays the store paths out in stable layers within
the fleet's layer budget, and writes one image per architecture plus the index
over them into the staging layout. The same closures always give the same
digest. It prints the index digest; later stages take it by digest.

With --arch, only that architecture's closure manifest is read and the index
holds just its image (a native runner per architecture); the platform image is
byte-identical to the one assembled together with the other architectures.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			res, err := runAssemble(cmd.Context(), g, f, fl)
			g.report(res)
			if err != nil {
				return err
			}
			if fl.asJSON {
				return writeJSON(g.stdout, res)
			}
			return renderAssemble(g, res)
		},
	}
	cmd.Flags().StringVar(&fl.runtime, "runtime", "", "runtime id (required)")
	cmd.Flags().StringVar(&fl.tier, "tier", "", "tier: distroless, slim or dev (required)")
	cmd.Flags().StringSliceVar(&fl.archs, "arch", nil, "assemble only these architectures (repeatable; default: every architecture of build.architectures); the index then holds just them, and 'clearcutt index' combines the platform images later")
	cmd.Flags().StringVar(&fl.closures, "closures", "out/closures", "directory of closure manifests written by 'clearcutt build'")
	cmd.Flags().StringVar(&fl.stage, "stage", "out/stage", "staging OCI layout the index is written to")
	cmd.Flags().StringVar(&fl.cache, "cache", "", "compressed-layer cache (default: the user cache directory)")
	cmd.Flags().StringVar(&fl.revision, "revision", "", "source revision for org.opencontainers.image.revision (default: git HEAD of the fleet repository)")
	cmd.Flags().Int64Var(&fl.sourceDateEpoch, "source-date-epoch", -1, "timestamp of every file and of the image (default: $SOURCE_DATE_EPOCH, else build.sourceDateEpoch)")
	cmd.Flags().BoolVar(&fl.asJSON, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagRequired("runtime")
	_ = cmd.MarkFlagRequired("tier")
	return cmd
}

// assembleReport is what assemble prints.
type assembleReport struct {
	Image      string                     `json:"image"`
	Reference  string                     `json:"reference"`
	Digest     string                     `json:"digest"`
	Platforms  []platformReport           `json:"platforms"`
	CacheHits  int                        `json:"cacheHits"`
	Built      int                        `json:"layersBuilt"`
	Candidates []closure.PruningCandidate `json:"pruningCandidates,omitempty"`
}

type platformReport struct {
	Arch       string `json:"arch"`
	Digest     string `json:"digest"`
	Layers     int    `json:"layers"`
	Size       int64  `json:"compressedSize"`
	BaseDigest string `json:"baseDigest,omitempty"`
}

func runAssemble(ctx context.Context, g *globals, f *fleet.File, fl assembleFlags) (assembleReport, error) {
	img, err := f.Image(fl.runtime, fl.tier)
	if err != nil {
		return assembleReport{}, usageError{err}
	}
	rt, _ := f.Runtime(fl.runtime)
	var ms []*closure.Manifest
	var candidates []closure.PruningCandidate
	archs, err := selectArchs(img.Architectures, fl.archs)
	if err != nil {
		return assembleReport{}, usageError{fmt.Errorf("--arch: %w", err)}
	}
	for _, arch := range archs {
		p := filepath.Join(fl.closures, fmt.Sprintf("%s-%s-%s.json", fl.runtime, fl.tier, arch))
		m, err := closure.ReadManifest(p)
		if err != nil {
			return assembleReport{}, fmt.Errorf("closure manifest for %s (run 'clearcutt build --runtime %s --tier %s --arch %s'): %w", arch, fl.runtime, fl.tier, arch, err)
		}
		if m.Runtime != fl.runtime || m.Tier != fl.tier || m.Arch != arch {
			return assembleReport{}, usageError{fmt.Errorf("%s: manifest is for %s/%s/%s, not %s/%s/%s", p, m.Runtime, m.Tier, m.Arch, fl.runtime, fl.tier, arch)}
		}
		ms = append(ms, m)
		candidates = append(candidates, m.PruningCandidates...)
	}
	epoch, err := sourceDateEpoch(fl.sourceDateEpoch, f)
	if err != nil {
		return assembleReport{}, err
	}
	cache := fl.cache
	if cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return assembleReport{}, fmt.Errorf("no cache directory: pass --cache: %w", err)
		}
		cache = filepath.Join(d, "clearcutt", "layers")
	}
	rev := fl.revision
	if rev == "" {
		rev = gitRevision(f.Dir)
	}
	opts := oci.AssembleOptions{
		Manifests:       ms,
		Config:          imageConfig(f, rt, img, rev),
		SourceDateEpoch: epoch,
		LayerBudget:     f.Build.LayerBudget,
		CacheDir:        cache,
		Progress:        g.progressEvent("assemble " + img.RefName),
	}
	if rt.Base != nil {
		_, baseIdx, err := openIndex(ctx, rt.Base.Image, f.Dir)
		if err != nil {
			return assembleReport{}, fmt.Errorf("%s: runtimes[%s].base.image: %w", f.Path, rt.ID, err)
		}
		opts.Base = &oci.Base{Ref: rt.Base.Image, Index: baseIdx}
	}
	res, err := oci.Assemble(ctx, opts)
	if err != nil {
		return assembleReport{}, fmt.Errorf("assemble %s: %w", img.RefName, err)
	}
	if _, err := oci.WriteLayout(ctx, fl.stage, res.Index, img.RefName); err != nil {
		return assembleReport{}, fmt.Errorf("writing %s to the staging layout: %w", img.RefName, err)
	}
	rep := assembleReport{
		Image:      img.RefName,
		Reference:  fmt.Sprintf("oci:%s@%s", fl.stage, res.Digest),
		Digest:     res.Digest.String(),
		CacheHits:  res.CacheHits,
		Built:      res.LayersBuilt,
		Candidates: candidates,
	}
	for _, pi := range res.Images {
		pr := platformReport{Arch: pi.Platform.Architecture, Digest: pi.Digest.String()}
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

// selectArchs returns the architectures of the image that are named in
// want (all of them when want is empty), in the image's order.
func selectArchs(all, want []string) ([]string, error) {
	if len(want) == 0 {
		return all, nil
	}
	for _, w := range want {
		if !containsString(all, w) {
			return nil, fmt.Errorf("architecture %q is not in build.architectures %v", w, all)
		}
	}
	var out []string
	for _, a := range all {
		if containsString(want, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// sourceDateEpoch picks the image timestamp: --source-date-epoch, else the
// SOURCE_DATE_EPOCH environment variable (reproducible-builds.org), else
// build.sourceDateEpoch of the fleet.
func sourceDateEpoch(flag int64, f *fleet.File) (int64, error) {
	if flag >= 0 {
		return flag, nil
	}
	if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok && v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, usageError{fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a non-negative integer", v)}
		}
		return n, nil
	}
	return f.Build.SourceDateEpoch, nil
}

// imageConfig is the runtime configuration of one image.
func imageConfig(f *fleet.File, rt fleet.Runtime, img fleet.Image, revision string) oci.ImageConfig {
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
		"dev.clearcutt.fleet":              f.Metadata.Name,
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

// gitRevision returns the commit of the repository holding dir, or "".
func gitRevision(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func renderAssemble(g *globals, r assembleReport) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s\n", r.Image, r.Reference)
	fmt.Fprintln(tw, "ARCH\tDIGEST\tLAYERS\tSIZE\tBASE")
	for _, p := range r.Platforms {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", p.Arch, p.Digest, p.Layers, humanBytes(p.Size), p.BaseDigest)
	}
	fmt.Fprintf(tw, "layers from cache: %d, built: %d\n", r.CacheHits, r.Built)
	for _, c := range r.Candidates {
		fmt.Fprintf(tw, "pruning candidate: %s (%s, %s) required by %s\n", c.Pname, c.Feature, humanBytes(c.NarSize), strings.Join(c.RequiredBy, ", "))
	}
	return tw.Flush()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
