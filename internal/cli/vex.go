package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"
	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/vexdoc"
)

func newVEXCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vex",
		Short: "Record, check and list the fleet's OpenVEX statements (vex/)",
		Long: `vex manages the OpenVEX v0.2.0 documents in vex/ next to the fleet file.
clearcutt scan applies their not_affected and fixed statements to its
findings and publishes, per image, the statements that applied as the
OpenVEX attestation. See docs/vex.md.`,
	}
	cmd.AddCommand(newVEXCreateCmd(g), newVEXValidateCmd(g), newVEXListCmd(g))
	return cmd
}

// vexDir is the fleet's VEX directory.
func vexDir(f *fleet.File) string { return filepath.Join(f.Dir, "vex") }

// vexFiles expands paths (files, or directories whose *.json files are
// taken) into document files; no paths means the fleet's vex/ directory,
// which may be absent.
func vexFiles(f *fleet.File, paths []string) ([]string, error) {
	if len(paths) == 0 {
		out, err := jsonFiles(vexDir(f))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return out, err
	}
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, usageErr(err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		files, err := jsonFiles(p)
		if err != nil {
			return nil, usageErr(err)
		}
		out = append(out, files...)
	}
	return out, nil
}

func jsonFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// ---- create ----

type vexCreateFlags struct {
	id            string
	products      []string
	subcomponents []string
	status        string
	justification string
	impact        string
	action        string
	author        string
	role          string
	file          string
	timestamp     string
	asJSON        bool
}

// vexCreateReport is what vex create did.
type vexCreateReport struct {
	File          string        `json:"file"`
	Change        vexdoc.Change `json:"change"`
	DocumentID    string        `json:"documentId"`
	Version       int           `json:"version"`
	Statement     int           `json:"statement"`
	Vulnerability string        `json:"vulnerability"`
	Status        string        `json:"status"`
	Products      []string      `json:"products"`
	Subcomponents []string      `json:"subcomponents,omitempty"`
}

