package catalog

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readDigest and otherDigest are platform and index digests of the test
// catalog.
var (
	readDigest  = "sha256:" + strings.Repeat("a", 64)
	otherDigest = "sha256:" + strings.Repeat("b", 64)
)

// goodCatalog is a catalog of one verified image, in key mode.
var goodCatalog = `{"apiVersion": "` + APIVersion + `", "generatedAt": "2026-11-26T00:00:00Z",
 "fleet": {"name": "f", "repository": "a/b", "registry": "oci:x", "publicKey": "cosign.pub", "requiredChannels": ["signature"]},
 "images": [{"name": "python:distroless", "runtime": "python", "version": "3.11", "tier": "distroless", "reference": "oci:out/oci@` + readDigest + `", "indexDigest": "` + readDigest + `",
  "tags": [], "verifiedAt": "2026-11-26T00:00:00Z", "status": "verified", "channels": [{"channel": "signature", "status": "verified", "required": true, "digest": "` + readDigest + `"}], "history": [],
  "platforms": [{"platform": "linux/amd64", "digest": "` + readDigest + `", "size": 1, "layers": 1, "packages": null, "closureSize": 0, "pruningCandidates": [],
   "channels": [{"channel": "signature", "status": "verified", "required": true, "digest": "` + readDigest + `"}], "sbom": "sbom/a.spdx.json",
   "vulnerabilities": {"scanTime": "2026-11-26T00:00:00Z", "active": {"critical": 0, "high": 1, "medium": 0, "low": 0, "negligible": 0, "unknown": 0},
    "suppressed": {"critical": 0, "high": 0, "medium": 0, "low": 0, "negligible": 0, "unknown": 0}, "excepted": {"critical": 0, "high": 0, "medium": 0, "low": 0, "negligible": 0, "unknown": 0},
    "findings": [{"id": "CVE-1", "severity": "high", "package": "p", "version": "1", "status": "active"}]}}]}]}`

// unreleasedImage is an image whose release failed with none served.
const unreleasedImage = `{"name": "static:distroless", "runtime": "static", "version": "1", "tier": "distroless", "tags": [], "status": "missing",
  "release": {"failed": true, "reason": "build failed", "recordedAt": "2026-11-26T00:00:00Z"}, "channels": [], "platforms": [], "history": []}`

// testKeyJSON is a P-256 public key in PEM, as a JSON string's content.
const testKeyJSON = `-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEik6YgtrHwnbyXecBNbeEv+YsoGTg\n6s3kM/jW9jtMPthbHo/3PF9zjBKIrkzThmEZuvzgha6AyfqKF3B7Y97M6A==\n-----END PUBLIC KEY-----\n`

// TestPublicKeyPEM: the catalog records the key a fleet verifies with,
// and a catalog with the key, or only the key file's path (as catalogs
// written before the key was recorded), reads.
func TestPublicKeyPEM(t *testing.T) {
	key := strings.ReplaceAll(testKeyJSON, `\n`, "\n")
	if got := PublicKeyPEM([]byte("\n" + key + "\n\n")); got != key {
		t.Errorf("PublicKeyPEM = %q, want %q", got, key)
	}
	for _, bad := range []string{"", "cosign.pub", "-----BEGIN PRIVATE KEY-----\nMA==\n-----END PRIVATE KEY-----\n", key + key} {
		if got := PublicKeyPEM([]byte(bad)); got != "" {
			t.Errorf("PublicKeyPEM(%q) = %q, want none", bad, got)
		}
	}
	withKey := strings.Replace(goodCatalog, `"publicKey": "cosign.pub"`, `"publicKey": "cosign.pub", "publicKeyPEM": "`+testKeyJSON+`"`, 1)
	c, err := Parse("c.json", []byte(withKey), RequireVerificationMode)
	if err != nil || c.Fleet.PublicKeyPEM != key {
		t.Fatalf("a catalog with the key: %+v, %v", c.Fleet, err)
	}
	if c, err := Parse("c.json", []byte(goodCatalog), RequireVerificationMode); err != nil || c.Fleet.PublicKeyPEM != "" || c.Fleet.PublicKey != "cosign.pub" {
		t.Fatalf("a catalog with only the key's path: %+v, %v", c.Fleet, err)
	}
}

