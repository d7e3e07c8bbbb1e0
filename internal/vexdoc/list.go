package vexdoc

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/outcome"
)

// ListOptions are the documents to list and which of their statements.
type ListOptions struct {
	// Fleet is the fleet file Image names an image of.
	Fleet *fleet.File
	// Files are the documents, read in order.
	Files []string
	// Image (runtime:tier), if set, keeps the statements that can apply
	// to that image: those naming it and those naming packages.
	Image string
	// Vuln, if set, keeps the statements about that id (name or alias,
	// in any case).
	Vuln string
}

// ListedStatement is one statement List selected.
type ListedStatement struct {
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

// ListReport is the statements List selected.
type ListReport struct {
	Statements []ListedStatement `json:"statements"`
}

// List is the statements of the files that Image and Vuln select, sorted
// by vulnerability (in file and statement order otherwise). A statement
// without a timestamp is listed with its document's. An Image that is not
// an image of the fleet is refused (ErrNotInFleet), and so is a document
// that cannot be read (ErrInvalid when it cannot be decoded); both are
// outcome.UsageErrors.
func List(o ListOptions) (ListReport, error) {
	var only []fleet.Image
	if o.Image != "" {
		img, err := fleetImage(o.Fleet, o.Fleet.Images(), o.Image)
		if err != nil {
			return ListReport{}, outcome.Usage(fmt.Errorf("--image: %w", err))
		}
		only = []fleet.Image{img}
	}
	rep := ListReport{Statements: []ListedStatement{}}
	for _, p := range o.Files {
		d, err := Load(p)
		if err != nil {
			return ListReport{}, outcome.Usage(err)
		}
		for i, st := range d.VEX.Statements {
			if o.Vuln != "" && !aboutVuln(st.Vulnerability, o.Vuln) {
				continue
			}
			if only != nil && !appliesTo(st, only) {
				continue
			}
			row := ListedStatement{
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
					if !slices.Contains(row.Subcomponents, s.ID) {
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

// aboutVuln reports whether v is the vulnerability id, by name or alias.
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
		names, isImage := NamedImages(p.ID, images)
		if !isImage || len(names) > 0 {
			return true
		}
	}
	return false
}
