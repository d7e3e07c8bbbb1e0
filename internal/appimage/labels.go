package appimage

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/clearcutt/clearcutt/internal/oci"
)

// Labels an application image carries besides the OCI base labels
// (oci.LabelBaseDigest: the base platform manifest; oci.LabelBaseName: the
// base index reference, by digest).
const (
	// LabelBaseLayers is the number of layers that come from the base.
	LabelBaseLayers = "dev.clearcutt.app.base-layers"
	// LabelBaseTopLayer is the diff_id of the last base layer.
	LabelBaseTopLayer = "dev.clearcutt.app.base-top-layer"
	// LabelConfig is the application's own configuration (Config as
	// JSON): what Build applied over the base's, and Rebase applies again
	// over the new base's.
	LabelConfig = "dev.clearcutt.app.config"
	// AnnotationLayer on an application layer descriptor names the
	// artifact it holds and where.
	AnnotationLayer = "dev.clearcutt.app.layer"
	// LabelFleet is the fleet name label of fleet images.
	LabelFleet = "dev.clearcutt.fleet"
	// LabelVersion is the runtime version label of fleet images.
	LabelVersion = "org.opencontainers.image.version"
)

// reservedLabelPrefixes are set by Build; a user label under them is refused.
var reservedLabelPrefixes = []string{"dev.clearcutt.", "org.opencontainers.image.base."}

// Config is the configuration an application sets over its base's. The
// base's user is always kept.
type Config struct {
	// Entrypoint replaces the base's; setting it without Cmd clears the
	// base's Cmd, as a Dockerfile ENTRYPOINT does.
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	// Env entries (KEY=VALUE) replace the base's value of KEY in place;
	// new keys follow the base's, in this order.
	Env []string `json:"env,omitempty"`
	// Labels are added to the image configuration.
	Labels map[string]string `json:"labels,omitempty"`
}

// Validate checks env entries and refuses labels Build sets itself.
func (c Config) Validate() error {
	seen := map[string]bool{}
	for _, e := range c.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return fmt.Errorf("%w: env %q: want KEY=VALUE", ErrBadOptions, e)
		}
		if seen[k] {
			return fmt.Errorf("%w: env %s given twice", ErrBadOptions, k)
		}
		seen[k] = true
	}
	for k := range c.Labels {
		if k == "" {
			return fmt.Errorf("%w: empty label key", ErrBadOptions)
		}
		for _, p := range reservedLabelPrefixes {
			if strings.HasPrefix(k, p) {
				return fmt.Errorf("%w: label %s: keys under %s are set by clearcutt", ErrBadOptions, k, p)
			}
		}
	}
	if c.Entrypoint != nil && len(c.Entrypoint) == 0 || c.Cmd != nil && len(c.Cmd) == 0 {
		return fmt.Errorf("%w: an entrypoint or command that is set must not be empty", ErrBadOptions)
	}
	argv := c.Entrypoint
	if len(argv) == 0 {
		argv = c.Cmd
	}
	if len(argv) > 0 && argv[0] == "" {
		return fmt.Errorf("%w: the program to start is an empty string", ErrBadOptions)
	}
	return nil
}