func TestReadAndParse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(goodCatalog), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Read(dir, RequireImages, RequireVerificationMode, RequireStatuses)
	if err != nil || len(c.Images) != 1 || c.Images[0].Name != "python:distroless" {
		t.Fatalf("Read = %+v, %v", c, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate of a catalog Read accepted: %v", err)
	}
	// A catalog written before images carried their run configuration
	// reads, with none.
	if c.Images[0].Config != nil || c.Images[0].Platforms[0].Config != nil {
		t.Errorf("a catalog without config read as %+v", c.Images[0].Config)
	}

	// A missing file names the file, and is fs.ErrNotExist.
	empty := t.TempDir()
	if _, err := Read(empty); !errors.Is(err, ErrInvalidCatalog) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), Path(empty)) {
		t.Fatalf("missing catalog: %v", err)
	}

	// An image whose release failed with none served has no reference;
	// without the failed release it is refused.
	withUnreleased := strings.Replace(goodCatalog, `"images": [`, `"images": [`+unreleasedImage+`, `, 1)
	if c, err := Parse("c.json", []byte(withUnreleased)); err != nil || len(c.Images) != 2 || c.Images[0].Served() {
		t.Fatalf("a catalog with an unreleasedImage image: %+v, %v", c, err)
	}
	noRelease := strings.Replace(withUnreleased, `"release": {"failed": true, "reason": "build failed", "recordedAt": "2026-11-26T00:00:00Z"}, `, "", 1)
	if _, err := Parse("c.json", []byte(noRelease)); !errors.Is(err, ErrInvalidCatalog) || !strings.Contains(err.Error(), "c.json: images[0] (static:distroless) has no reference and no failed release") {
		t.Fatalf("an image with neither a reference nor a failed release: %v", err)
	}

	if _, err := Parse("c.json", []byte(goodCatalog+"{}")); !errors.Is(err, ErrInvalidCatalog) || !strings.Contains(err.Error(), "c.json: data after the catalog object") {
		t.Fatalf("data after the catalog: %v", err)
	}

	// The format version is checked first, then the reader's
	// requirements, then the rest.
	twoFaults := strings.Replace(strings.Replace(goodCatalog, `"publicKey": "cosign.pub", `, "", 1), `"name": "python:distroless"`, `"name": ""`, 1)
	if _, err := Parse("c.json", []byte(twoFaults), RequireVerificationMode); !errors.Is(err, ErrInvalidCatalog) || !strings.Contains(err.Error(), "c.json: fleet: neither identity nor publicKey") {
		t.Fatalf("no verification mode and an image without a name: %v", err)
	}
	if _, err := Parse("c.json", []byte(strings.Replace(twoFaults, APIVersion, "catalog.clearcutt.dev/v0", 1)), RequireVerificationMode); !errors.Is(err, ErrInvalidCatalog) || !strings.Contains(err.Error(), `c.json: apiVersion "catalog.clearcutt.dev/v0"`) {
		t.Fatalf("another format version: %v", err)
	}

	// An empty catalog is valid; a reader that needs an image says so.
	none := goodCatalog[:strings.Index(goodCatalog, `"images": [`)] + `"images": []}`
	if _, err := Parse("c.json", []byte(none)); err != nil {
		t.Fatalf("a catalog of no image: %v", err)
	}
	if _, err := Parse("c.json", []byte(none), RequireImages); !errors.Is(err, ErrInvalidCatalog) || !strings.Contains(err.Error(), "c.json: images: the catalog lists no image") {
		t.Fatalf("a catalog of no image, required: %v", err)
	}
}

