package site

import (
	"regexp"
	"strings"

	"github.com/clearcutt/clearcutt/internal/catalog"
)

// Command is one copy-paste verification command: the program, then its
// arguments one per entry (a flag and its value are one entry of two words).
type Command struct {
	// Title says what the command checks.
	Title string
	// Argv is the command line, unquoted.
	Argv [][]string
}

// Text renders the command for a POSIX shell: every word shell-quoted,
// one flag per line, lines joined by backslash continuations.
func (c Command) Text() string {
	lines := make([]string, len(c.Argv))
	for i, ws := range c.Argv {
		q := make([]string, len(ws))
		for j, w := range ws {
			q[j] = shellQuote(w)
		}
		lines[i] = strings.Join(q, " ")
		if i > 0 {
			lines[i] = "  " + lines[i]
		}
	}
	return strings.Join(lines, " \\\n")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

// shellQuote quotes s as one word for a POSIX shell.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// KeyFile is where the site serves a key-mode fleet's public key, from
// the site root, when the catalog carries it.
const KeyFile = "cosign.pub"

// githubIssuer is the OIDC issuer of GitHub Actions.
const githubIssuer = "https://token.actions.githubusercontent.com"

// signer is what verification pins, derived from the catalog's fleet.
type signer struct {
	key string // key mode: the public key file
	id  *catalog.Identity
	// repo is owner/name of the source repository on GitHub ("" when the
	// source repository is not on github.com).
	repo       string
	builderID  string
	sourceRef  string
	sourceHost string // github.com/owner/name
}

func signerOf(f catalog.Fleet) signer {
	if f.Identity == nil {
		if f.PublicKeyPEM != "" {
			// The copy of the key the site serves, downloaded beside.
			return signer{key: KeyFile}
		}
		return signer{key: f.PublicKey}
	}
	s := signer{id: f.Identity, builderID: f.ProvenanceBuilderID, sourceRef: f.Identity.SourceRepositoryRef}
	if rest, ok := strings.CutPrefix(f.Identity.SourceRepositoryURI, "https://github.com/"); ok && rest != "" {
		s.repo = strings.TrimSuffix(rest, "/")
		s.sourceHost = "github.com/" + s.repo
	}
	return s
}

// cosignIdentity is the identity flags of a cosign verification.
func (s signer) cosignIdentity() [][]string {
	if s.id == nil {
		return [][]string{{"--key", s.key}, {"--insecure-ignore-tlog"}}
	}
	out := [][]string{
		{"--certificate-identity", s.id.BuildSignerURI},
		{"--certificate-oidc-issuer", s.id.Issuer},
	}
	// The Fulcio extensions GitHub's tokens fill in: the repository and
	// ref the workflow ran for (the fleet's, not the reusable workflow's).
	if s.repo != "" && s.id.Issuer == githubIssuer {
		out = append(out,
			[]string{"--certificate-github-workflow-repository", s.repo},
			[]string{"--certificate-github-workflow-ref", s.id.SourceRepositoryRef})
	}
	return out
}

// local reports whether the image lives in an OCI layout (oci:DIR),
// which cosign and slsa-verifier cannot read.
func local(repo string) bool { return strings.HasPrefix(repo, "oci:") }

// indexCommands are the commands that verify an image index.
func indexCommands(s signer, repo, digest string) []Command {
	ref := repo + "@" + digest
	cc := Command{Title: "Every evidence channel, with clearcutt", Argv: [][]string{{"clearcutt", "verify"}}}
	if s.id == nil {
		cc.Argv = append(cc.Argv, []string{"--key", s.key})
	} else {
		cc.Argv = append(cc.Argv,
			[]string{"--certificate-identity", s.id.BuildSignerURI},
			[]string{"--certificate-oidc-issuer", s.id.Issuer},
			[]string{"--source-repository", s.id.SourceRepositoryURI},
			[]string{"--source-ref", s.id.SourceRepositoryRef})
		if s.id.RescanSignerURI != "" {
			cc.Argv = append(cc.Argv, []string{"--rescan-identity", s.id.RescanSignerURI})
		}
	}
	cc.Argv = append(cc.Argv, []string{ref})
	out := []Command{cc}
	if local(repo) {
		return out
	}
	cv := Command{Title: "The index signature, with cosign", Argv: [][]string{{"cosign", "verify"}}}
	cv.Argv = append(append(cv.Argv, s.cosignIdentity()...), []string{ref})
	out = append(out, cv)
	if s.id != nil && s.sourceHost != "" {
		sv := Command{Title: "SLSA provenance, with slsa-verifier", Argv: [][]string{{"slsa-verifier", "verify-image"}, {"--source-uri", s.sourceHost}}}
		if b, ok := strings.CutPrefix(s.sourceRef, "refs/heads/"); ok {
			sv.Argv = append(sv.Argv, []string{"--source-branch", b})
		} else if t, ok := strings.CutPrefix(s.sourceRef, "refs/tags/"); ok {
			sv.Argv = append(sv.Argv, []string{"--source-tag", t})
		}
		if s.builderID != "" {
			sv.Argv = append(sv.Argv, []string{"--builder-id", s.builderID})
		}
		sv.Argv = append(sv.Argv, []string{ref})
		out = append(out, sv)
	}
	return out
}

// platformCommands are the commands that verify the image of every
// architecture, one command for all of them: cosign verifies each image it
// is given, in turn (none for a local layout or without architectures).
func platformCommands(s signer, repo string, digests []string) []Command {
	if local(repo) || len(digests) == 0 {
		return nil
	}
	var refs [][]string
	for _, d := range digests {
		refs = append(refs, []string{repo + "@" + d})
	}
	sig := Command{Title: "Each architecture's signature, with cosign", Argv: [][]string{{"cosign", "verify"}}}
	sig.Argv = append(append(sig.Argv, s.cosignIdentity()...), refs...)
	sbom := Command{Title: "Each architecture's SBOM attestation, with cosign", Argv: [][]string{{"cosign", "verify-attestation"}, {"--type", "spdxjson"}}}
	sbom.Argv = append(append(sbom.Argv, s.cosignIdentity()...), refs...)
	return []Command{sig, sbom}
}
