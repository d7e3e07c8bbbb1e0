package vexdoc

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"

	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/outcome"
)

// CreateOptions are one statement to record and the document to record it
// in. Errors name the statement's fields by the flags of
// 'clearcutt vex create' (--id, --product, --status, …).
type CreateOptions struct {
	// Fleet is the fleet file: its images are what image products name,
	// its directory holds vex/, its metadata (source, else name) prefixes
	// the @id of a new document.
	Fleet *fleet.File
	// Documents are the fleet's VEX documents: no statement of them may
	// give the same vulnerability, product and subcomponent another
	// status. File, if among them, is read as the document to change.
	Documents []string
	// ID is the vulnerability id (CVE-…, GHSA-…, or an advisory id).
	ID string
	// Products are package URLs (pkg:…) or images of the fleet as
	// runtime:tier, recorded as ImageProduct.
	Products []string
	// Subcomponents are package URLs of the components inside every
	// product.
	Subcomponents []string
	// Status, Justification, ImpactStatement and ActionStatement are the
	// statement's, as OpenVEX spells them.
	Status          string
	Justification   string
	ImpactStatement string
	ActionStatement string
	// Author and Role are a new document's; for an existing document they
	// must be its own, or empty.
	Author string
	Role   string
	// File is the document to write ("": vex/FileName(ID) next to the
	// fleet file); it must end in .json.
	File string
	// Timestamp is the statement's time (zero: Now), stored in UTC to the
	// second.
	Timestamp time.Time
	// Now is the time of the run, which no timestamp may be later than
	// by more than ClockSkew (zero: the time of the call).
	Now time.Time
}

// CreateReport is what Create did.
type CreateReport struct {
	File          string   `json:"file"`
	Change        Change   `json:"change"`
	DocumentID    string   `json:"documentId"`
	Version       int      `json:"version"`
	Statement     int      `json:"statement"`
	Vulnerability string   `json:"vulnerability"`
	Status        string   `json:"status"`
	Products      []string `json:"products"`
	Subcomponents []string `json:"subcomponents,omitempty"`
}

