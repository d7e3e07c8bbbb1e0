// Package vexdoc reads, checks and edits the OpenVEX v0.2.0 documents a
// fleet keeps in its vex/ directory, the statements clearcutt scan applies
// to findings and republishes, per image, as the OpenVEX attestation.
//
// Parse decodes a document strictly (an unknown field is an error, so a
// misspelt justification cannot silently vanish) and records the line each
// statement starts on. Check applies the OpenVEX rules to every statement
// (status, justification, impact and action statements, UTC timestamps no
// later than now plus ClockSkew, vulnerability ids, package URLs) and,
// given the fleet's images, refuses image products (pkg:oci/…) that name
// no image of the fleet, or name one in a form clearcutt scan never matches
// (a version tag for the tier, a repository_url qualifier). CheckAttested
// checks an attested document about one platform image. Conflicts
// finds statements about the same vulnerability, product and subcomponent
// that disagree on the status. Upsert, Marshal and WriteFile record a
// statement: deterministic JSON, version and @id bumped on every change,
// written atomically.
//
// Create, Validate and List are the flows of 'clearcutt vex create',
// 'vex validate' and 'vex list', each with its options and its report:
// Create records one statement (a product given as runtime:tier becomes
// ImageProduct) only when the whole document passes Check and conflicts
// with none of the fleet's documents; Validate reports every problem of a
// set of documents; List selects statements by image and vulnerability.
// Refusals are outcome.UsageErrors matching ErrInvalid, ErrNotInFleet,
// ErrNoAuthor, ErrOtherAuthor or ErrNotJSONFile. Which files are the
// fleet's documents is for the caller to say.
//
// The package uses github.com/openvex/go-vex for the document model and
// github.com/package-url/packageurl-go (the parser go-vex and its matcher
// use) for package URLs; it links neither grype nor syft.
package vexdoc