func newVEXCreateCmd(g *globals) *cobra.Command {
	var fl vexCreateFlags
	cmd := &cobra.Command{
		Use:   "create --id VULN --product PURL|RUNTIME:TIER --status STATUS",
		Short: "Record one OpenVEX statement in a document of vex/",
		Long: `create writes a statement to --file (default vex/<id>.openvex.json): a new
document, or the existing one with the statement appended — or replacing its
statement about the same vulnerability, products and subcomponents — with
its version and @id bumped and last_updated set. An identical statement
changes nothing. The file is written atomically, as deterministic JSON, and
only when the whole document passes 'clearcutt vex validate' and no
document of vex/ gives the same vulnerability, product and subcomponent
another status.

--product is a package URL (pkg:nix/glibc, pkg:nix/glibc@2.36) or an
image of the fleet as RUNTIME:TIER, recorded as pkg:oci/<runtime>?tag=<tier>.
--subcomponent names the package inside the product (repeatable).
not_affected needs --justification (component_not_present,
vulnerable_code_not_present, vulnerable_code_not_in_execute_path,
vulnerable_code_cannot_be_controlled_by_adversary,
inline_mitigations_already_exist) or --impact-statement; affected needs
--action-statement; fixed and under_investigation take neither.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := runVEXCreate(f, fl)
			if err != nil {
				return err
			}
			g.report(rep)
			return g.emit(fl.asJSON, rep, func() error { return renderVEXCreate(g, rep) }, true, rep.File)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&fl.id, "id", "", "vulnerability id (CVE-…, GHSA-…, or an advisory id such as PYSEC-…)")
	fs.StringArrayVar(&fl.products, "product", nil, "product: a package URL, or an image of the fleet as runtime:tier (repeatable)")
	fs.StringArrayVar(&fl.subcomponents, "subcomponent", nil, "package URL of the affected component inside the product (repeatable)")
	fs.StringVar(&fl.status, "status", "", "not_affected, affected, fixed or under_investigation")
	fs.StringVar(&fl.justification, "justification", "", "why not_affected: one of the five OpenVEX justifications")
	fs.StringVar(&fl.impact, "impact-statement", "", "why not_affected, in words")
	fs.StringVar(&fl.action, "action-statement", "", "what to do about an affected product")
	fs.StringVar(&fl.author, "author", "", "document author (required for a new document; must match an existing one)")
	fs.StringVar(&fl.role, "role", "", "author's role, for a new document")
	fs.StringVar(&fl.file, "file", "", "document to write (default: vex/<id>.openvex.json next to the fleet file)")
	fs.StringVar(&fl.timestamp, "timestamp", "", "time of the statement, RFC 3339 (default: now); stored in UTC")
	fs.BoolVar(&fl.asJSON, "json", false, "print the result as JSON")
	for _, req := range []string{"id", "product", "status"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}

// resolveProduct turns a --product value into a package URL.
func resolveProduct(f *fleet.File, images []fleet.Image, s string) (string, error) {
	if strings.HasPrefix(s, "pkg:") {
		if err := vexdoc.CheckPURL(s); err != nil {
			return "", err
		}
		if names, isImage := vexdoc.NamedImages(s, images); isImage && len(names) == 0 {
			return "", fmt.Errorf("%s names no image of the fleet", s)
		}
		return s, nil
	}
	if !strings.Contains(s, ":") {
		return "", fmt.Errorf("%q is neither a package URL (pkg:…) nor an image of the fleet (runtime:tier)", s)
	}
	img, err := fleetImage(f, images, s)
	if err != nil {
		return "", err
	}
	return vexdoc.ImageProduct(img), nil
}

// fleetImage is the image ref (runtime:tier) of the fleet.
func fleetImage(f *fleet.File, images []fleet.Image, ref string) (fleet.Image, error) {
	var names []string
	for _, img := range images {
		if img.RefName == ref {
			return img, nil
		}
		names = append(names, img.RefName)
	}
	return fleet.Image{}, fmt.Errorf("%q is not an image of %s (runtime:tier, one of %s)", ref, f.Path, strings.Join(names, ", "))
}

// flagFor is the create flag a statement field comes from.
func flagFor(field string) string {
	switch {
	case field == "vulnerability.name":
		return "--id"
	case field == "justification":
		return "--justification"
	case field == "impact_statement":
		return "--impact-statement"
	case field == "action_statement":
		return "--action-statement"
	case strings.Contains(field, "subcomponents"):
		return "--subcomponent"
	case strings.HasPrefix(field, "products"):
		return "--product"
	default:
		return "--status"
	}
}

func runVEXCreate(f *fleet.File, fl vexCreateFlags) (vexCreateReport, error) {
	// clock is the time of the run, which no timestamp may be later than;
	// now is the statement's time.
	clock := time.Now()
	now := clock
	if fl.timestamp != "" {
		t, err := time.Parse(time.RFC3339, fl.timestamp)
		if err != nil {
			return vexCreateReport{}, usageErr(fmt.Errorf("--timestamp %q: want RFC 3339 (2026-11-26T12:00:00Z)", fl.timestamp))
		}
		now = t
	}
	now = now.UTC().Truncate(time.Second)
	if err := vexdoc.CheckVulnerabilityID(fl.id); err != nil {
		return vexCreateReport{}, usageErr(fmt.Errorf("--id: %w", err))
	}
	images := f.Images()
	st := openvex.Statement{
		Vulnerability:   openvex.Vulnerability{Name: openvex.VulnerabilityID(fl.id)},
		Status:          openvex.Status(fl.status),
		Justification:   openvex.Justification(fl.justification),
		ImpactStatement: fl.impact,
		ActionStatement: fl.action,
	}
	var subs []openvex.Subcomponent
	for _, s := range fl.subcomponents {
		if err := vexdoc.CheckPURL(s); err != nil {
			return vexCreateReport{}, usageErr(fmt.Errorf("--subcomponent: %w", err))
		}
		subs = append(subs, openvex.Subcomponent{Component: openvex.Component{ID: s}})
	}
	rep := vexCreateReport{Vulnerability: fl.id, Status: fl.status, Subcomponents: fl.subcomponents}
	for _, p := range fl.products {
		id, err := resolveProduct(f, images, p)
		if err != nil {
			return vexCreateReport{}, usageErr(fmt.Errorf("--product: %w", err))
		}
		st.Products = append(st.Products, openvex.Product{Component: openvex.Component{ID: id}, Subcomponents: subs})
		rep.Products = append(rep.Products, id)
	}
	if probs := vexdoc.CheckStatement(&st, vexdoc.CheckOptions{Images: images, Now: clock}); len(probs) > 0 {
		msgs := make([]string, len(probs))
		for i, p := range probs {
			msgs[i] = flagFor(p.Field) + ": " + p.Message
		}
		return vexCreateReport{}, usageErr(errors.New(strings.Join(msgs, "\n")))
	}

	file := fl.file
	if file == "" {
		file = filepath.Join(vexDir(f), vexdoc.FileName(fl.id))
	}
	if !strings.HasSuffix(file, ".json") {
		return vexCreateReport{}, usageErr(fmt.Errorf("--file %s: clearcutt scan reads only *.json documents", file))
	}
	rep.File = file
	others, err := otherDocuments(f, file)
	if err != nil {
		return vexCreateReport{}, err
	}

	var doc openvex.VEX
	existing, err := vexdoc.Load(file)
	switch {
	case err == nil:
		doc = existing.VEX
		if fl.author != "" && fl.author != doc.Author {
			return vexCreateReport{}, usageErr(fmt.Errorf("--author %q: %s is authored by %q; write to another --file", fl.author, file, doc.Author))
		}
		if fl.role != "" && fl.role != doc.AuthorRole {
			return vexCreateReport{}, usageErr(fmt.Errorf("--role %q: %s gives the role %q; write to another --file", fl.role, file, doc.AuthorRole))
		}
		rep.Change, rep.Statement = vexdoc.Upsert(&doc, st, now)
	case errors.Is(err, fs.ErrNotExist):
		if strings.TrimSpace(fl.author) == "" {
			return vexCreateReport{}, usageErr(fmt.Errorf("%s is a new document: --author is required (the person or team who stands behind the statement)", file))
		}
		doc = vexdoc.NewDocument(documentBase(f, file), fl.author, fl.role, now)
		st.Timestamp = &now
		doc.Statements = append(doc.Statements, st)
		rep.Change = vexdoc.Created
	default:
		return vexCreateReport{}, usageErr(fmt.Errorf("%w (fix it first; 'clearcutt vex validate' lists every problem)", err))
	}
	rep.DocumentID, rep.Version = doc.ID, doc.Version
	if rep.Change == vexdoc.Unchanged {
		return rep, nil
	}

	d := &vexdoc.Document{Path: file, VEX: doc}
	probs := vexdoc.Check(d, vexdoc.CheckOptions{Images: images, Now: clock})
	for _, p := range vexdoc.Conflicts(append(others, d)) {
		if p.File == file {
			probs = append(probs, p)
		}
	}
	if len(probs) > 0 {
		return vexCreateReport{}, usageErr(fmt.Errorf("%s not written:\n%w", file, probs))
	}
	data, err := vexdoc.Marshal(&doc)
	if err != nil {
		return vexCreateReport{}, err
	}
	if err := vexdoc.WriteFile(file, data); err != nil {
		return vexCreateReport{}, err
	}
	return rep, nil
}

// otherDocuments reads every document of the fleet's vex/ except file:
// the statements a new one must not contradict.
func otherDocuments(f *fleet.File, file string) ([]*vexdoc.Document, error) {
	paths, err := vexFiles(f, nil)
	if err != nil {
		return nil, err
	}
	target, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	var out []*vexdoc.Document
	for _, p := range paths {
		if abs, err := filepath.Abs(p); err == nil && abs == target {
			continue
		}
		d, err := vexdoc.Load(p)
		if err != nil {
			return nil, usageErr(fmt.Errorf("%w (fix it first; 'clearcutt vex validate' lists every problem)", err))
		}
		out = append(out, d)
	}
	return out, nil
}

// documentBase is the @id (before its /vN suffix) of a new document: the
// fleet's source URL, or urn:clearcutt:<fleet name>, then /vex/<name>.
func documentBase(f *fleet.File, file string) string {
	prefix := strings.TrimSuffix(f.Metadata.Source, "/")
	if prefix == "" {
		prefix = "urn:clearcutt:" + f.Metadata.Name
	}
	name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".json"), ".openvex")
	return prefix + "/vex/" + name
}

func renderVEXCreate(g *globals, r vexCreateReport) error {
	what := strings.Join(r.Products, ", ")
	if len(r.Subcomponents) > 0 {
		what = strings.Join(r.Subcomponents, ", ") + " in " + what
	}
	_, err := fmt.Fprintf(g.stdout, "%s %s (version %d, %s): statements[%d] %s %s for %s\n",
		r.Change, r.File, r.Version, r.DocumentID, r.Statement, r.Vulnerability, r.Status, what)
	return err
}

// ---- validate ----

// vexDocumentSummary is one document validate read.
type vexDocumentSummary struct {
	File       string `json:"file"`
	ID         string `json:"id,omitempty"`
	Version    int    `json:"version,omitempty"`
	Statements int    `json:"statements"`
}

// vexValidateReport is the outcome of vex validate.
type vexValidateReport struct {
	Documents  []vexDocumentSummary `json:"documents"`
	Statements int                  `json:"statements"`
	Problems   vexdoc.Problems      `json:"problems"`
	Passed     bool                 `json:"passed"`
}

func newVEXValidateCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate [PATH…]",
		Short: "Check OpenVEX documents against the OpenVEX rules and the fleet",
		Long: `validate reads every document (files, or the *.json of directories; default
vex/ next to the fleet file) and checks each as 'clearcutt vex create'
writes them: OpenVEX v0.2.0 with no unknown fields; @id, author, UTC
timestamps none of which (the document's or a statement's timestamp or
last_updated) is later than now plus 5 minutes of clock skew, and a
version; per statement a vulnerability id, a known status
with what it requires (not_affected: a justification or an impact
statement; affected: an action statement), package URLs for every product
and subcomponent, image products (pkg:oci/…) that name an image of the
fleet; and across documents no two statements giving the same
vulnerability, product and subcomponent different statuses. Every problem
names the file, line and field. Exit status 1 when any is found.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := runVEXValidate(f, args)
			if err != nil {
				return err
			}
			g.report(rep)
			return g.emit(asJSON, rep, func() error { return renderVEXValidate(g, rep) }, rep.Passed, fmt.Sprintf("%d VEX problem(s)", len(rep.Problems)))
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func runVEXValidate(f *fleet.File, args []string) (vexValidateReport, error) {
	paths, err := vexFiles(f, args)
	if err != nil {
		return vexValidateReport{}, err
	}
	rep := vexValidateReport{Documents: []vexDocumentSummary{}, Problems: vexdoc.Problems{}}
	images := f.Images()
	now := time.Now()
	var docs []*vexdoc.Document
	for _, p := range paths {
		d, err := vexdoc.Load(p)
		if err != nil {
			var prob vexdoc.Problem
			if !errors.As(err, &prob) {
				return rep, err
			}
			rep.Problems = append(rep.Problems, prob)
			rep.Documents = append(rep.Documents, vexDocumentSummary{File: p})
			continue
		}
		docs = append(docs, d)
		rep.Documents = append(rep.Documents, vexDocumentSummary{File: p, ID: d.VEX.ID, Version: d.VEX.Version, Statements: len(d.VEX.Statements)})
		rep.Statements += len(d.VEX.Statements)
		rep.Problems = append(rep.Problems, vexdoc.Check(d, vexdoc.CheckOptions{Images: images, Now: now})...)
	}
	rep.Problems = append(rep.Problems, vexdoc.Conflicts(docs)...)
	rep.Passed = len(rep.Problems) == 0
	return rep, nil
}

func renderVEXValidate(g *globals, r vexValidateReport) error {
	for _, p := range r.Problems {
		if _, err := fmt.Fprintf(g.stdout, "INVALID %s\n", p.Error()); err != nil {
			return err
		}
	}
	verdict := "valid"
	if !r.Passed {
		verdict = fmt.Sprintf("%d problem(s)", len(r.Problems))
	}
	_, err := fmt.Fprintf(g.stdout, "%d document(s), %d statement(s): %s\n", len(r.Documents), r.Statements, verdict)
	return err
}

// ---- list ----

// vexListRow is one statement.
type vexListRow struct {
	Vulnerability   string     `json:"vulnerability"`
	Aliases         []string   `json:"aliases,omitempty"`
	Status          string     `json:"status"`
	Justification   string     `json:"justification,omitempty"`
	ImpactStatement string     `json:"impactStatement,omitempty"`
	ActionStatement string     `json:"actionStatement,omitempty"`
	Products        []string   `json:"products"`
	Subcomponents   []string   `json:"subcomponents,omitempty"`
	File            string     `json:"file"`
	Statement       int        `json:"statement"`
	Timestamp       *time.Time `json:"timestamp,omitempty"`
}

// vexListReport is the statements vex list selected.
type vexListReport struct {
	Statements []vexListRow `json:"statements"`
}

func newVEXListCmd(g *globals) *cobra.Command {
	var (
		asJSON      bool
		image, vuln string
	)
	cmd := &cobra.Command{
		Use:   "list [PATH…]",
		Short: "List the statements of the fleet's OpenVEX documents",
		Long: `list prints one row per statement of the documents (default vex/ next to the
fleet file): vulnerability, status, justification, products, subcomponents,
file and timestamp (the document's when the statement has none).
--image runtime:tier keeps the statements that can apply to that image:
those naming it (pkg:oci/<runtime>, with its tag if any) and those naming
packages, which apply to every image holding the package. --vuln keeps the
statements about that id (name or alias).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			rep, err := runVEXList(f, args, image, vuln)
			if err != nil {
				return err
			}
			g.report(rep)
			return g.emit(asJSON, rep, func() error { return renderVEXList(g, rep) }, true, "")
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the statements as JSON")
	cmd.Flags().StringVar(&image, "image", "", "only statements that can apply to this image (runtime:tier)")
	cmd.Flags().StringVar(&vuln, "vuln", "", "only statements about this vulnerability id (name or alias)")
	return cmd
}

func runVEXList(f *fleet.File, args []string, image, vuln string) (vexListReport, error) {
	var only []fleet.Image
	if image != "" {
		img, err := fleetImage(f, f.Images(), image)
		if err != nil {
			return vexListReport{}, usageErr(fmt.Errorf("--image: %w", err))
		}
		only = []fleet.Image{img}
	}
	paths, err := vexFiles(f, args)
	if err != nil {
		return vexListReport{}, err
	}
	rep := vexListReport{Statements: []vexListRow{}}
	for _, p := range paths {
		d, err := vexdoc.Load(p)
		if err != nil {
			return vexListReport{}, usageErr(err)
		}
		for i, st := range d.VEX.Statements {
			if vuln != "" && !aboutVuln(st.Vulnerability, vuln) {
				continue
			}
			if only != nil && !appliesTo(st, only) {
				continue
			}
			row := vexListRow{
				Vulnerability: string(st.Vulnerability.Name), Status: string(st.Status),
				Justification: string(st.Justification), ImpactStatement: st.ImpactStatement, ActionStatement: st.ActionStatement,
				Products: []string{}, File: p, Statement: i, Timestamp: st.Timestamp,
			}
			if row.Timestamp == nil {
				row.Timestamp = d.VEX.Timestamp
			}
			for _, a := range st.Vulnerability.Aliases {
				row.Aliases = append(row.Aliases, string(a))
			}
			for _, pr := range st.Products {
				row.Products = append(row.Products, pr.ID)
				for _, s := range pr.Subcomponents {
					if !contains(row.Subcomponents, s.ID) {
						row.Subcomponents = append(row.Subcomponents, s.ID)
					}
				}
			}
			rep.Statements = append(rep.Statements, row)
		}
	}
	sort.SliceStable(rep.Statements, func(i, j int) bool {
		return rep.Statements[i].Vulnerability < rep.Statements[j].Vulnerability
	})
	return rep, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func aboutVuln(v openvex.Vulnerability, id string) bool {
	if strings.EqualFold(string(v.Name), id) {
		return true
	}
	for _, a := range v.Aliases {
		if strings.EqualFold(string(a), id) {
			return true
		}
	}
	return false
}

// appliesTo reports whether st can apply to one of images: a product names
// it, or a product is a package rather than an image.
func appliesTo(st openvex.Statement, images []fleet.Image) bool {
	for _, p := range st.Products {
		names, isImage := vexdoc.NamedImages(p.ID, images)
		if !isImage || len(names) > 0 {
			return true
		}
	}
	return false
}

func renderVEXList(g *globals, r vexListReport) error {
	if len(r.Statements) == 0 {
		_, err := fmt.Fprintln(g.stdout, "no statements")
		return err
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VULNERABILITY\tSTATUS\tJUSTIFICATION\tPRODUCTS\tSUBCOMPONENTS\tFILE\tTIMESTAMP")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, s := range r.Statements {
		ts := "-"
		if s.Timestamp != nil {
			ts = s.Timestamp.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Vulnerability, s.Status, dash(s.Justification),
			strings.Join(s.Products, ","), dash(strings.Join(s.Subcomponents, ",")), s.File, ts)
	}
	return tw.Flush()
}
