package vexdoc

import (
	"errors"
	"time"

	"github.com/clearcutt/clearcutt/internal/fleet"
)

// ValidateOptions are the documents to validate and what to check them
// against.
type ValidateOptions struct {
	// Fleet is the fleet file: an image product (pkg:oci/…) must name one
	// of its images.
	Fleet *fleet.File
	// Files are the documents, read in order.
	Files []string
	// Now is the time no timestamp may be later than by more than
	// ClockSkew (zero: the time of the call).
	Now time.Time
}

// DocumentSummary is one document Validate read.
type DocumentSummary struct {
	File       string `json:"file"`
	ID         string `json:"id,omitempty"`
	Version    int    `json:"version,omitempty"`
	Statements int    `json:"statements"`
}

// ValidateReport is the outcome of Validate.
type ValidateReport struct {
	Documents  []DocumentSummary `json:"documents"`
	Statements int               `json:"statements"`
	Problems   Problems          `json:"problems"`
	Passed     bool              `json:"passed"`
}

// Validate reads every file and reports every problem: a document that
// cannot be decoded (then summarised by its file alone), what Check finds
// in each document, and the Conflicts between them. Problems make Passed
// false, not an error; the error is a file that cannot be read at all.
func Validate(o ValidateOptions) (ValidateReport, error) {
	rep := ValidateReport{Documents: []DocumentSummary{}, Problems: Problems{}}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	opts := CheckOptions{Images: o.Fleet.Images(), Now: now}
	var docs []*Document
	for _, p := range o.Files {
		d, err := Load(p)
		if err != nil {
			var prob Problem
			if !errors.As(err, &prob) {
				return ValidateReport{}, err
			}
			rep.Problems = append(rep.Problems, prob)
			rep.Documents = append(rep.Documents, DocumentSummary{File: p})
			continue
		}
		docs = append(docs, d)
		rep.Documents = append(rep.Documents, DocumentSummary{File: p, ID: d.VEX.ID, Version: d.VEX.Version, Statements: len(d.VEX.Statements)})
		rep.Statements += len(d.VEX.Statements)
		rep.Problems = append(rep.Problems, Check(d, opts)...)
	}
	rep.Problems = append(rep.Problems, Conflicts(docs)...)
	rep.Passed = len(rep.Problems) == 0
	return rep, nil
}
