package oci

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultBackoff is the retry schedule for transient registry errors.
var DefaultBackoff = remote.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 5}

// retryStatusCodes are the HTTP statuses retried with backoff.
var retryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

// PublishOptions are the inputs of Publish.
type PublishOptions struct {
	// Source is a layout reference by digest: "oci:DIR@sha256:<hex>".
	Source Ref
	// Dest is a layout ("oci:DIR") or a registry repository (a tag in it
	// is published like an entry of Tags). It must not hold a digest.
	Dest Ref
	// Tags are written to a registry destination after the index and all
	// its children are stored. Layout destinations use RefName instead.
	Tags []string
	// RefName is the org.opencontainers.image.ref.name of the index.json
	// entry of a layout destination.
	RefName  string
	Progress func(Event)
	// Transport is the HTTP transport (remote.DefaultTransport when nil).
	Transport http.RoundTripper
	// Backoff overrides DefaultBackoff.
	Backoff *remote.Backoff
	// Keychain resolves registry credentials (anonymous when nil); the CLI
	// passes authn.DefaultKeychain.
	Keychain authn.Keychain
}

// PublishResult reports what Publish stored.
type PublishResult struct {
	Digest v1.Hash
	// Platforms maps "os/arch[/variant]" to the platform image digest.
	Platforms map[string]v1.Hash
	// Blobs (layers and configs) uploaded and skipped because the
	// destination already held them, and the bytes uploaded.
	BlobsUploaded, BlobsSkipped int
	BytesUploaded               int64
	// Refs are the references written: the digest reference, then tags.
	Refs []string
}

// Publish copies the index named by Source, with every image and blob, to
// Dest by digest.
func Publish(ctx context.Context, o PublishOptions) (PublishResult, error) {
	if !o.Source.IsLayout() {
		return PublishResult{}, fmt.Errorf("publish: source %s is not an oci: layout reference", o.Source)
	}
	d, err := o.Source.Hash()
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish: source: %w", err)
	}
	if err := checkDest(o.Dest); err != nil {
		return PublishResult{}, err
	}
	idx, err := ReadLayoutIndex(o.Source.Layout, d)
	if err != nil {
		return PublishResult{}, err
	}
	return publishIndex(ctx, o, idx, o.Source.String())
}

// PublishIndex stores idx, with every image and blob, at o.Dest by digest,
// with Publish's semantics (tags move only after the index is stored).
// o.Source is not used: the images are read through idx, wherever they live.
func PublishIndex(ctx context.Context, idx v1.ImageIndex, o PublishOptions) (PublishResult, error) {
	if err := checkDest(o.Dest); err != nil {
		return PublishResult{}, err
	}
	return publishIndex(ctx, o, idx, "index")
}

func checkDest(dest Ref) error {
	if dest.Digest != "" {
		return fmt.Errorf("publish: destination %s must not hold a digest", dest)
	}
	if dest.Layout == "" && dest.Repo.RepositoryStr() == "" {
		return fmt.Errorf("%w: publish: destination is empty", ErrBadRef)
	}
	return nil
}

func publishIndex(ctx context.Context, o PublishOptions, idx v1.ImageIndex, what string) (PublishResult, error) {
	d, err := idx.Digest()
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish: %s: %w", what, err)
	}
	blobs, plats, err := blobsOf(idx)
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish: %s: %w", what, err)
	}
	res := PublishResult{Digest: d, Platforms: plats}
	if o.Dest.IsLayout() {
		if len(o.Tags) > 0 {
			return PublishResult{}, fmt.Errorf("publish: tags %v need a registry destination; a layout uses RefName", o.Tags)
		}
		return publishLayout(ctx, o, idx, blobs, res)
	}
	return publishRegistry(ctx, o, idx, blobs, res)
}

func (o PublishOptions) progress(e Event) {
	if o.Progress != nil {
		o.Progress(e)
	}
}