// TestParseNamesTheFileAndTheField: every catalog Validate refuses is an
// ErrInvalidCatalog naming the file and the field at fault.
func TestParseNamesTheFileAndTheField(t *testing.T) {
	for name, tc := range map[string]struct {
		from, to, want string
		reqs           []Requirement
	}{
		"not json":        {`{"apiVersion"`, `{apiVersion`, "invalid character", nil},
		"unknown field":   {`"tags": []`, `"tags": [], "tag": "x"`, `unknown field "tag"`, nil},
		"api version":     {APIVersion, "catalog.clearcutt.dev/v0", `apiVersion "catalog.clearcutt.dev/v0": this clearcutt reads ` + APIVersion, nil},
		"two modes":       {`"publicKey": "cosign.pub"`, `"publicKey": "cosign.pub", "identity": {"issuer": "i", "buildSignerURI": "b", "sourceRepositoryURI": "r", "sourceRepositoryRef": "f"}`, "fleet: both identity and publicKey", []Requirement{RequireVerificationMode}},
		"no mode":         {`"publicKey": "cosign.pub", `, ``, "fleet: neither identity nor publicKey", []Requirement{RequireVerificationMode}},
		"identity field":  {`"publicKey": "cosign.pub"`, `"identity": {"issuer": "i", "buildSignerURI": "b", "sourceRepositoryURI": "r", "sourceRepositoryRef": " "}`, "fleet.identity.sourceRepositoryRef is empty", []Requirement{RequireVerificationMode}},
		"key not pem":     {`"publicKey": "cosign.pub"`, `"publicKey": "cosign.pub", "publicKeyPEM": "-----BEGIN CERTIFICATE-----\\nMA==\\n-----END CERTIFICATE-----\\n"`, "fleet.publicKeyPEM: not a PEM PUBLIC KEY block", []Requirement{RequireVerificationMode}},
		"key and more":    {`"publicKey": "cosign.pub"`, `"publicKey": "cosign.pub", "publicKeyPEM": "` + testKeyJSON + `<script>"`, "fleet.publicKeyPEM: data after the PUBLIC KEY block", []Requirement{RequireVerificationMode}},
		"keyless pem":     {`"publicKey": "cosign.pub"`, `"publicKeyPEM": "` + testKeyJSON + `", "identity": {"issuer": "i", "buildSignerURI": "b", "sourceRepositoryURI": "r", "sourceRepositoryRef": "f"}`, "fleet: publicKeyPEM is set for a keyless fleet", []Requirement{RequireVerificationMode}},
		"required":        {`"requiredChannels": ["signature"]`, `"requiredChannels": ["cosign"]`, `fleet.requiredChannels: unknown channel "cosign"`, nil},
		"no name":         {`"name": "python:distroless"`, `"name": ""`, "images[0].name is empty", nil},
		"no runtime":      {`"runtime": "python"`, `"runtime": ""`, `images[0].runtime "": want lower-case letters`, nil},
		"runtime path":    {`"runtime": "python"`, `"runtime": "../../etc"`, `images[0].runtime "../../etc"`, nil},
		"tier markup":     {`"tier": "distroless"`, `"tier": "<b>"`, `images[0].tier "<b>"`, nil},
		"image status":    {`"status": "verified", "channels"`, `"status": "ok", "channels"`, `images[0].status "ok": want verified, failed`, []Requirement{RequireStatuses}},
		"index digest":    {`"indexDigest": "` + readDigest + `"`, `"indexDigest": "sha256:abc"`, `images[0].indexDigest "sha256:abc": not a sha256 digest`, nil},
		"tag reference":   {`"oci:out/oci@` + readDigest + `"`, `"registry.test/fleet/python:distroless"`, `images[0].reference "registry.test/fleet/python:distroless": want <repository>@` + readDigest, nil},
		"other reference": {`"oci:out/oci@` + readDigest + `"`, `"oci:out/oci@` + otherDigest + `"`, `images[0].reference "oci:out/oci@` + otherDigest + `": want <repository>@` + readDigest, nil},
		"bad repository":  {`"oci:out/oci@` + readDigest + `"`, `"Registry.Test/UPPER@` + readDigest + `"`, `images[0].reference "Registry.Test/UPPER@`, nil},
		"channel":         {`"channels": [{"channel": "signature"`, `"channels": [{"channel": "cosign"`, `images[0].channels[0].channel "cosign": unknown channel`, nil},
		"channel status":  {`"status": "verified", "required": true`, `"status": "fine", "required": true`, `images[0].channels[0] (signature).status "fine"`, []Requirement{RequireStatuses}},
		"no platform":     {`"platform": "linux/amd64"`, `"platform": ""`, `images[0].platforms[0].platform "": empty or repeated`, nil},
		"platform digest": {`"platform": "linux/amd64", "digest": "` + readDigest + `"`, `"platform": "linux/amd64", "digest": "latest"`, `images[0].platforms[0].digest "latest": not a sha256 digest`, nil},
		"finding status":  {`"status": "active"}`, `"status": "fixed"}`, `images[0].platforms[0].vulnerabilities.findings[0] (CVE-1).status "fixed": want active, suppressed or excepted`, nil},
		"list, no count":  {`"packages": null`, `"packages": null, "packageList": [{"name": "zlib"}]`, `images[0].platforms[0].packageList: 1 packages, but the package count is not 1`, nil},
		"sbom outside":    {`"sbom": "sbom/a.spdx.json"`, `"sbom": "../../etc/passwd"`, `images[0].platforms[0].sbom: "../../etc/passwd" is not a path inside the catalog directory`, nil},
		"verified but failed": {`"channels": [{"channel": "signature", "status": "verified", "required": true, "digest": "` + readDigest + `"}], "sbom"`,
			`"channels": [{"channel": "signature", "status": "failed", "required": true, "digest": "` + readDigest + `"}], "sbom"`,
			"images[0] (python:distroless).status is verified, but the signature channel of linux/amd64 is failed", []Requirement{RequireStatuses}},
		"verified but absent": {`"channels": [{"channel": "signature", "status": "verified", "required": true, "digest": "` + readDigest + `"}], "sbom"`, `"channels": [], "sbom"`,
			"images[0] (python:distroless).status is verified, but the signature channel of linux/amd64 is missing", []Requirement{RequireStatuses}},
		"unreleased, verified":  {`"images": [`, `"images": [` + strings.Replace(unreleasedImage, `"status": "missing"`, `"status": "verified"`, 1) + `, `, "images[0] (static:distroless).status is verified, but no release of it is served", []Requirement{RequireStatuses}},
		"unreleased, platforms": {`"images": [`, `"images": [` + strings.Replace(unreleasedImage, `"platforms": []`, `"platforms": [{"platform": "linux/amd64", "digest": "`+readDigest+`"}]`, 1) + `, `, "images[0] (static:distroless) has platforms, but no release of it is served", nil},
		"duplicate name":        {`"images": [`, `"images": [` + strings.Replace(unreleasedImage, `"name": "static:distroless"`, `"name": "python:distroless"`, 1) + `, `, `images[1].name "python:distroless": also images[0]`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(goodCatalog, tc.from) {
				t.Fatalf("%q not in the catalog", tc.from)
			}
			doc := []byte(strings.Replace(goodCatalog, tc.from, tc.to, 1))
			if tc.reqs != nil {
				if _, err := Parse("c.json", doc); err != nil {
					t.Fatalf("without the requirement: %v", err)
				}
			}
			_, err := Parse("c.json", doc, tc.reqs...)
			if !errors.Is(err, ErrInvalidCatalog) || !strings.Contains(err.Error(), "c.json: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidCatalog naming c.json and %q", err, tc.want)
			}
		})
	}
}

