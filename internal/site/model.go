package site

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/catalog"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// warnedExplanation is shown wherever a tests channel verified from a
// WARNED test result is shown.
const warnedExplanation = "Verified with a warning: every check that ran passed, and the checks named here apply to this image " +
	"but could not run where it was tested (for example the smoke run of an arm64 image tested on an amd64 host)."

// warnedChecks is what a tests channel verified from a WARNED test result
// says could not run ("1 check(s) could not run: smoke (...)"), or "".
func warnedChecks(c catalog.ChannelStatus) string {
	if c.Channel != catalog.ChannelTests || c.Status != catalog.StatusVerified {
		return ""
	}
	rest, ok := strings.CutPrefix(c.Reason, verify.TestsWarned)
	if !ok {
		return ""
	}
	return rest
}

// pageName is the image page's path inside the site.
func pageName(im catalog.Image) string { return "images/" + im.Runtime + "-" + im.Tier + ".html" }

// sbomName is where a platform's SBOM is copied inside the site.
func sbomName(digest string) string {
	return "sbom/" + strings.TrimPrefix(digest, "sha256:") + ".spdx.json"
}

// fleetView is the fleet's identity as every page shows it.
type fleetView struct {
	catalog.Fleet
	Title    string
	Required []string
	// KeyFile is the site's copy of the public key, from the site root
	// ("" when the catalog carries only the key's path).
	KeyFile string
}

func newFleetView(f catalog.Fleet) fleetView {
	v := fleetView{Fleet: f, Title: f.Name}
	if f.Identity == nil && f.PublicKeyPEM != "" {
		v.KeyFile = KeyFile
	}
	if v.Title == "" {
		v.Title = f.Repository
	}
	for _, ch := range f.RequiredChannels {
		v.Required = append(v.Required, channelLabel(ch))
	}
	return v
}

// page is what every page template receives.
type page struct {
	Title       string
	Root        string // the site root relative to the page: "" or "../"
	Fleet       fleetView
	GeneratedAt time.Time
	Channels    []string // channel labels, in report order
}

type indexPage struct {
	page
	Images []imageRow
	Counts []statusCount
	// ReleasesFailed counts the images whose latest release failed.
	ReleasesFailed int
}

type statusCount struct {
	Status catalog.Status
	N      int
}

type imageRow struct {
	Name, Runtime, Version, Tier string
	// Description says what the runtime's images are for ("": not described).
	Description string
	Href        string
	Status      catalog.Status
	// Release is the image's failed release (nil: none).
	Release  *catalog.Release
	Channels []channelCell
	Vulns    vulnTotals
	// Size is the pull size over the architectures: one value, or the
	// smallest and largest ("" without platforms); SizeDetail names each.
	Size, SizeDetail string
	// Updated is when the image was last observed: verified, or scanned
	// by a rescan (zero: never).
	Updated time.Time
}

// channelCell is one channel of one image in the overview: the worst
// status over the index and every architecture.
type channelCell struct {
	Channel string
	Status  catalog.Status
	Detail  string
	// Warned: verified, and a check could not run somewhere (a tests
	// channel verified from a WARNED test result).
	Warned bool
}

// vulnTotals counts unique finding ids over the architectures.
type vulnTotals struct {
	Scanned                      bool
	Active, Suppressed, Excepted int
	ActiveBySeverity             string
	// Unscanned names the architectures without a scan to read.
	Unscanned []string
	// SevereExcepted says how many critical and high findings an
	// exception covers ("1 critical excepted"), one entry per severity.
	SevereExcepted []severeCount
}

type severeCount struct {
	Severity string
	N        int
}

