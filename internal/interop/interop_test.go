package interop

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/clearcutt/clearcutt/internal/verify"
)

// The predicate types of the evidence attached to every platform image.
var platformPredicates = []string{verify.PredicateSBOM, verify.PredicateTestResult, verify.PredicateVulns, verify.PredicateVEX}

// TestInterop publishes one image with the real pipeline (local key, Debian's
// registry without the referrers API, so bundles are found through the
// sha256-<hex> tag fallback) and checks it with the upstream CLIs.
func TestInterop(t *testing.T) {
	p := publish(t)
	digests := []string{p.index}
	for _, d := range p.platforms {
		digests = append(digests, d)
	}

	t.Run("CosignVerify", func(t *testing.T) {
		for _, d := range digests {
			r := run(t, p.env(), p.home, "cosign", "verify", "--key", p.pub, "--insecure-ignore-tlog", p.ref(d))
			if r.code != 0 {
				t.Fatalf("cosign verify %s: %s", d, r)
			}
			var claims []struct {
				Critical struct {
					Image struct {
						Digest string `json:"docker-manifest-digest"`
					} `json:"image"`
					Type string `json:"type"`
				} `json:"critical"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &claims); err != nil || len(claims) == 0 {
				t.Fatalf("cosign verify output (%v): %s", err, r.stdout)
			}
			// cosign v3 lists every verified bundle of the digest, the
			// attestations too; one of them must be the signature.
			signed := false
			for _, c := range claims {
				if c.Critical.Image.Digest != d {
					t.Errorf("claim %+v is not about %s", c.Critical, d)
				}
				signed = signed || c.Critical.Type == verify.PredicateSignature
			}
			if !signed {
				t.Errorf("%s: no %s claim among %s", d, verify.PredicateSignature, r.stdout)
			}
			if r := run(t, p.env(), p.home, "cosign", "verify", "--key", p.otherPub, "--insecure-ignore-tlog", p.ref(d)); r.code == 0 {
				t.Errorf("cosign verify %s with another key succeeded: %s", d, r)
			}
		}
	})

	t.Run("CosignVerifyAttestation", func(t *testing.T) {
		for arch, d := range p.platforms {
			for _, pt := range platformPredicates {
				st := verifiedStatement(t, p, p.pub, pt, d)
				if st.PredicateType != pt || len(st.Subject) != 1 || "sha256:"+st.Subject[0].Digest["sha256"] != d {
					t.Errorf("%s %s: statement %s about %+v", arch, pt, st.PredicateType, st.Subject)
				}
			}
			r := run(t, p.env(), p.home, "cosign", "verify-attestation", "--key", p.otherPub, "--insecure-ignore-tlog",
				"--type", verify.PredicateSBOM, p.ref(d))
			if r.code == 0 {
				t.Errorf("%s: cosign verify-attestation with another key succeeded: %s", arch, r)
			}
		}
	})

	t.Run("SyftReadsSBOM", func(t *testing.T) {
		for arch, d := range p.platforms {
			file := p.evidenceFile(d, "sbom.spdx.json")
			r := run(t, p.env(), p.home, "syft", "convert", file, "-o", "syft-json")
			if r.code != 0 {
				t.Fatalf("%s: syft convert: %s", arch, r)
			}
			var sj struct {
				Artifacts []struct{ Name, Version, PURL string } `json:"artifacts"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &sj); err != nil {
				t.Fatal(err)
			}
			var spdx struct {
				Packages []struct {
					Name        string `json:"name"`
					VersionInfo string `json:"versionInfo"`
				} `json:"packages"`
			}
			readJSON(t, file, &spdx)
			want := map[string]bool{}
			for _, pk := range spdx.Packages {
				want[pk.Name+"@"+pk.VersionInfo] = true
			}
			var got []string
			for _, a := range sj.Artifacts {
				got = append(got, a.Name+"@"+a.Version)
				if !want[a.Name+"@"+a.Version] {
					t.Errorf("%s: syft reports %s@%s, not in the SPDX document", arch, a.Name, a.Version)
				}
				if a.Name == "python3" && !strings.HasPrefix(a.PURL, "pkg:nix/python3@") {
					t.Errorf("%s: python3 purl %q", arch, a.PURL)
				}
			}
			// The SPDX document also describes the image itself, which syft
			// reads back as the source, not as a package.
			if len(got) < len(spdx.Packages)-1 || !slices.Contains(got, "python3@3.11.2") {
				t.Errorf("%s: syft read %d packages %v from %d SPDX packages", arch, len(got), got, len(spdx.Packages))
			}
		}
	})

	t.Run("GrypeMatchesScan", func(t *testing.T) {
		for arch, d := range p.platforms {
			r := run(t, p.env(), p.home, "grype", "sbom:"+p.evidenceFile(d, "sbom.spdx.json"), "-o", "json")
			if r.code != 0 {
				t.Fatalf("%s: grype: %s", arch, r)
			}
			got := grypeIDs(t, r.stdout, false)
			want := scannedIDs(t, p.evidenceFile(d, "vulns.json"))
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("%s: grype finds %v, clearcutt scan reported %v", arch, got, want)
			}
		}
	})

	t.Run("GrypeAppliesPublishedVEX", func(t *testing.T) {
		d := p.platforms["amd64"]
		st := verifiedStatement(t, p, p.pub, verify.PredicateVEX, d)
		var doc struct {
			Statements []struct {
				Vulnerability struct{ Name string } `json:"vulnerability"`
				Status        string                `json:"status"`
			} `json:"statements"`
		}
		if err := json.Unmarshal(st.Predicate, &doc); err != nil {
			t.Fatal(err)
		}
		var notAffected []string
		for _, s := range doc.Statements {
			if s.Status == "not_affected" {
				notAffected = append(notAffected, s.Vulnerability.Name)
			}
		}
		if len(notAffected) == 0 {
			t.Fatalf("the published VEX has no not_affected statement: %s", st.Predicate)
		}
		vexFile := filepath.Join(t.TempDir(), "openvex.json")
		if err := os.WriteFile(vexFile, st.Predicate, 0o644); err != nil {
			t.Fatal(err)
		}
		// The image (grype matches the image digest as product) and the
		// SBOM alone (it matches the package purls listed as products).
		for _, src := range []string{"registry:" + p.ref(d), "sbom:" + p.evidenceFile(d, "sbom.spdx.json")} {
			without := run(t, p.env(), p.home, "grype", src, "-o", "json")
			with := run(t, p.env(), p.home, "grype", src, "--vex", vexFile, "-o", "json")
			if without.code != 0 || with.code != 0 {
				t.Fatalf("grype %s: without VEX %s\nwith VEX %s", src, without, with)
			}
			active, suppressed := grypeIDs(t, with.stdout, false), grypeIDs(t, with.stdout, true)
			for _, id := range notAffected {
				if !slices.Contains(grypeIDs(t, without.stdout, false), id) {
					t.Errorf("grype %s: %s is not found without VEX: the check proves nothing", src, id)
				}
				if slices.Contains(active, id) || !slices.Contains(suppressed, id) {
					t.Errorf("grype %s: %s with the published VEX: active %v, ignored %v", src, id, active, suppressed)
				}
			}
		}
	})

	t.Run("AuditGuide", func(t *testing.T) { testAuditGuide(t, p) })
}

