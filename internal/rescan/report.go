package rescan

import (
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/gate"
	"github.com/clearcutt/clearcutt/internal/scan"
	"github.com/clearcutt/clearcutt/internal/vulndb"
)

// Status is the outcome of one platform image.
type Status string

// Platform outcomes.
const (
	// StatusRescanned: a fresh scan attestation is attached to the platform digest.
	StatusRescanned Status = "rescanned"
	// StatusFailed: the platform was not rescanned; its previous scan stands.
	StatusFailed Status = "failed"
)

// Report is the outcome of one rescan of the fleet.
type Report struct {
	// Catalog is the catalog file the images were read from.
	Catalog string `json:"catalog,omitempty"`
	// DB is the vulnerability database every platform was matched against.
	DB              vulndb.Info `json:"db"`
	StaleDBAccepted bool        `json:"staleDBAccepted,omitempty"`
	// Mode is the signing mode of the new attestations (key or keyless).
	Mode string `json:"mode"`
	// Gate is the vulnerability gate policy applied.
	Gate string `json:"gate"`
	// Passed is true when every platform of every image was rescanned and
	// no gate failed.
	Passed bool `json:"passed"`
	// Rescanned is the number of images every platform of which has a
	// fresh scan attestation; Platforms and Failed count platforms.
	Rescanned int `json:"rescanned"`
	Platforms int `json:"platforms"`
	Failed    int `json:"failed"`
	// NewFindings are the finding ids active now that were not active at
	// a platform's previous scan, over the fleet.
	NewFindings []string `json:"newFindings"`
	// Work counts the matching work: packages over all SBOMs against the
	// distinct packages the matchers ran on.
	Work       scan.BatchStats `json:"work"`
	StartedOn  time.Time       `json:"startedOn"`
	FinishedOn time.Time       `json:"finishedOn"`
	Images     []Image         `json:"images"`
}

// Image is one image index of the catalog.
type Image struct {
	Name        string `json:"name"`
	Reference   string `json:"reference"`
	IndexDigest string `json:"indexDigest"`
	// Error is set when the image could not be opened or verified at all;
	// every platform is then failed with it.
	Error     string     `json:"error,omitempty"`
	Platforms []Platform `json:"platforms"`
	// IndexAttached is the vulnerability statement about the index, made
	// from every platform's new scan (admission controllers see only the
	// index digest); empty when a platform was not rescanned.
	IndexAttached []Attached `json:"indexAttached,omitempty"`
	// IndexError says why the index statement could not be attached.
	IndexError string `json:"indexError,omitempty"`
}

// Platform is one platform image of an index.
type Platform struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
	Status   Status `json:"status"`
	// Reason says why the platform was not rescanned, or what failed the gate.
	Reason string `json:"reason,omitempty"`
	// Packages is the package count of the verified SBOM.
	Packages int `json:"packages,omitempty"`
	// DBBuiltAt is the build time of the database matched against.
	DBBuiltAt *time.Time `json:"dbBuiltAt,omitempty"`
	// ScanStartedOn and ScanFinishedOn are the times the new statement records.
	ScanStartedOn  *time.Time `json:"scanStartedOn,omitempty"`
	ScanFinishedOn *time.Time `json:"scanFinishedOn,omitempty"`
	// Active, Suppressed (VEX) and Excepted count the findings.
	Active     int `json:"active"`
	Suppressed int `json:"suppressed"`
	Excepted   int `json:"excepted"`
	// Gate is the gate decision recorded with the scan.
	Gate *gate.Decision `json:"gate,omitempty"`
	// PreviousScan is the scan time of the verified scan this one
	// replaces (nil: there was none).
	PreviousScan *time.Time `json:"previousScan,omitempty"`
	// NewFindings are ids of findings active now and not active at the
	// previous scan (every active finding when there was none).
	NewFindings []string `json:"newFindings"`
	// Findings are every finding of the new scan.
	Findings []scan.Finding `json:"findings,omitempty"`

	// statement is the signed scan statement, for the index statement.
	statement []byte
	// Attached are the bundles stored for this platform.
	Attached []Attached `json:"attached,omitempty"`
}

// Attached is one bundle stored as a referrer of a platform digest.
type Attached struct {
	PredicateType string  `json:"predicateType"`
	Artifact      v1.Hash `json:"artifact"`
}