type imagePage struct {
	page
	Image    catalog.Image
	Repo     string
	Channels []channelView
	// Evidence is Channels with each architecture's result beside.
	Evidence []evidenceRow
	Commands []Command
	// Pull are the pull commands: by digest, then by each tag.
	Pull      []Command
	KeyMode   bool
	Local     bool
	Chart     *chart
	History   []historyRow
	Platforms []platformView
	// ArchCommands verify every architecture's image (none for a local
	// layout, or without architectures).
	ArchCommands []Command
	// Scrubs, Pruning and Scans are each architecture's scrub report,
	// pruning candidates and scan summary, each shown once for the
	// architectures it is true of; Findings are every architecture's
	// findings, each once, with the architectures that reported it.
	Scrubs   []scrubGroup
	Pruning  []pruningGroup
	Scans    []scanGroup
	Findings []findingRow
	// PackageCounts are each architecture's package count, shown once for
	// the architectures it is true of; Packages are the packages of every
	// verified SBOM, each once, with the architectures that list it.
	PackageCounts []packageGroup
	Packages      []packageRow
	// PackagesDiffer is true when a package is not on every architecture
	// whose packages are listed; PackageLicenses when an SBOM states a
	// package's license (else the table has no license column).
	PackagesDiffer, PackageLicenses bool
	// Scanned is true when an architecture has a scan to read.
	Scanned bool
}

// evidenceRow is one channel of an image page's evidence table: the
// image-level result, and each architecture's.
type evidenceRow struct {
	channelView
	// Arches are the architectures' results, in platform order.
	Arches []archCell
	// Same is true when every architecture's result agrees (status, reason,
	// signer, issuer, predicate type, source and times): one cell says so.
	Same bool
}

// archCell is one architecture's result for one channel.
type archCell struct {
	Platform string
	// Found is false when the catalog records the channel nowhere for this
	// architecture (it counts as missing).
	Found bool
	channelView
	// Differs is true when its reason or times differ from the image-level
	// result's: the cell shows the reason, and the signing and scan times
	// that differ (SignedDiffers, ScanDiffers).
	Differs, SignedDiffers, ScanDiffers bool
}

type historyRow struct {
	catalog.ScanPoint
	Label string
	Total int
}

type channelView struct {
	catalog.ChannelStatus
	Label string
	// NoTimestamp says why a channel with evidence has no signing time
	// (key mode: no transparency log or timestamp authority vouches for
	// when it was signed).
	NoTimestamp string
	// Warned is what could not run, for a tests channel verified from a
	// WARNED test result; Explanation says what that means.
	Warned, Explanation string
}

type platformView struct {
	P        catalog.Platform
	Anchor   string
	Ref      string
	SBOMHref string
}

// statusRank orders statuses from best to worst, as clearcutt verify
// aggregates them.
var statusRank = map[catalog.Status]int{
	catalog.StatusVerified: 1, catalog.StatusNotApplicable: 2, catalog.StatusPending: 3,
	catalog.StatusMissing: 4, catalog.StatusFailed: 5,
}

var channelLabels = map[string]string{
	catalog.ChannelSignature: "Signature", catalog.ChannelSBOM: "SBOM", catalog.ChannelProvenance: "Provenance",
	catalog.ChannelTests: "Tests", catalog.ChannelVulnerabilities: "Vulnerabilities", catalog.ChannelVEX: "VEX",
}

func channelLabel(ch string) string {
	if l, ok := channelLabels[ch]; ok {
		return l
	}
	return ch
}

func basePage(c *catalog.Catalog, title, root string) page {
	p := page{Title: title, Root: root, Fleet: newFleetView(c.Fleet), GeneratedAt: c.GeneratedAt}
	for _, ch := range channels {
		p.Channels = append(p.Channels, channelLabel(ch))
	}
	return p
}

func newIndexPage(c *catalog.Catalog) indexPage {
	v := indexPage{page: basePage(c, "Image fleet — "+newFleetView(c.Fleet).Title, "")}
	counts := map[catalog.Status]int{}
	for _, im := range c.Images {
		row := imageRow{
			Name: im.Name, Runtime: im.Runtime, Version: im.Version, Tier: im.Tier, Description: im.Description,
			Href: pageName(im), Status: im.Status, Vulns: totals(im.Platforms),
			Updated: lastUpdated(im),
		}
		row.Size, row.SizeDetail = sizeRange(im.Platforms)
		counts[im.Status]++
		if im.ReleaseFailed() {
			row.Release = im.Release
			v.ReleasesFailed++
		}
		for _, ch := range channels {
			row.Channels = append(row.Channels, overviewCell(im, ch, c.Fleet.Identity == nil))
		}
		v.Images = append(v.Images, row)
	}
	for _, s := range []catalog.Status{catalog.StatusVerified, catalog.StatusPending, catalog.StatusMissing, catalog.StatusFailed, catalog.StatusNotApplicable} {
		if counts[s] > 0 {
			v.Counts = append(v.Counts, statusCount{s, counts[s]})
		}
	}
	return v
}

