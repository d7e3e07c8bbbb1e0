package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/stage"
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

// vexFiles is the documents PATH arguments name: files, or the *.json of
// directories; none means the fleet's vex/ directory, which may be absent.
func vexFiles(f *fleet.File, paths []string) ([]string, error) {
	if len(paths) == 0 {
		return stage.VEXDocuments(f, "")
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
		files, err := stage.VEXDocuments(f, p)
		if err != nil {
			return nil, err
		}
		out = append(out, files...)
	}
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
--action-statement; fixed and under_investigation take neither.

Exit status: 0 written (or already there), 2 the statement or document is
refused (the message says why; nothing written), 3 could not write.`,
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

// runVEXCreate records the statement the flags describe with
// vexdoc.Create, against the documents of the fleet's vex/.
func runVEXCreate(f *fleet.File, fl vexCreateFlags) (vexdoc.CreateReport, error) {
	var ts time.Time
	if fl.timestamp != "" {
		t, err := time.Parse(time.RFC3339, fl.timestamp)
		if err != nil {
			return vexdoc.CreateReport{}, usageErr(fmt.Errorf("--timestamp %q: want RFC 3339 (2026-11-26T12:00:00Z)", fl.timestamp))
		}
		ts = t
	}
	docs, err := stage.VEXDocuments(f, "")
	if err != nil {
		return vexdoc.CreateReport{}, err
	}
	return vexdoc.Create(vexdoc.CreateOptions{
		Fleet: f, Documents: docs,
		ID: fl.id, Products: fl.products, Subcomponents: fl.subcomponents,
		Status: fl.status, Justification: fl.justification, ImpactStatement: fl.impact, ActionStatement: fl.action,
		Author: fl.author, Role: fl.role, File: fl.file, Timestamp: ts,
	})
}

func renderVEXCreate(g *globals, r vexdoc.CreateReport) error {
	what := strings.Join(r.Products, ", ")
	if len(r.Subcomponents) > 0 {
		what = strings.Join(r.Subcomponents, ", ") + " in " + what
	}
	return writeParagraph(g.stdout, fmt.Sprintf("%s %s (version %d, %s): statements[%d] %s %s for %s",
		r.Change, r.File, r.Version, r.DocumentID, r.Statement, r.Vulnerability, r.Status, what))
}

// ---- validate ----

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
names the file, line and field.

Exit status: 0 every document is valid, 1 a problem was found, 2 bad flags or
fleet file, 3 the documents could not be read.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			files, err := vexFiles(f, args)
			if err != nil {
				return err
			}
			rep, err := vexdoc.Validate(vexdoc.ValidateOptions{Fleet: f, Files: files})
			if err != nil {
				return err
			}
			return g.emit(asJSON, rep, func() error { return renderVEXValidate(g, rep) }, rep.Passed, fmt.Sprintf("%d VEX problem(s)", len(rep.Problems)))
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func renderVEXValidate(g *globals, r vexdoc.ValidateReport) error {
	for _, p := range r.Problems {
		if err := writeParagraph(g.stdout, "INVALID "+p.Error()); err != nil {
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
statements about that id (name or alias).

Exit status: 0 listed, 2 bad flags, fleet file or documents, 3 the documents
could not be read.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			files, err := vexFiles(f, args)
			if err != nil {
				return err
			}
			rep, err := vexdoc.List(vexdoc.ListOptions{Fleet: f, Files: files, Image: image, Vuln: vuln})
			if err != nil {
				return err
			}
			return g.emit(asJSON, rep, func() error { return renderVEXList(g, rep) }, true, "")
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the statements as JSON")
	cmd.Flags().StringVar(&image, "image", "", "only statements that can apply to this image (runtime:tier)")
	cmd.Flags().StringVar(&vuln, "vuln", "", "only statements about this vulnerability id (name or alias)")
	return cmd
}

func renderVEXList(g *globals, r vexdoc.ListReport) error {
	if len(r.Statements) == 0 {
		_, err := fmt.Fprintln(g.stdout, "no statements")
		return err
	}
	// Why, about what, where and when share the last column, wrapped: lists
	// of package URLs are free text.
	t := table{header: []string{"VULNERABILITY", "STATUS", "JUSTIFICATION: PRODUCTS (SUBCOMPONENTS); FILE TIMESTAMP"}}
	for _, s := range r.Statements {
		ts := "-"
		if s.Timestamp != nil {
			ts = s.Timestamp.UTC().Format(time.RFC3339)
		}
		what := strings.Join(s.Products, ", ")
		if s.Justification != "" {
			what = s.Justification + ": " + what
		}
		if len(s.Subcomponents) > 0 {
			what += " (" + strings.Join(s.Subcomponents, ", ") + ")"
		}
		t.add(s.Vulnerability, s.Status, what+"; "+s.File+" "+ts)
	}
	return t.write(g.stdout, tableWidth)
}
