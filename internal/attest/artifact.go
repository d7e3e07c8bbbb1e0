package attest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Annotations and media types of a bundle artifact manifest, as cosign v3
// writes them.
const (
	AnnotationBundleContent = "dev.sigstore.bundle.content"
	AnnotationPredicateType = "dev.sigstore.bundle.predicateType"
	AnnotationCreated       = "org.opencontainers.image.created"
	AnnotationTitle         = "org.opencontainers.image.title"
	// BundleContentDSSE is the bundle content annotation of DSSE bundles.
	BundleContentDSSE = "dsse-envelope"
	// EmptyMediaType is the OCI empty descriptor's media type; its content
	// is "{}".
	EmptyMediaType = "application/vnd.oci.empty.v1+json"
	// bundleMediaTypePrefix selects bundle layers of any bundle version.
	bundleMediaTypePrefix = "application/vnd.dev.sigstore.bundle"
)

var emptyJSON = []byte("{}")

// artifact is one bundle ready to store: its manifest bytes and the blobs
// the manifest references.
type artifact struct {
	manifest []byte
	digest   v1.Hash
	// desc is the manifest's entry in a referrers index.
	desc   v1.Descriptor
	bundle []byte
	layer  v1.Descriptor
	config v1.Descriptor
}

// newArtifact builds the referrer manifest of bundle about subject. The
// manifest depends only on its inputs: created is the bundle's own
// transparency-log time when it has one, else fallback.
func newArtifact(subject v1.Descriptor, bundle []byte, predicateType string, fallback time.Time) (*artifact, error) {
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(bundle, &pb); err != nil {
		return nil, fmt.Errorf("%w: not a Sigstore bundle: %v", ErrBadArtifact, err)
	}
	if pb.GetMediaType() != BundleMediaType || pb.GetDsseEnvelope() == nil {
		return nil, fmt.Errorf("%w: want a %s bundle with a DSSE envelope", ErrBadArtifact, BundleMediaType)
	}
	if subject.Digest.Hex == "" || subject.MediaType == "" || subject.Size <= 0 {
		return nil, fmt.Errorf("%w: subject descriptor needs a media type, digest and size", ErrBadArtifact)
	}
	created := fallback
	for _, e := range pb.GetVerificationMaterial().GetTlogEntries() {
		if t := e.GetIntegratedTime(); t > 0 {
			created = time.Unix(t, 0)
			break
		}
	}
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	cfgH, cfgN, _ := v1.SHA256(bytes.NewReader(emptyJSON))
	bH, bN, _ := v1.SHA256(bytes.NewReader(bundle))
	a := &artifact{
		bundle: bundle,
		config: v1.Descriptor{MediaType: EmptyMediaType, Digest: cfgH, Size: cfgN},
		layer: v1.Descriptor{MediaType: BundleMediaType, Digest: bH, Size: bN,
			Annotations: map[string]string{AnnotationTitle: bH.Algorithm + "-" + bH.Hex + ".sigstore.json"}},
	}
	annotations := map[string]string{
		AnnotationBundleContent: BundleContentDSSE,
		AnnotationPredicateType: predicateType,
		AnnotationCreated:       created.UTC().Format(time.RFC3339),
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  BundleMediaType,
		Config:        a.config,
		Layers:        []v1.Descriptor{a.layer},
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations:   annotations,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	h, n, _ := v1.SHA256(bytes.NewReader(raw))
	a.manifest, a.digest = raw, h
	a.desc = v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: n, ArtifactType: BundleMediaType, Annotations: annotations}
	return a, nil
}

// bundleRef is what a referrer manifest says about its bundle.
type bundleRef struct {
	layer         v1.Descriptor
	predicateType string
	created       time.Time
}

// parseArtifact reads a referrer manifest. ok is false for referrers that
// are not Sigstore bundles about subject: another kind of artifact, a
// manifest without exactly one layer with a bundle media type (as cosign
// requires), or one filed under subject that names another.
func parseArtifact(raw []byte, subject v1.Hash) (bundleRef, bool) {
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return bundleRef{}, false
	}
	if len(m.Layers) != 1 || !strings.HasPrefix(string(m.Layers[0].MediaType), bundleMediaTypePrefix) {
		return bundleRef{}, false
	}
	if m.Subject == nil || m.Subject.Digest != subject {
		return bundleRef{}, false
	}
	r := bundleRef{layer: m.Layers[0], predicateType: m.Annotations[AnnotationPredicateType]}
	if c := m.Annotations[AnnotationCreated]; c != "" {
		if t, err := time.Parse(time.RFC3339, c); err == nil {
			r.created = t
		}
	}
	return r, true
}

// checkBlob verifies that data has the digest and size of d.
func checkBlob(d v1.Descriptor, data []byte) error {
	h, n, err := v1.SHA256(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if h != d.Digest || n != d.Size {
		return fmt.Errorf("%w: blob %s has digest %s and size %d", ErrBadArtifact, d.Digest, h, n)
	}
	return nil
}