// overviewCell is one channel of an image: the worst of the image-level
// status and every architecture's. A channel the catalog records nowhere
// is missing.
func overviewCell(im catalog.Image, ch string, keyMode bool) channelCell {
	cell := channelCell{Channel: channelLabel(ch), Status: catalog.StatusMissing}
	var details []string
	found := false
	add := func(where string, cs []catalog.ChannelStatus) {
		for _, c := range cs {
			if c.Channel != ch {
				continue
			}
			c = keyModeProvenance(c, keyMode)
			if !found || statusRank[c.Status] > statusRank[cell.Status] {
				cell.Status = c.Status
			}
			found = true
			d := where + ": " + statusLabel(c.Status)
			if w := warnedChecks(c); w != "" {
				d += " — " + w
				cell.Warned = true
			}
			details = append(details, d)
		}
	}
	add("image", im.Channels)
	for _, p := range im.Platforms {
		add(p.Platform, p.Channels)
	}
	if !found {
		details = []string{"no evidence recorded"}
	}
	cell.Detail = strings.Join(details, "; ")
	return cell
}

func totals(ps []catalog.Platform) vulnTotals {
	var t vulnTotals
	ids := map[string]map[string]bool{findingActive: {}, findingSuppressed: {}, findingExcepted: {}}
	var active, excepted catalog.Severities
	for _, p := range ps {
		if p.Vulnerabilities == nil {
			t.Unscanned = append(t.Unscanned, p.Platform)
			continue
		}
		t.Scanned = true
		for _, f := range p.Vulnerabilities.Findings {
			if ids[f.Status][f.ID] {
				continue
			}
			ids[f.Status][f.ID] = true
			switch f.Status {
			case findingActive:
				addSeverity(&active, f.Severity)
			case findingExcepted:
				addSeverity(&excepted, f.Severity)
			}
		}
	}
	t.Active, t.Suppressed, t.Excepted = len(ids[findingActive]), len(ids[findingSuppressed]), len(ids[findingExcepted])
	var parts []string
	for _, sev := range severities {
		if n := severityCount(active, sev); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	t.ActiveBySeverity = strings.Join(parts, ", ")
	for _, sev := range []string{"critical", "high"} {
		if n := severityCount(excepted, sev); n > 0 {
			t.SevereExcepted = append(t.SevereExcepted, severeCount{sev, n})
		}
	}
	return t
}

func addSeverity(s *catalog.Severities, sev string) {
	switch strings.ToLower(sev) {
	case "critical":
		s.Critical++
	case "high":
		s.High++
	case "medium":
		s.Medium++
	case "low":
		s.Low++
	case "negligible":
		s.Negligible++
	default:
		s.Unknown++
	}
}

func newImagePage(c *catalog.Catalog, im catalog.Image) imagePage {
	repo, _ := splitRef(im.Reference)
	s := signerOf(c.Fleet)
	v := imagePage{
		page:     basePage(c, im.Name+" — "+newFleetView(c.Fleet).Title, "../"),
		Image:    im,
		Repo:     repo,
		Channels: channelViews(im.Channels, c.Fleet.Identity == nil),
		KeyMode:  c.Fleet.Identity == nil,
		Local:    local(repo),
		Chart:    newChart("trend", im.Name, im.History),
	}
	v.Evidence = evidenceRows(v.Channels, im.Platforms, v.KeyMode)
	if im.Served() {
		v.Commands = indexCommands(s, repo, im.IndexDigest)
		v.Pull = pullCommands(repo, im.IndexDigest, im.Tags)
	}
	labels := dateLabels(im.History)
	for i, h := range im.History {
		v.History = append(v.History, historyRow{ScanPoint: h, Label: labels[i], Total: severityTotal(h.Active)})
	}
	anchors := map[string]int{}
	var digests []string
	for _, p := range im.Platforms {
		id := "platform-" + anchor(p.Platform)
		if anchors[id]++; anchors[id] > 1 {
			id = fmt.Sprintf("%s-%d", id, anchors[id])
		}
		pv := platformView{P: p, Anchor: id, Ref: repo + "@" + p.Digest}
		if p.SBOM != "" {
			pv.SBOMHref = "../" + sbomName(p.Digest)
		}
		v.Platforms = append(v.Platforms, pv)
		digests = append(digests, p.Digest)
	}
	v.ArchCommands = platformCommands(s, repo, digests)
	refs := archRefs(v.Platforms)
	v.Scrubs = scrubGroups(refs, im.Platforms)
	v.Pruning = pruningGroups(refs, im.Platforms)
	v.Scans = scanGroups(refs, im.Platforms)
	v.Findings = findingRows(refs, im.Platforms)
	v.PackageCounts = packageGroups(refs, im.Platforms)
	v.Packages = packageRows(refs, im.Platforms)
	v.PackagesDiffer = slices.ContainsFunc(v.Packages, func(r packageRow) bool { return !r.All })
	v.PackageLicenses = slices.ContainsFunc(v.Packages, func(r packageRow) bool { return r.License != "" })
	v.Scanned = slices.ContainsFunc(im.Platforms, func(p catalog.Platform) bool { return p.Vulnerabilities != nil })
	return v
}

func channelViews(cs []catalog.ChannelStatus, keyMode bool) []channelView {
	out := make([]channelView, 0, len(cs))
	for _, c := range cs {
		c = keyModeProvenance(c, keyMode)
		v := channelView{ChannelStatus: c, Label: channelLabel(c.Channel)}
		if keyMode && c.SignedAt == nil && c.Signer != "" {
			v.NoTimestamp = noTimestamp
		}
		if v.Warned = warnedChecks(c); v.Warned != "" {
			v.Explanation = warnedExplanation
		}
		out = append(out, v)
	}
	// Channel order, whatever order the catalog lists them in.
	order := map[string]int{}
	for i, ch := range channels {
		order[ch] = i
	}
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].Channel] < order[out[j].Channel] })
	return out
}

