package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/closure"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/pipeline"
	"github.com/clearcutt/clearcutt/internal/stage"
	"github.com/clearcutt/clearcutt/internal/structure"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// buildOutcome is what build reports: the manifest and where it was written.
type buildOutcome struct {
	Manifest *closure.Manifest
	Path     string
}

// step is a command's step outputs (gha.Outputs) and its summary.
type step struct {
	outputs map[string]string
	summary string
}

// stager is a report that renders its own step outputs and summary for
// the command keys it belongs to.
type stager interface {
	stage(key string) (step, bool)
}

// stageOf renders the report of command key; false when there is none.
func stageOf(key string, rep stager) (step, bool) {
	if rep == nil {
		return step{}, false
	}
	return rep.stage(key)
}

// The reports of package stage, attest, verify and pipeline, as steps.
type (
	assembleStep stage.AssembleReport
	testStep     stage.TestReport
	sbomStep     stage.SBOMReport
	scanStep     stage.ScanReport
	publishStep  stage.PublishReport
	indexStep    stage.IndexReport
	attestStep   attest.Result
	verifyStep   verify.Report
	pipelineStep pipeline.Report
	planStep     struct{ f *fleet.File }
)

// when renders a step with render only when ok.
func when(ok bool, render func() step) (step, bool) {
	if !ok {
		return step{}, false
	}
	return render(), true
}