// statement is an in-toto statement as cosign prints it.
type statement struct {
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate json.RawMessage `json:"predicate"`
}

// verifiedStatement runs cosign verify-attestation for one predicate type
// and returns the statement of the first verified attestation.
func verifiedStatement(t *testing.T, p *published, pub, predicateType, d string) statement {
	t.Helper()
	r := run(t, p.env(), p.home, "cosign", "verify-attestation", "--key", pub, "--insecure-ignore-tlog",
		"--type", predicateType, p.ref(d))
	if r.code != 0 {
		t.Fatalf("cosign verify-attestation --type %s %s: %s", predicateType, d, r)
	}
	line, _, _ := strings.Cut(r.stdout, "\n")
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal([]byte(line), &env); err != nil {
		t.Fatalf("cosign verify-attestation output: %v\n%s", err, r.stdout)
	}
	raw, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var st statement
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func (p *published) evidenceFile(d, name string) string {
	return filepath.Join(p.evidence, strings.Replace(d, ":", "-", 1), name)
}

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// grypeIDs returns the sorted vulnerability IDs of grype's JSON report:
// its matches, or its ignored matches.
func grypeIDs(t *testing.T, out string, ignored bool) []string {
	t.Helper()
	type m struct {
		Vulnerability struct{ ID string } `json:"vulnerability"`
	}
	var rep struct {
		Matches        []m `json:"matches"`
		IgnoredMatches []m `json:"ignoredMatches"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("grype -o json: %v\n%s", err, tail(out))
	}
	list := rep.Matches
	if ignored {
		list = rep.IgnoredMatches
	}
	return sortedSet(list, func(x m) string { return x.Vulnerability.ID })
}

// scannedIDs returns the sorted IDs of a vulns/v0.2 statement: every
// finding, whatever its status (active, suppressed by VEX, excepted).
func scannedIDs(t *testing.T, file string) []string {
	t.Helper()
	var st struct {
		PredicateType string `json:"predicateType"`
		Predicate     struct {
			Scanner struct {
				Result []struct{ ID string } `json:"result"`
			} `json:"scanner"`
		} `json:"predicate"`
	}
	readJSON(t, file, &st)
	if st.PredicateType != verify.PredicateVulns {
		t.Fatalf("%s: predicate type %q", file, st.PredicateType)
	}
	return sortedSet(st.Predicate.Scanner.Result, func(r struct{ ID string }) string { return r.ID })
}

func sortedSet[T any](xs []T, key func(T) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if k := key(x); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