// anchor turns a platform (linux/arm64/v8) into an HTML id fragment.
func anchor(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// statusLabel is the text a status badge shows.
func statusLabel(s catalog.Status) string {
	if s == catalog.StatusNotApplicable {
		return "not applicable"
	}
	return string(s)
}

// statusSymbol is a glyph that tells the status apart without colour.
func statusSymbol(s catalog.Status) string {
	switch s {
	case catalog.StatusVerified:
		return "✓"
	case catalog.StatusFailed:
		return "✗"
	case catalog.StatusMissing:
		return "∅"
	case catalog.StatusPending:
		return "…"
	}
	return "–"
}

// keyModeProvenanceReason is what an informational provenance channel of a
// key-mode fleet says: slsa-github-generator signs provenance keyless only.
const keyModeProvenanceReason = "key mode: SLSA provenance is keyless"

// noTimestamp is what a key-mode channel with evidence shows for its
// signing time.
const noTimestamp = "signed with a key; no trusted timestamp"

// keyModeProvenance shows the provenance channel of a key-mode fleet, when
// it does not decide the image's status and has no evidence, as not
// applicable (as clearcutt verify now reports it) rather than missing.
func keyModeProvenance(c catalog.ChannelStatus, keyMode bool) catalog.ChannelStatus {
	if !keyMode || c.Channel != catalog.ChannelProvenance || c.Required {
		return c
	}
	if c.Status == catalog.StatusMissing || c.Status == catalog.StatusNotApplicable {
		c.Status, c.Reason = catalog.StatusNotApplicable, keyModeProvenanceReason
	}
	return c
}

// lastUpdated is when the image was last observed: the later of its
// verification and its newest scan.
func lastUpdated(im catalog.Image) time.Time {
	t := im.VerifiedAt
	for _, h := range im.History {
		if h.ScanTime.After(t) {
			t = h.ScanTime
		}
	}
	for _, p := range im.Platforms {
		if v := p.Vulnerabilities; v != nil && v.ScanTime.After(t) {
			t = v.ScanTime
		}
	}
	return t
}

// sizeRange is the pull size over the architectures: one value when they
// agree (or there is one), else the smallest and the largest; and each
// architecture's.
func sizeRange(ps []catalog.Platform) (string, string) {
	if len(ps) == 0 {
		return "", ""
	}
	lo, hi := ps[0].Size, ps[0].Size
	var each []string
	for _, p := range ps {
		lo, hi = min(lo, p.Size), max(hi, p.Size)
		each = append(each, p.Platform+": "+humanBytes(p.Size))
	}
	detail := strings.Join(each, "; ")
	if humanBytes(lo) == humanBytes(hi) {
		return humanBytes(lo), detail
	}
	l, h := humanBytes(lo), humanBytes(hi)
	ln, lu, _ := strings.Cut(l, " ")
	hn, hu, _ := strings.Cut(h, " ")
	if lu == hu {
		return ln + "–" + hn + " " + hu, detail
	}
	return l + " – " + h, detail
}

// pullCommands pull the image by digest; by its first tag and the digest,
// the readable pin to write in a FROM line (the registry serves the
// digest, the tag only names it); then by each of its tags (none for a
// local OCI layout, which docker cannot pull).
func pullCommands(repo, digest string, tags []string) []Command {
	if local(repo) {
		return nil
	}
	out := []Command{{Title: "By digest: exactly what was verified", Argv: [][]string{{"docker", "pull", repo + "@" + digest}}}}
	if len(tags) > 0 {
		out = append(out, Command{Title: "By tag and digest: readable and pinned, for a FROM line (Renovate and Dependabot update the pair)",
			Argv: [][]string{{"docker", "pull", repo + ":" + tags[0] + "@" + digest}}})
	}
	for _, t := range tags {
		out = append(out, Command{Title: "By tag " + t + " (moves to each new release)", Argv: [][]string{{"docker", "pull", repo + ":" + t}}})
	}
	return out
}

var (
	cveID  = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)
	ghsaID = regexp.MustCompile(`^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$`)
)

