package cli

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/clearcutt/clearcutt/internal/attest"
	"github.com/clearcutt/clearcutt/internal/fleet"
	"github.com/clearcutt/clearcutt/internal/oci"
	"github.com/clearcutt/clearcutt/internal/sigtest"
	"github.com/clearcutt/clearcutt/internal/verify"
)

// The identity flags replace single values of the fleet file's identity,
// exactly: an index signed keyless by another repository's workflow fails
// against clearcutt.yaml and passes once the flags name that workflow.
func TestVerifyIdentityFlags(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	desc, err := oci.WriteLayout(ctx, filepath.Join(dir, "oci"), idx, "python:distroless")
	if err != nil {
		t.Fatal(err)
	}
	ss, err := sigtest.New()
	if err != nil {
		t.Fatal(err)
	}
	signer := sigtest.GitHubIdentity{Repository: "other/fleet", Workflow: ".github/workflows/release.yml", Ref: "refs/heads/main"}
	store, err := attest.Open(oci.Ref{Layout: filepath.Join(dir, "oci")}, attest.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	imgDesc, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []v1.Descriptor{desc, *imgDesc} {
		stmt, err := attest.SignatureStatement("python", d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ss.SignStatement(ctx, signer, stmt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Attach(ctx, v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, b, attest.PredicateSignature); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(dir, "trusted_root.json")
	writeFile(t, root, string(ss.TrustedRootJSON()))
	ref := "oci:" + filepath.Join(dir, "oci") + "@" + desc.Digest.String()
	base := []string{"-f", "../../clearcutt.yaml", "verify", ref, "--trusted-root", root, "--without-sct-unsafe", "--require", "signature"}

	code, out, errs := run(t, base...)
	if code != ExitFailed || !strings.Contains(out, "identity") {
		t.Fatalf("fleet identity: exit %d, want %d\n%s\n%s", code, ExitFailed, out, errs)
	}
	flags := []string{"--certificate-identity", signer.BuildSignerURI(), "--source-repository", "https://github.com/other/fleet"}
	if code, out, errs := run(t, append(base, flags...)...); code != ExitOK {
		t.Fatalf("identity from flags: exit %d\n%s\n%s", code, out, errs)
	}
	// One value still from the fleet file (source repository): fails.
	if code, _, _ := run(t, append(base, flags[:2]...)...); code != ExitFailed {
		t.Fatalf("only the SAN replaced: exit %d, want %d", code, ExitFailed)
	}
	// A pattern is not an identity.
	if code, _, _ := run(t, append(base, "--certificate-identity", "https://github.com/other/.*", "--source-repository", "https://github.com/other/fleet")...); code != ExitFailed {
		t.Fatalf("a regexp identity passed")
	}

	// Without a fleet file (a consumer with no checkout), the flags must pin
	// the whole identity; then nothing else is needed.
	noFleet := []string{"-f", filepath.Join(dir, "no-such", "clearcutt.yaml"), "verify", ref, "--trusted-root", root, "--without-sct-unsafe", "--require", "signature"}
	whole := append(append([]string{}, flags...), "--certificate-oidc-issuer", sigtest.GitHubIssuer, "--source-ref", "refs/heads/main")
	if code, out, errs := run(t, append(noFleet, whole...)...); code != ExitOK {
		t.Fatalf("no fleet file, whole identity: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := run(t, append(noFleet, whole[:len(whole)-2]...)...); code != ExitUsage || !strings.Contains(errs, "--source-ref") {
		t.Fatalf("no fleet file, no --source-ref: exit %d, want %d naming the missing flag: %s", code, ExitUsage, errs)
	}
	wrongRef := append(append([]string{}, whole[:len(whole)-1]...), "refs/heads/other")
	if code, _, _ := run(t, append(noFleet, wrongRef...)...); code != ExitFailed {
		t.Fatalf("no fleet file, another ref: exit %d, want %d", code, ExitFailed)
	}
}

// TestVerifierRescanIdentity: --rescan-identity adds the rescan workflow,
// exactly, with the publishing workflow's issuer, repository and ref; it
// and --no-rescan-identity exclude each other; without a fleet file and
// without the flag, no rescan workflow is trusted.
func TestVerifierRescanIdentity(t *testing.T) {
	ss, err := sigtest.New()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "trusted_root.json")
	writeFile(t, root, string(ss.TrustedRootJSON()))
	fl := verifyFlags{trustedRoot: root}
	fl.identity.SAN = "https://github.com/acme/fleet/.github/workflows/publish.yml@refs/heads/main"
	fl.identity.Issuer = sigtest.GitHubIssuer
	fl.identity.SourceRepositoryURI = "https://github.com/acme/fleet"
	fl.identity.SourceRepositoryRef = "refs/heads/main"

	v, err := newVerifier(context.Background(), nil, fl)
	if err != nil {
		t.Fatal(err)
	}
	if v.Policy.Rescan != nil {
		t.Errorf("standalone without --rescan-identity trusts %+v", v.Policy.Rescan)
	}
	fl.rescanIdentity = "https://github.com/acme/fleet/.github/workflows/rescan.yml@refs/heads/main"
	if v, err = newVerifier(context.Background(), nil, fl); err != nil {
		t.Fatal(err)
	}
	if r := v.Policy.Rescan; r == nil || r.SAN != fl.rescanIdentity || r.Issuer != sigtest.GitHubIssuer ||
		r.SourceRepositoryURI != "https://github.com/acme/fleet" || r.SourceRepositoryRef != "refs/heads/main" {
		t.Errorf("rescan identity %+v", r)
	}
	fl.noRescanIdentity = true
	if _, err := newVerifier(context.Background(), nil, fl); !errors.Is(err, verify.ErrConflictingOptions) {
		t.Errorf("--rescan-identity with --no-rescan-identity: %v", err)
	}
}

// TestVerifierRefusesConflictingFlags: a public key with a keyless flag is
// a usage error, whether the keyless value would replace one of
// clearcutt.yaml or stand alone; so is an issuer without a fleet file or an
// identity to replace a value of, which names the flags that would do.
func TestVerifierRefusesConflictingFlags(t *testing.T) {
	pub := filepath.Join(t.TempDir(), "cosign.pub")
	k, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, pub, string(k.PublicKeyPEM()))
	f, err := fleet.Load("../../clearcutt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*fleet.File{f, nil} {
		for name, fl := range map[string]verifyFlags{
			"--certificate-identity": {key: pub, identity: verify.Identity{SAN: "https://github.com/acme/fleet/.github/workflows/publish.yml@refs/heads/main"}},
			"--source-ref":           {key: pub, identity: verify.Identity{SourceRepositoryRef: "refs/heads/main"}},
			"--signer-digest":        {key: pub, signerDigest: "0123456789abcdef0123456789abcdef01234567"},
			"--rescan-identity":      {key: pub, rescanIdentity: "https://github.com/acme/fleet/.github/workflows/rescan.yml@refs/heads/main"},
		} {
			_, err := newVerifier(context.Background(), f, fl)
			if !errors.Is(err, verify.ErrConflictingOptions) || exitCode(err) != ExitUsage {
				t.Errorf("--key with %s (fleet file %t): %v", name, f != nil, err)
			}
		}
	}
	code, _, errs := run(t, "-f", filepath.Join(t.TempDir(), "clearcutt.yaml"), "verify", "oci:"+t.TempDir()+"@sha256:"+strings.Repeat("0", 64),
		"--certificate-oidc-issuer", sigtest.GitHubIssuer)
	if code != ExitUsage || !strings.Contains(errs, "OIDC issuer without a Build Signer URI") || !strings.Contains(errs, "--certificate-identity") {
		t.Errorf("an issuer alone without a fleet file: exit %d, %s", code, errs)
	}
}

// TestAppSignatureVerifier: the application's signer is a key or an exact
// keyless identity, GitHub Actions' issuer unless named, never both, and
// the refusal names the flags.
func TestAppSignatureVerifier(t *testing.T) {
	pub := filepath.Join(t.TempDir(), "app.pub")
	k, err := sigtest.NewKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, pub, string(k.PublicKeyPEM()))
	const san = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
	v, err := appSignatureVerifier(context.Background(), appRebaseFlags{appKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(verify.Policy{PublicKey: k.PublicKeyPEM(), RequiredChannels: []verify.Channel{verify.ChannelSignature}}, v.Policy); d != "" {
		t.Errorf("--app-key policy (-want +got):\n%s", d)
	}
	v, err = appSignatureVerifier(context.Background(), appRebaseFlags{appIdentity: verify.Identity{SAN: san, SourceRepositoryURI: "https://github.com/acme/app"}})
	if err != nil {
		t.Fatal(err)
	}
	id := verify.Identity{Issuer: attest.GitHubActionsIssuer, SAN: san, SourceRepositoryURI: "https://github.com/acme/app"}
	if d := cmp.Diff(verify.Policy{Signer: id, Provenance: id, RequiredChannels: []verify.Channel{verify.ChannelSignature}}, v.Policy); d != "" {
		t.Errorf("keyless application policy (-want +got):\n%s", d)
	}
	for name, tc := range map[string]struct {
		fl   appRebaseFlags
		want error
	}{
		"a key and an identity": {appRebaseFlags{appKey: pub, appIdentity: verify.Identity{SAN: san, SourceRepositoryURI: "https://github.com/acme/app"}}, verify.ErrConflictingOptions},
		"a key and an issuer":   {appRebaseFlags{appKey: pub, appIdentity: verify.Identity{Issuer: "https://oidc.ci.example"}}, verify.ErrConflictingOptions},
		"an issuer alone":       {appRebaseFlags{appIdentity: verify.Identity{Issuer: "https://oidc.ci.example"}}, verify.ErrIncompleteIdentity},
		"no signer":             {appRebaseFlags{}, verify.ErrIncompleteIdentity},
		"no source repository":  {appRebaseFlags{appIdentity: verify.Identity{SAN: san}}, verify.ErrIncompleteIdentity},
	} {
		_, err := appSignatureVerifier(context.Background(), tc.fl)
		if !errors.Is(err, tc.want) || exitCode(err) != ExitUsage || !strings.Contains(err.Error(), "--app-key") {
			t.Errorf("%s: %v, want %v naming --app-key", name, err, tc.want)
		}
	}
}