func (c Config) label() (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Boundary is where the base ends in one platform image of an application.
type Boundary struct {
	// BaseLayers is the number of layers from the base.
	BaseLayers int `json:"baseLayers"`
	// TopDiffID is the diff_id of the last base layer.
	TopDiffID v1.Hash `json:"topDiffID"`
	// BaseDigest is the base platform manifest; BaseName the base index
	// reference by digest.
	BaseDigest v1.Hash `json:"baseDigest"`
	BaseName   string  `json:"baseName"`
	// Config is the application's configuration.
	Config Config `json:"config"`
}

// ReadBoundary reads and checks the app labels of one platform image's
// configuration: the boundary must lie inside the layer list, name the
// diff_id found there, and leave at least one application layer.
func ReadBoundary(cf *v1.ConfigFile) (Boundary, error) {
	l := cf.Config.Labels
	missing := []string{}
	for _, k := range []string{LabelBaseLayers, LabelBaseTopLayer, LabelConfig, oci.LabelBaseDigest, oci.LabelBaseName} {
		if l[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Boundary{}, fmt.Errorf("%w: labels %s are missing (build it with 'clearcutt app build')", ErrNoBoundary, strings.Join(missing, ", "))
	}
	var b Boundary
	n, err := strconv.Atoi(l[LabelBaseLayers])
	if err != nil || n < 1 {
		return Boundary{}, fmt.Errorf("%w: label %s=%q is not a positive number", ErrNoBoundary, LabelBaseLayers, l[LabelBaseLayers])
	}
	b.BaseLayers = n
	if b.TopDiffID, err = v1.NewHash(l[LabelBaseTopLayer]); err != nil {
		return Boundary{}, fmt.Errorf("%w: label %s: %v", ErrNoBoundary, LabelBaseTopLayer, err)
	}
	if b.BaseDigest, err = v1.NewHash(l[oci.LabelBaseDigest]); err != nil {
		return Boundary{}, fmt.Errorf("%w: label %s: %v", ErrNoBoundary, oci.LabelBaseDigest, err)
	}
	if _, err := oci.RequireDigest(l[oci.LabelBaseName]); err != nil {
		return Boundary{}, fmt.Errorf("%w: label %s: %v", ErrNoBoundary, oci.LabelBaseName, err)
	}
	b.BaseName = l[oci.LabelBaseName]
	dec := json.NewDecoder(strings.NewReader(l[LabelConfig]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b.Config); err != nil {
		return Boundary{}, fmt.Errorf("%w: label %s: %v", ErrNoBoundary, LabelConfig, err)
	}
	ids := cf.RootFS.DiffIDs
	switch {
	case n >= len(ids):
		return Boundary{}, fmt.Errorf("%w: %d base layers leave no application layer among %d layers", ErrNoBoundary, n, len(ids))
	case ids[n-1] != b.TopDiffID:
		return Boundary{}, fmt.Errorf("%w: layer %d has diff_id %s, label %s says %s", ErrNoBoundary, n, ids[n-1], LabelBaseTopLayer, b.TopDiffID)
	}
	// The recorded configuration is what the image runs with.
	c := cf.Config
	if c.WorkingDir != b.Config.WorkingDir && b.Config.WorkingDir != "" ||
		b.Config.Entrypoint != nil && !equalStrings(c.Entrypoint, b.Config.Entrypoint) ||
		b.Config.Cmd != nil && !equalStrings(c.Cmd, b.Config.Cmd) {
		return Boundary{}, fmt.Errorf("%w: label %s does not match the image configuration", ErrNoBoundary, LabelConfig)
	}
	env := map[string]bool{}
	for _, e := range c.Env {
		env[e] = true
	}
	for _, e := range b.Config.Env {
		if !env[e] {
			return Boundary{}, fmt.Errorf("%w: label %s sets %s, the image configuration does not", ErrNoBoundary, LabelConfig, e)
		}
	}
	for k, v := range b.Config.Labels {
		if l[k] != v {
			return Boundary{}, fmt.Errorf("%w: label %s sets label %s, the image configuration does not", ErrNoBoundary, LabelConfig, k)
		}
	}
	return b, nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// appConfig is the configuration of an application platform image: the
// base's configuration (user, runtime labels) with the application's
// Config applied and the boundary recorded. Build and Rebase both use it,
// so rebasing an application onto a base gives the image Build would give
// on that base.
func appConfig(base *v1.ConfigFile, c Config, created time.Time, b Boundary) (*v1.ConfigFile, error) {
	cl, err := c.label()
	if err != nil {
		return nil, err
	}
	cf := base.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cc := &cf.Config
	cc.Env = oci.MergeEnv(cc.Env, c.Env)
	if c.Entrypoint != nil {
		cc.Entrypoint = append([]string(nil), c.Entrypoint...)
		cc.Cmd = nil
	}
	if c.Cmd != nil {
		cc.Cmd = append([]string(nil), c.Cmd...)
	}
	if c.WorkingDir != "" {
		cc.WorkingDir = c.WorkingDir
	}
	labels := map[string]string{}
	for k, v := range cc.Labels {
		// The base's descriptive labels (title, version, source, revision)
		// describe the base, not the application.
		if strings.HasPrefix(k, "org.opencontainers.image.") {
			continue
		}
		labels[k] = v
	}
	keys := make([]string, 0, len(c.Labels))
	for k := range c.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		labels[k] = c.Labels[k]
	}
	labels[oci.LabelCreated] = created.UTC().Format(time.RFC3339)
	labels[oci.LabelBaseDigest] = b.BaseDigest.String()
	labels[oci.LabelBaseName] = b.BaseName
	labels[LabelBaseLayers] = strconv.Itoa(b.BaseLayers)
	labels[LabelBaseTopLayer] = b.TopDiffID.String()
	labels[LabelConfig] = cl
	cc.Labels = labels
	return cf, nil
}