func (r buildOutcome) stage(key string) (step, bool) {
	return when(key == "build" && r.Manifest != nil, func() step { return buildStage(r) })
}
func (r assembleStep) stage(key string) (step, bool) {
	return when(key == "assemble", func() step { return assembleStage(stage.AssembleReport(r)) })
}
func (r testStep) stage(key string) (step, bool) {
	return when(key == "test", func() step { return testStage(stage.TestReport(r)) })
}
func (r sbomStep) stage(key string) (step, bool) {
	return when(key == "sbom", func() step { return sbomStage(stage.SBOMReport(r)) })
}
func (r scanStep) stage(key string) (step, bool) {
	return when(key == "scan", func() step { return scanStage(stage.ScanReport(r)) })
}
func (r publishStep) stage(key string) (step, bool) {
	return when(key == "publish", func() step { return publishStage(stage.PublishReport(r)) })
}
func (r indexStep) stage(key string) (step, bool) {
	return when(key == "index", func() step { return publishStage(r.PublishReport) })
}
func (r attestStep) stage(key string) (step, bool) {
	return when(key == "attest", func() step { return attestStage(attest.Result(r)) })
}
func (r verifyStep) stage(key string) (step, bool) {
	return when(key == "verify", func() step { return verifyStage(verify.Report(r)) })
}
func (r pipelineStep) stage(key string) (step, bool) {
	return when(key == "pipeline", func() step { return pipelineStage(pipeline.Report(r)) })
}
func (r planStep) stage(key string) (step, bool) {
	return when(key == "fleet plan" && r.f != nil, func() step { return planStage(r.f) })
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func passIcon(ok bool) string {
	if ok {
		return gha.IconPass
	}
	return gha.IconFail
}

func buildStage(r buildOutcome) step {
	m := r.Manifest
	var md strings.Builder
	md.WriteString(gha.Heading(3, fmt.Sprintf("clearcutt build %s-%s-%s", m.Runtime, m.Tier, m.Arch)))
	md.WriteString(gha.Table{Header: []string{"Cell", "Manifest", "Closure size", "Store paths"}, Code: map[int]bool{1: true},
		Rows: [][]string{{m.Runtime + "-" + m.Tier + "-" + m.Arch, r.Path, humanize.IBytes(uint64(m.ClosureSize)), strconv.Itoa(len(m.Paths))}}}.Markdown())
	if len(m.PruningCandidates) > 0 {
		t := gha.Table{Header: []string{"Pruning candidate", "Feature", "Size", "Required by"}}
		for _, c := range m.PruningCandidates {
			t.Rows = append(t.Rows, []string{c.Pname, c.Feature, humanize.IBytes(uint64(c.NarSize)), strings.Join(c.RequiredBy, ", ")})
		}
		md.WriteString(t.Markdown())
	}
	return step{outputs: map[string]string{"manifest": r.Path, "closure-size": strconv.FormatInt(m.ClosureSize, 10)}, summary: md.String()}
}

func assembleStage(r stage.AssembleReport) step {
	var md strings.Builder
	md.WriteString(gha.Heading(3, "clearcutt assemble "+r.Image))
	md.WriteString(gha.Paragraph(fmt.Sprintf("Index %s — layers from cache: %d, built: %d", r.Digest, r.CacheHits, r.Built)))
	t := gha.Table{Header: []string{"Arch", "Digest", "Layers", "Size", "Base"}, Code: map[int]bool{1: true, 4: true}}
	for _, p := range r.Platforms {
		t.Rows = append(t.Rows, []string{p.Arch, p.Digest, strconv.Itoa(p.Layers), humanize.IBytes(uint64(p.Size)), p.BaseDigest})
	}
	md.WriteString(t.Markdown())
	return step{outputs: map[string]string{"digest": r.Digest, "reference": r.Reference}, summary: md.String()}
}

func checkIcon(s structure.Status) string {
	switch s {
	case structure.Passed:
		return gha.IconPass
	case structure.Failed:
		return gha.IconFail
	case structure.Skipped:
		// It applies and could not run where the image was tested: the
		// statement is WARNED.
		return gha.IconWarn
	default:
		return gha.IconSkip
	}
}

func testStage(r stage.TestReport) step {
	var md strings.Builder
	md.WriteString(gha.Heading(3, fmt.Sprintf("%s clearcutt test %s", passIcon(r.Passed), r.Image)))
	t := gha.Table{Header: []string{"Platform", "Check", "Status", "Detail"}, Limit: -1}
	for _, p := range r.Platforms {
		for _, c := range p.Checks {
			t.Rows = append(t.Rows, []string{p.Platform, c.ID, checkIcon(c.Status) + " " + string(c.Status), c.Detail})
		}
	}
	md.WriteString(t.Markdown())
	stmts := r.Statements
	if stmts == nil {
		stmts = map[string]string{}
	}
	return step{outputs: map[string]string{"passed": strconv.FormatBool(r.Passed), "statements": jsonString(stmts)}, summary: md.String()}
}

func sbomStage(r stage.SBOMReport) step {
	var md strings.Builder
	md.WriteString(gha.Heading(3, "clearcutt sbom "+r.Image))
	t := gha.Table{Header: []string{"Platform", "Digest", "Packages", "Nix packages", "File"}, Code: map[int]bool{1: true, 4: true}}
	files := []string{}
	for _, p := range r.Platforms {
		t.Rows = append(t.Rows, []string{p.Platform, p.Digest, strconv.Itoa(p.Packages), strconv.Itoa(p.NixPackages), p.File})
		files = append(files, p.File)
	}
	md.WriteString(t.Markdown())
	return step{outputs: map[string]string{"files": jsonString(files)}, summary: md.String()}
}

func scanStage(r stage.ScanReport) step {
	var md strings.Builder
	md.WriteString(gha.Heading(3, fmt.Sprintf("%s clearcutt scan %s", passIcon(r.Pass), r.Image)))
	var active, suppressed, excepted int
	for _, p := range r.Platforms {
		c := p.Decision.Counts
		active, suppressed, excepted = active+c.Active, suppressed+c.Suppressed, excepted+c.Excepted
		verdict := "PASS"
		if !p.Decision.Pass {
			verdict = "FAIL"
		}
		stale := ""
		if p.Result.StaleDBAccepted {
			stale = " — " + gha.IconWarn + " stale database accepted unsafely"
		}
		md.WriteString(gha.Heading(4, fmt.Sprintf("%s %s: gate %s (%s): %d active, %d suppressed, %d excepted%s",
			passIcon(p.Decision.Pass), p.Platform, verdict, p.Decision.Policy, c.Active, c.Suppressed, c.Excepted, stale)))
		md.WriteString(gha.List(p.Decision.Reasons, 0))
		if len(p.Result.Findings) == 0 {
			md.WriteString(gha.Paragraph("No vulnerabilities found."))
			continue
		}
		t := gha.Table{Header: []string{"ID", "Severity", "Package", "Version", "Fixed in", "Status"}}
		for _, f := range p.Result.Findings {
			fixed := strings.Join(f.FixedIn, ", ")
			if fixed == "" {
				fixed = "(" + f.FixState + ")"
			}
			t.Rows = append(t.Rows, []string{f.ID, strings.ToUpper(f.Severity), f.Package.Name, f.Package.Version, fixed, statusText(f)})
		}
		md.WriteString(t.Markdown())
	}
	return step{outputs: map[string]string{
		"passed": strconv.FormatBool(r.Pass), "active": strconv.Itoa(active),
		"suppressed": strconv.Itoa(suppressed), "excepted": strconv.Itoa(excepted),
	}, summary: md.String()}
}

func publishStage(r stage.PublishReport) step {
	var md strings.Builder
	md.WriteString(gha.Heading(3, "clearcutt publish "+r.Image))
	ref := ""
	if r.Digest != "" {
		ref = strings.TrimSuffix(r.Destination, "@"+r.Digest) + "@" + r.Digest
	}
	refs := r.Refs
	if refs == nil {
		refs = []string{}
	}
	md.WriteString(gha.Table{Header: []string{"Reference", "Blobs uploaded", "Blobs skipped", "Bytes uploaded"}, Code: map[int]bool{0: true},
		Rows: [][]string{{ref, strconv.Itoa(r.BlobsUploaded), strconv.Itoa(r.BlobsSkipped), humanize.IBytes(uint64(r.BytesUploaded))}}}.Markdown())
	t := gha.Table{Header: []string{"Platform", "Digest"}, Code: map[int]bool{1: true}}
	keys := make([]string, 0, len(r.Platforms))
	for k := range r.Platforms {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Rows = append(t.Rows, []string{k, r.Platforms[k]})
	}
	md.WriteString(t.Markdown())
	md.WriteString(gha.List(refs, 0))
	return step{outputs: map[string]string{"digest": r.Digest, "reference": ref, "refs": jsonString(refs)}, summary: md.String()}
}

func attestStage(r attest.Result) step {
	var md strings.Builder
	md.WriteString(gha.Heading(3, fmt.Sprintf("clearcutt attest %s (%s signing)", r.Index, r.Mode)))
	t := gha.Table{Header: []string{"Subject", "Platform", "Predicate type", "Bundle", "Transparency"}, Code: map[int]bool{0: true, 3: true}, Limit: -1}
	type bundle struct {
		Subject       string `json:"subject"`
		Platform      string `json:"platform,omitempty"`
		PredicateType string `json:"predicateType"`
		Artifact      string `json:"artifact"`
	}
	bundles := []bundle{}
	for _, a := range r.Attached {
		platform := a.Platform
		if platform == "" {
			platform = "index"
		}
		tl := "none"
		if r.Mode == attest.ModeKey {
			tl = "none (key)"
		}
		if len(a.LogIndexes) > 0 {
			var xs []string
			for _, i := range a.LogIndexes {
				xs = append(xs, fmt.Sprintf("rekor %d", i))
			}
			tl = strings.Join(xs, ", ")
		}
		t.Rows = append(t.Rows, []string{a.Subject.String(), platform, a.PredicateType, a.Artifact.String(), tl})
		bundles = append(bundles, bundle{a.Subject.String(), a.Platform, a.PredicateType, a.Artifact.String()})
	}
	md.WriteString(t.Markdown())
	for _, m := range r.Missing {
		md.WriteString(gha.IconWarn + " " + gha.Paragraph("attested without "+m+" (--allow-missing-evidence-unsafe)"))
	}
	return step{outputs: map[string]string{"bundles": jsonString(bundles)}, summary: md.String()}
}

func verifyIcon(s verify.Status) string {
	switch s {
	case verify.StatusVerified:
		return gha.IconPass
	case verify.StatusPending:
		return gha.IconWarn
	case verify.StatusNotApplicable:
		return gha.IconSkip
	default:
		return gha.IconFail
	}
}

func verifyStage(r verify.Report) step {
	passed := r.ExitCode() == verify.ExitPassed
	var md strings.Builder
	md.WriteString(gha.Heading(3, fmt.Sprintf("%s clearcutt verify %s", passIcon(passed), r.Image)))
	// The channel × architecture matrix.
	var archs []string
	for _, c := range r.Channels {
		for _, e := range c.Entries {
			if !slices.Contains(archs, e.Arch) {
				archs = append(archs, e.Arch)
			}
		}
	}
	t := gha.Table{Header: append([]string{"Channel", "Required", "Status"}, archs...), Limit: -1}
	for _, c := range r.Channels {
		row := []string{string(c.Channel), strconv.FormatBool(c.Required), verifyIcon(c.Status) + " " + string(c.Status)}
		for _, a := range archs {
			cell := ""
			for _, e := range c.Entries {
				if e.Arch == a {
					cell = verifyIcon(e.Status) + " " + string(e.Status)
				}
			}
			row = append(row, cell)
		}
		t.Rows = append(t.Rows, row)
	}
	md.WriteString(t.Markdown())
	return step{outputs: map[string]string{"passed": strconv.FormatBool(passed), "report": jsonString(r)}, summary: md.String()}
}

func pipelineStage(r pipeline.Report) step {
	var md strings.Builder
	ok := r.Passed && r.Published && (r.Verified || !r.Signed)
	md.WriteString(gha.Heading(3, fmt.Sprintf("%s clearcutt pipeline → %s", passIcon(ok), r.Destination)))
	t := gha.Table{Header: []string{"Image", "Index digest", "Arch", "Layers", "Size", "Tests", "Vulns (active/suppressed/excepted)", "Published", "Verified"}, Code: map[int]bool{1: true}, Limit: -1}
	for _, pi := range r.Images {
		pub, ver := "no", "–"
		if pi.Publish != nil {
			pub = "yes"
		}
		if pi.Verify != nil {
			ver = passIcon(pi.Verify.ExitCode() == verify.ExitPassed)
		}
		if pi.Assemble == nil {
			t.Rows = append(t.Rows, []string{pi.Image, "", "", "", "", gha.IconFail + " error", "", pub, ver})
			continue
		}
		for i, p := range pi.Assemble.Platforms {
			tests, vulns := "–", "–"
			if pi.Test != nil && i < len(pi.Test.Platforms) {
				tests = testOutcomeIcon(pi.Test.Platforms[i].Outcome()) + " " + strings.ToLower(pi.Test.Platforms[i].Outcome())
			}
			if pi.Scan != nil && i < len(pi.Scan.Platforms) {
				sp := pi.Scan.Platforms[i]
				c := sp.Decision.Counts
				vulns = fmt.Sprintf("%s %d/%d/%d", passIcon(sp.Decision.Pass), c.Active, c.Suppressed, c.Excepted)
			}
			t.Rows = append(t.Rows, []string{pi.Image, pi.Digest, p.Arch, strconv.Itoa(p.Layers), humanize.IBytes(uint64(p.Size)), tests, vulns, pub, ver})
		}
	}
	md.WriteString(t.Markdown())
	var problems []string
	for _, pi := range r.Images {
		if pi.Error != "" {
			problems = append(problems, pi.Image+": "+pi.Error)
		}
	}
	md.WriteString(gha.List(problems, 0))
	md.WriteString(timingsMarkdown(r.Timings))
	return step{outputs: map[string]string{
		"passed": strconv.FormatBool(r.Passed), "published": strconv.FormatBool(r.Published), "verified": strconv.FormatBool(r.Verified),
	}, summary: md.String()}
}

func testOutcomeIcon(outcome string) string {
	switch outcome {
	case structure.ResultPassed:
		return gha.IconPass
	case structure.ResultWarned:
		return gha.IconWarn
	default:
		return gha.IconFail
	}
}

func planStage(f *fleet.File) step {
	var md strings.Builder
	md.WriteString(gha.Heading(3, fmt.Sprintf("clearcutt fleet plan: %d images, %d builds", len(f.Images()), len(f.Cells()))))
	t := gha.Table{Header: []string{"Runtime", "Version", "Tier", "Arch", "System", "Runner"}, Limit: -1}
	for _, c := range f.Cells() {
		t.Rows = append(t.Rows, []string{c.Runtime, c.Version, c.Tier, c.Arch, c.System, c.Runner})
	}
	md.WriteString(t.Markdown())
	return step{outputs: map[string]string{"matrix": jsonString(f.GitHubMatrix())}, summary: md.String()}
}
