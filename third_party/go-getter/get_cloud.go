// SPDX-License-Identifier: MPL-2.0

// ClearCutt's copy of go-getter v1.8.10 leaves out get_s3.go and
// get_gcs.go, and with them the AWS SDK and the Google Cloud Storage
// client: ClearCutt downloads nothing through go-getter (its database
// download is its own, over net/http), and these two getters alone import
// about 390 of the packages its build would compile. The types remain, for
// the code that names them (grype's and syft's getter tables), and refuse
// every request.

package getter

import (
	"fmt"
	"net/url"
	"time"
)

// S3Getter is a Getter that refuses every request: this copy of
// go-getter has no S3 client.
type S3Getter struct {
	getter

	// Timeout is kept for the code that sets it.
	Timeout time.Duration
}

func (g *S3Getter) ClientMode(u *url.URL) (ClientMode, error) { return 0, errNoCloud("s3", u) }
func (g *S3Getter) Get(dst string, u *url.URL) error          { return errNoCloud("s3", u) }
func (g *S3Getter) GetFile(dst string, u *url.URL) error      { return errNoCloud("s3", u) }

// GCSGetter is a Getter that refuses every request: this copy of
// go-getter has no Google Cloud Storage client.
type GCSGetter struct {
	getter

	// Timeout is kept for the code that sets it.
	Timeout time.Duration
}

func (g *GCSGetter) ClientMode(u *url.URL) (ClientMode, error) { return 0, errNoCloud("gcs", u) }
func (g *GCSGetter) Get(dst string, u *url.URL) error          { return errNoCloud("gcs", u) }
func (g *GCSGetter) GetFile(dst string, u *url.URL) error      { return errNoCloud("gcs", u) }

func errNoCloud(scheme string, u *url.URL) error {
	return fmt.Errorf("%s: the %s getter is not part of ClearCutt's build of go-getter", u.Redacted(), scheme)
}