func publishLayout(ctx context.Context, o PublishOptions, idx v1.ImageIndex, blobs []v1.Descriptor, res PublishResult) (PublishResult, error) {
	for _, b := range blobs {
		if _, err := os.Stat(filepath.Join(o.Dest.Layout, "blobs", b.Digest.Algorithm, b.Digest.Hex)); err == nil {
			res.BlobsSkipped++
		} else {
			res.BlobsUploaded++
			res.BytesUploaded += b.Size
		}
	}
	if _, err := WriteLayout(ctx, o.Dest.Layout, idx, o.RefName); err != nil {
		return PublishResult{}, err
	}
	res.Refs = []string{Ref{Layout: o.Dest.Layout, Digest: res.Digest.String()}.String()}
	o.progress(Event{Step: "layout", Detail: res.Refs[0]})
	return res, nil
}

func publishRegistry(ctx context.Context, o PublishOptions, idx v1.ImageIndex, blobs []v1.Descriptor, res PublishResult) (PublishResult, error) {
	tags := append([]string(nil), o.Tags...)
	if o.Dest.Tag != "" {
		tags = append([]string{o.Dest.Tag}, tags...)
	}
	tagRefs := make([]name.Tag, 0, len(tags))
	for _, t := range tags {
		tr, err := name.NewTag(o.Dest.Repo.String()+":"+t, name.StrictValidation)
		if err != nil {
			return PublishResult{}, fmt.Errorf("%w: tag %q: %v", ErrBadRef, t, err)
		}
		tagRefs = append(tagRefs, tr)
	}
	inner := o.Transport
	if inner == nil {
		inner = remote.DefaultTransport
	}
	counter := &uploadCounter{inner: inner, uploaded: map[string]bool{}}
	backoff := DefaultBackoff
	if o.Backoff != nil {
		backoff = *o.Backoff
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(counter),
		remote.WithRetryBackoff(backoff),
		remote.WithRetryStatusCodes(retryStatusCodes...),
	}
	if o.Keychain != nil {
		opts = append(opts, remote.WithAuthFromKeychain(o.Keychain))
	}
	dref := o.Dest.DigestRef(res.Digest)
	if err := remote.WriteIndex(dref, idx, opts...); err != nil {
		return PublishResult{}, fmt.Errorf("publish %s: %w", dref, err)
	}
	res.Refs = append(res.Refs, dref.String())
	o.progress(Event{Step: "index", Detail: dref.String()})
	for _, b := range blobs {
		if counter.wasUploaded(b.Digest.String()) {
			res.BlobsUploaded++
			res.BytesUploaded += b.Size
		} else {
			res.BlobsSkipped++
		}
	}
	for i, tr := range tagRefs {
		if err := remote.Put(tr, idx, opts...); err != nil {
			return res, fmt.Errorf("publish: tag %s: %w", tr, err)
		}
		res.Refs = append(res.Refs, tr.String())
		o.progress(Event{Step: "tag", Detail: tr.String(), N: i + 1, Total: len(tagRefs)})
	}
	return res, nil
}

// uploadCounter observes the registry protocol: a successful PUT (or
// monolithic POST) to .../blobs/uploads/...?digest=D completes the upload
// of blob D. Blobs that are never committed were found by HEAD or mounted.
type uploadCounter struct {
	inner    http.RoundTripper
	mu       sync.Mutex
	uploaded map[string]bool
}

func (c *uploadCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.inner.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	if (r.Method == http.MethodPut || r.Method == http.MethodPost) &&
		strings.Contains(r.URL.Path, "/blobs/uploads/") && resp.StatusCode == http.StatusCreated {
		if d := r.URL.Query().Get("digest"); d != "" {
			c.mu.Lock()
			c.uploaded[d] = true
			c.mu.Unlock()
		}
	}
	return resp, nil
}

func (c *uploadCounter) wasUploaded(d string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.uploaded[d]
}
