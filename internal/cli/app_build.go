package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/appimage"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/pipeline"
)

type appBuildFlags struct {
	base       string
	artifacts  []string
	dest       string
	entrypoint string
	cmd        string
	workdir    string
	env        []string
	labels     []string
	to         string
	tags       []string
	epoch      int64
	allowDev   bool
	verify     verifyFlags
	asJSON     bool
}

func newAppBuildCmd(g *globals) *cobra.Command {
	var fl appBuildFlags
	cmd := &cobra.Command{
		Use:   "build --base BASE@sha256:DIGEST --artifact PATH --to DEST",
		Short: "Build an application image on a verified fleet base",
		Long: `app build verifies the base index named by digest with the same code as
'clearcutt verify' (the fleet identity from clearcutt.yaml, or --key; every
required channel, every architecture): a base that fails, misses a channel or
is of a build-time tier (dev) stops the build and nothing is written.

It then adds each --artifact as a layer of its own on top of every platform
image of the base: a directory's contents, or a single file by its name, under
--dest (default /app), owned by the base's non-root user, with modes
normalised (0755 executables, 0644 other files), mtimes from
--source-date-epoch / $SOURCE_DATE_EPOCH and sorted entries, so the same
inputs always give the same digest. An artifact given as
linux/arm64=PATH goes into that platform's image only. The base's user is
kept; --entrypoint and --cmd (JSON arrays), --workdir, --env and --label are
applied over the base's configuration.

The image records its base: org.opencontainers.image.base.digest (the base
platform manifest), org.opencontainers.image.base.name (the base reference),
dev.clearcutt.app.base-layers and dev.clearcutt.app.base-top-layer (where the
base ends, for 'app rebase') and dev.clearcutt.app.config (the configuration
applied). The index, with the base's platforms, is written to --to by digest,
then tagged.

Exit status: 0 built and written, 1 the base was refused, 2 bad flags or
artifacts, 3 could not run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			o, err := fl.build(cmd.Context(), g, f)
			if err != nil {
				return err
			}
			res, err := pipeline.AppBuild(cmd.Context(), o)
			rep := appBuildReport{BuildResult: res.BuildResult, Reference: res.Reference, Refs: res.Refs}
			if errors.Is(err, ErrGateFailed) {
				rep.Refused = refusal(err)
			}
			g.report(rep)
			if err != nil && !errors.Is(err, ErrGateFailed) {
				return err
			}
			return g.emit(fl.asJSON, rep, func() error { return renderAppBuild(g, rep) }, err == nil, refusal(err))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&fl.base, "base", "", "the fleet base index, by digest (registry reference or oci:DIR@sha256:…) (required)")
	fs.StringArrayVar(&fl.artifacts, "artifact", nil, "a directory or file to add as a layer; PLATFORM=PATH (e.g. linux/arm64=dist/arm64) for one platform only (repeatable, required)")
	fs.StringVar(&fl.dest, "dest", appimage.DefaultDest, "image directory the artifacts are placed under")
	fs.StringVar(&fl.entrypoint, "entrypoint", "", `entrypoint as a JSON array, e.g. '["/app/server"]' (default: the base's)`)
	fs.StringVar(&fl.cmd, "cmd", "", `command (arguments) as a JSON array (default: the base's, cleared by --entrypoint)`)
	fs.StringVar(&fl.workdir, "workdir", "", "working directory (default: the base's)")
	fs.StringArrayVar(&fl.env, "env", nil, "environment variable KEY=VALUE (repeatable)")
	fs.StringArrayVar(&fl.labels, "label", nil, "image label KEY=VALUE, e.g. org.opencontainers.image.source=https://github.com/acme/app (repeatable)")
	fs.StringVar(&fl.to, "to", "", "destination: a registry repository or oci:DIR (required)")
	fs.StringArrayVar(&fl.tags, "tag", nil, "tag the index after it is written (repeatable; for oci:DIR, the one index.json entry name)")
	fs.Int64Var(&fl.epoch, "source-date-epoch", -1, "time of every file and of the image (default: $SOURCE_DATE_EPOCH, else build.sourceDateEpoch)")
	fs.BoolVar(&fl.allowDev, "allow-dev-base-unsafe", false, "build on a base of a build-time tier (dev), which is never deployed")
	addVerifyFlags(cmd, &fl.verify)
	fs.BoolVar(&fl.asJSON, "json", false, "print the report as JSON")
	_ = cmd.MarkFlagRequired("base")
	_ = cmd.MarkFlagRequired("artifact")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// appBuildReport is what app build prints.
type appBuildReport struct {
	appimage.BuildResult
	// Reference is the written index by digest; Refs every reference written.
	Reference string   `json:"reference,omitempty"`
	Refs      []string `json:"refs,omitempty"`
	// Refused is why the build was refused ("" when it was not).
	Refused string `json:"refused,omitempty"`
}

func refusal(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimPrefix(err.Error(), ErrGateFailed.Error()+": ")
}

// parseJSONArgv reads a JSON array of strings given to flag.
func parseJSONArgv(flag, s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil || len(out) == 0 {
		return nil, usageErr(fmt.Errorf("--%s %s: want a non-empty JSON array of strings, e.g. '[\"/app/server\"]'", flag, s))
	}
	return out, nil
}

func parseKeyValues(flag string, kvs []string) (map[string]string, []string, error) {
	m := map[string]string{}
	var list []string
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, usageErr(fmt.Errorf("--%s %q: want KEY=VALUE", flag, kv))
		}
		if _, dup := m[k]; dup {
			return nil, nil, usageErr(fmt.Errorf("--%s %s given twice", flag, k))
		}
		m[k] = v
		list = append(list, k+"="+v)
	}
	return m, list, nil
}

func appConfigFlags(fl appBuildFlags) (appimage.Config, error) {
	var c appimage.Config
	var err error
	if c.Entrypoint, err = parseJSONArgv("entrypoint", fl.entrypoint); err != nil {
		return c, err
	}
	if c.Cmd, err = parseJSONArgv("cmd", fl.cmd); err != nil {
		return c, err
	}
	if _, c.Env, err = parseKeyValues("env", fl.env); err != nil {
		return c, err
	}
	labels, _, err := parseKeyValues("label", fl.labels)
	if err != nil {
		return c, err
	}
	if len(labels) > 0 {
		c.Labels = labels
	}
	c.WorkingDir = fl.workdir
	if err := c.Validate(); err != nil {
		return c, usageErr(err)
	}
	return c, nil
}

// build translates the flags into the options of pipeline.AppBuild.
func (fl appBuildFlags) build(ctx context.Context, g *globals, f *fleet.File) (pipeline.AppBuildOptions, error) {
	o := pipeline.AppBuildOptions{Fleet: f, Base: fl.base, Dest: fl.dest, AllowBuildOnlyBaseUnsafe: fl.allowDev, Log: g.stderr, Progress: g}
	var err error
	if o.Config, err = appConfigFlags(fl); err != nil {
		return o, err
	}
	for _, s := range fl.artifacts {
		a, err := appimage.ParseArtifact(s)
		if err != nil {
			return o, usageErr(fmt.Errorf("--artifact: %w", err))
		}
		o.Artifacts = append(o.Artifacts, a)
	}
	if o.Publish, err = pipeline.AppDestination(fl.to, fl.tags); err != nil {
		return o, err
	}
	if o.SourceDateEpoch, err = sourceDateEpoch(fl.epoch, f); err != nil {
		return o, err
	}
	o.Verifier, err = newVerifier(ctx, f, fl.verify)
	o.Verifier.Progress = g
	return o, err
}

func renderAppBuild(g *globals, r appBuildReport) error {
	// Labelled lines, the table of platforms and the tags are laid out
	// apart: their columns differ.
	head := table{}
	if r.Base.Reference != "" {
		head.add("base", r.Base.Reference+"  "+baseLine(r.Base))
	}
	if r.Refused != "" {
		head.add("REFUSED", r.Refused)
		if err := head.write(g.stdout, tableWidth); err != nil {
			return err
		}
		if len(r.BaseVerification.Channels) > 0 {
			return renderVerify(g, r.BaseVerification)
		}
		return nil
	}
	head.add("app", r.Reference)
	if err := head.write(g.stdout, tableWidth); err != nil {
		return err
	}
	t := table{header: []string{"PLATFORM", "DIGEST", "BASE DIGEST", "BASE LAYERS", "APP LAYERS"}}
	for _, p := range r.Platforms {
		var ls []string
		for _, l := range p.AppLayers {
			ls = append(ls, fmt.Sprintf("%s (%s, %s)", shortDigest(l.Digest.String()), l.Describe, humanize.IBytes(uint64(l.Size))))
		}
		t.add(p.Platform, shortDigest(p.Digest.String()), shortDigest(p.BaseDigest.String()), strconv.Itoa(p.BaseLayers), strings.Join(ls, ", "))
	}
	if err := t.write(g.stdout, tableWidth); err != nil {
		return err
	}
	tags := table{}
	for _, ref := range r.Refs[1:] {
		tags.add("tagged", ref)
	}
	return tags.write(g.stdout, tableWidth)
}

func baseLine(b appimage.Base) string {
	s := b.Line()
	if b.Version != "" {
		s += " version " + b.Version
	}
	return s
}

func (r appBuildReport) stage(key string) (step, bool) {
	if key != "app build" || r.Reference == "" {
		return step{}, false
	}
	var md strings.Builder
	md.WriteString(gha.Heading(3, "clearcutt app build "+r.Reference))
	md.WriteString(gha.Paragraph(fmt.Sprintf("On %s (%s), verified with every required channel.", r.Base.Reference, baseLine(r.Base))))
	t := gha.Table{Header: []string{"Platform", "Digest", "Base digest", "Base layers", "App layers"}, Code: map[int]bool{1: true, 2: true}}
	for _, p := range r.Platforms {
		t.Rows = append(t.Rows, []string{p.Platform, p.Digest.String(), p.BaseDigest.String(), strconv.Itoa(p.BaseLayers), strconv.Itoa(len(p.AppLayers))})
	}
	md.WriteString(t.Markdown())
	return step{outputs: map[string]string{"digest": r.Digest.String(), "reference": r.Reference, "refs": jsonString(r.Refs)}, summary: md.String()}, true
}