// TestValidate: Validate is what Parse checks once the catalog is decoded,
// without a file to name.
func TestValidate(t *testing.T) {
	c, err := Parse("c.json", []byte(goodCatalog))
	if err != nil {
		t.Fatal(err)
	}
	platforms := c.Images[0].Platforms
	c.Images[0].Platforms = nil
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate of an image without platforms: %v", err)
	}
	// The message is the field alone: Parse puts the file's name before it.
	if err := RequireStatuses(c); !errors.Is(err, ErrInvalidCatalog) || err.Error() != "images[0] (python:distroless).status is verified, but it has no platforms" {
		t.Fatalf("verified without platforms: %v", err)
	}
	c.Images[0].Platforms = append(platforms, platforms[0])
	c.Images[0].Platforms[1].Platform = "linux/arm64"
	err = c.Validate()
	if !errors.Is(err, ErrInvalidCatalog) || err.Error() != `invalid catalog: images[0].platforms[1].digest "`+readDigest+`": also platforms[0]` {
		t.Fatalf("a digest listed twice: %v", err)
	}
	c.Images = nil
	if err := c.Validate(); err != nil {
		t.Fatalf("a catalog of no image: %v", err)
	}
	if err := RequireImages(c); !errors.Is(err, ErrInvalidCatalog) {
		t.Fatal("RequireImages accepts a catalog of no image")
	}
}
