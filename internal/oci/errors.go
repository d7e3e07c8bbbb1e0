// Package oci turns closure manifests into deterministic OCI images and an
// image index (one image per architecture), caches compressed layers by
// content, and writes the result to an OCI layout or a registry by digest.
//
// The package follows go-containerregistry's idioms: layers are small
// v1.Layer cores backed by cached files, and images and indexes are built
// with mutate from empty.Image / empty.Index or from an overlay base.
package oci

import "errors"

// Sentinel errors. Every error returned by this package that belongs to one
// of these classes wraps it, so callers can test with errors.Is.
var (
	// ErrBadRef: a reference string cannot be parsed.
	ErrBadRef = errors.New("invalid reference")
	// ErrNotByDigest: a reference names a tag or a layout without a digest
	// where a digest is required.
	ErrNotByDigest = errors.New("reference is not by digest")
	// ErrEscape: a closure entry would escape the image (a name with "..",
	// a symlink out of the closure or above "/").
	ErrEscape = errors.New("path escapes the image")
	// ErrBadManifest: a closure manifest is inconsistent or unusable.
	ErrBadManifest = errors.New("invalid closure manifest")
	// ErrBadBase: an overlay base is missing, not by digest, or lacks a
	// platform.
	ErrBadBase = errors.New("invalid base image")
	// ErrNotFound: a layout or registry does not hold the requested digest.
	ErrNotFound = errors.New("not found")
	// ErrNotIndex: a digest names a platform image where an index is needed.
	ErrNotIndex = errors.New("not an image index")
)