// advisoryURL is the public advisory of a vulnerability id: NVD for a CVE,
// the GitHub Advisory Database for a GHSA, "" for any other id.
func advisoryURL(id string) string {
	switch {
	case cveID.MatchString(id):
		return "https://nvd.nist.gov/vuln/detail/" + id
	case ghsaID.MatchString(id):
		return "https://github.com/advisories/" + id
	}
	return ""
}

// evidenceRows puts each architecture's result beside the image-level
// result of every channel.
func evidenceRows(image []channelView, ps []catalog.Platform, keyMode bool) []evidenceRow {
	rows := make([]evidenceRow, 0, len(image))
	per := make([]map[string]channelView, len(ps))
	for i, p := range ps {
		per[i] = map[string]channelView{}
		for _, cv := range channelViews(p.Channels, keyMode) {
			if _, dup := per[i][cv.Channel]; !dup {
				per[i][cv.Channel] = cv
			}
		}
	}
	for _, cv := range image {
		row := evidenceRow{channelView: cv, Same: len(ps) > 0}
		for i, p := range ps {
			a, ok := per[i][cv.Channel]
			cell := archCell{Platform: p.Platform, Found: ok, channelView: a}
			if !ok {
				cell.Status = catalog.StatusMissing
				cell.Reason = "no result recorded for this architecture"
			}
			cell.SignedDiffers = ok && (a.NoTimestamp != cv.NoTimestamp || !sameTime(a.SignedAt, cv.SignedAt))
			cell.ScanDiffers = ok && (!sameTime(a.ScanTime, cv.ScanTime) || !sameTime(a.DBBuiltAt, cv.DBBuiltAt))
			cell.Differs = !ok || a.Reason != cv.Reason || cell.SignedDiffers || cell.ScanDiffers
			if !ok || i > 0 && !agree(row.Arches[0], cell) {
				row.Same = false
			}
			row.Arches = append(row.Arches, cell)
		}
		rows = append(rows, row)
	}
	return rows
}

// agree reports whether two architectures' results say the same, apart
// from the digest they are about.
func agree(a, b archCell) bool {
	return a.Found == b.Found && a.Status == b.Status && a.Reason == b.Reason && a.Signer == b.Signer && a.Issuer == b.Issuer &&
		a.PredicateType == b.PredicateType && a.Source == b.Source && a.NoTimestamp == b.NoTimestamp &&
		sameTime(a.SignedAt, b.SignedAt) && sameTime(a.ScanTime, b.ScanTime) && sameTime(a.DBBuiltAt, b.DBBuiltAt)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