// Create records one statement: in a new document, or in the existing
// File with Upsert. The file is written atomically, as Marshal's
// deterministic JSON, and only when the whole document passes Check and
// Conflicts finds no statement of Documents that gives the same
// vulnerability, product and subcomponent another status. An identical
// statement changes nothing and writes nothing.
//
// Every refusal is an outcome.UsageError: a statement or document that
// breaks a rule matches ErrInvalid (and, for a statement, errors.As finds
// its Problems); a product naming no image of the fleet ErrNotInFleet; a
// new document without Author ErrNoAuthor; another Author or Role than the
// document's ErrOtherAuthor; a File not ending in .json ErrNotJSONFile.
func Create(o CreateOptions) (CreateReport, error) {
	// clock is the time of the run, which no timestamp may be later than;
	// now is the statement's time.
	clock := o.Now
	if clock.IsZero() {
		clock = time.Now()
	}
	now := clock
	if !o.Timestamp.IsZero() {
		now = o.Timestamp
	}
	now = now.UTC().Truncate(time.Second)
	if err := CheckVulnerabilityID(o.ID); err != nil {
		return CreateReport{}, refuse(ErrInvalid, fmt.Errorf("--id: %w", err))
	}
	images := o.Fleet.Images()
	st := openvex.Statement{
		Vulnerability:   openvex.Vulnerability{Name: openvex.VulnerabilityID(o.ID)},
		Status:          openvex.Status(o.Status),
		Justification:   openvex.Justification(o.Justification),
		ImpactStatement: o.ImpactStatement,
		ActionStatement: o.ActionStatement,
	}
	var subs []openvex.Subcomponent
	for _, s := range o.Subcomponents {
		if err := CheckPURL(s); err != nil {
			return CreateReport{}, refuse(ErrInvalid, fmt.Errorf("--subcomponent: %w", err))
		}
		subs = append(subs, openvex.Subcomponent{Component: openvex.Component{ID: s}})
	}
	rep := CreateReport{Vulnerability: o.ID, Status: o.Status, Subcomponents: o.Subcomponents}
	for _, p := range o.Products {
		id, err := resolveProduct(o.Fleet, images, p)
		if err != nil {
			return CreateReport{}, outcome.Usage(fmt.Errorf("--product: %w", err))
		}
		st.Products = append(st.Products, openvex.Product{Component: openvex.Component{ID: id}, Subcomponents: subs})
		rep.Products = append(rep.Products, id)
	}
	if probs := CheckStatement(&st, CheckOptions{Images: images, Now: clock}); len(probs) > 0 {
		msgs := make([]string, len(probs))
		for i, p := range probs {
			msgs[i] = flagFor(p.Field) + ": " + p.Message
		}
		return CreateReport{}, refuse(probs, errors.New(strings.Join(msgs, "\n")))
	}

	file := o.File
	if file == "" {
		file = filepath.Join(o.Fleet.Dir, "vex", FileName(o.ID))
	}
	if !strings.HasSuffix(file, ".json") {
		return CreateReport{}, refuse(ErrNotJSONFile, fmt.Errorf("--file %s: clearcutt scan reads only *.json documents", file))
	}
	rep.File = file
	others, err := otherDocuments(o.Documents, file)
	if err != nil {
		return CreateReport{}, err
	}

	var doc openvex.VEX
	existing, err := Load(file)
	switch {
	case err == nil:
		doc = existing.VEX
		if o.Author != "" && o.Author != doc.Author {
			return CreateReport{}, refuse(ErrOtherAuthor, fmt.Errorf("--author %q: %s is authored by %q; write to another --file", o.Author, file, doc.Author))
		}
		if o.Role != "" && o.Role != doc.AuthorRole {
			return CreateReport{}, refuse(ErrOtherAuthor, fmt.Errorf("--role %q: %s gives the role %q; write to another --file", o.Role, file, doc.AuthorRole))
		}
		rep.Change, rep.Statement = Upsert(&doc, st, now)
	case errors.Is(err, fs.ErrNotExist):
		if strings.TrimSpace(o.Author) == "" {
			return CreateReport{}, refuse(ErrNoAuthor, fmt.Errorf("%s is a new document: --author is required (the person or team who stands behind the statement)", file))
		}
		doc = NewDocument(documentBase(o.Fleet, file), o.Author, o.Role, now)
		st.Timestamp = &now
		doc.Statements = append(doc.Statements, st)
		rep.Change = Created
	default:
		return CreateReport{}, outcome.Usage(fmt.Errorf("%w (fix it first; 'clearcutt vex validate' lists every problem)", err))
	}
	rep.DocumentID, rep.Version = doc.ID, doc.Version
	if rep.Change == Unchanged {
		return rep, nil
	}

	d := &Document{Path: file, VEX: doc}
	probs := Check(d, CheckOptions{Images: images, Now: clock})
	for _, p := range Conflicts(append(others, d)) {
		if p.File == file {
			probs = append(probs, p)
		}
	}
	if len(probs) > 0 {
		return CreateReport{}, outcome.Usage(fmt.Errorf("%s not written:\n%w", file, probs))
	}
	data, err := Marshal(&doc)
	if err != nil {
		return CreateReport{}, err
	}
	if err := WriteFile(file, data); err != nil {
		return CreateReport{}, err
	}
	return rep, nil
}

// resolveProduct is the package URL a product given as a package URL or
// as runtime:tier stands for.
func resolveProduct(f *fleet.File, images []fleet.Image, s string) (string, error) {
	if strings.HasPrefix(s, "pkg:") {
		if err := CheckPURL(s); err != nil {
			return "", refusal{err: err, kind: ErrInvalid}
		}
		if names, isImage := NamedImages(s, images); isImage && len(names) == 0 {
			return "", refusal{err: fmt.Errorf("%s names no image of the fleet", s), kind: ErrNotInFleet}
		}
		return s, nil
	}
	if !strings.Contains(s, ":") {
		return "", refusal{err: fmt.Errorf("%q is neither a package URL (pkg:…) nor an image of the fleet (runtime:tier)", s), kind: ErrInvalid}
	}
	img, err := fleetImage(f, images, s)
	if err != nil {
		return "", err
	}
	return ImageProduct(img), nil
}

// fleetImage is the image ref (runtime:tier) of the fleet f, whose images
// are images.
func fleetImage(f *fleet.File, images []fleet.Image, ref string) (fleet.Image, error) {
	var names []string
	for _, img := range images {
		if img.RefName == ref {
			return img, nil
		}
		names = append(names, img.RefName)
	}
	return fleet.Image{}, refusal{
		err:  fmt.Errorf("%q is not an image of %s (runtime:tier, one of %s)", ref, f.Path, strings.Join(names, ", ")),
		kind: ErrNotInFleet,
	}
}

// flagFor is the flag of 'clearcutt vex create' a statement field comes
// from.
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

// otherDocuments reads every document of paths except file: the
// statements a new one must not contradict.
func otherDocuments(paths []string, file string) ([]*Document, error) {
	target, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	var out []*Document
	for _, p := range paths {
		if abs, err := filepath.Abs(p); err == nil && abs == target {
			continue
		}
		d, err := Load(p)
		if err != nil {
			return nil, outcome.Usage(fmt.Errorf("%w (fix it first; 'clearcutt vex validate' lists every problem)", err))
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
