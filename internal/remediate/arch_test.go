package remediate

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheckArchitectures(t *testing.T) {
	fleet := []string{"amd64", "arm64"}
	for _, tc := range []struct {
		want    []string
		got     string
		wantErr string
	}{
		{nil, "", ""},
		{[]string{"amd64"}, "amd64", ""},
		{[]string{"arm64", " amd64", "arm64"}, "arm64,amd64", ""},
		{[]string{"s390x"}, "", `"s390x" is not an architecture of the fleet (build.architectures: amd64, arm64)`},
		{[]string{"amd64", ""}, "", "an empty architecture is not an architecture of the fleet (build.architectures: amd64, arm64)"},
	} {
		got, err := CheckArchitectures(fleet, tc.want)
		if tc.wantErr != "" {
			// The message names the architecture and the fleet's.
			if !errors.Is(err, ErrArchitecture) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want ErrArchitecture naming %q", tc.want, err, tc.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != tc.got {
			t.Errorf("%q: %q, %v; want %q", tc.want, got, err, tc.got)
		}
	}
}

func TestSelectArchitectures(t *testing.T) {
	all := []string{"amd64", "arm64"}
	rebuilt, not, err := SelectArchitectures("webp:slim", all, nil)
	if err != nil || strings.Join(rebuilt, ",") != "amd64,arm64" || len(not) != 0 {
		t.Errorf("every architecture: %v, %v, %v", rebuilt, not, err)
	}
	rebuilt, not, err = SelectArchitectures("webp:slim", all, []string{"amd64"})
	if err != nil || strings.Join(rebuilt, ",") != "amd64" || strings.Join(not, ",") != "arm64" {
		t.Errorf("--arch amd64: %v, %v, %v", rebuilt, not, err)
	}
	// The image's order, whatever the order asked.
	rebuilt, not, err = SelectArchitectures("webp:slim", all, []string{"arm64", "amd64"})
	if err != nil || strings.Join(rebuilt, ",") != "amd64,arm64" || len(not) != 0 {
		t.Errorf("--arch arm64,amd64: %v, %v, %v", rebuilt, not, err)
	}
	_, _, err = SelectArchitectures("webp:slim", []string{"amd64"}, []string{"arm64"})
	if err == nil || err.Error() != `"arm64": image webp:slim has no arm64 image (its architectures: amd64)` {
		t.Errorf("an architecture the image lacks: %v", err)
	}
}

func TestPlatformArch(t *testing.T) {
	for in, want := range map[string]string{"linux/amd64": "amd64", "linux/arm64/v8": "arm64", "arm64": "arm64"} {
		if got := PlatformArch(in); got != want {
			t.Errorf("PlatformArch(%q) = %q, want %q", in, got, want)
		}
	}
}

func partialDraft() Draft {
	d := Draft{Package: "libwebp", Attribute: "libwebp", From: []string{"1.3.0"}, To: "1.3.2", Fixes: []string{"CVE-2023-4863"},
		Change: Change{Strategy: StrategyLock, File: "nix/flake.lock", Before: "a", After: "b"}}
	for _, name := range []string{"webp:distroless", "webp:slim"} {
		d.Images = append(d.Images, ImageEvidence{Image: name, Rebuilt: "oci:stage@sha256:1", Published: "registry.test/webp@sha256:2",
			Architectures: []string{"amd64"}, NotRebuilt: []string{"arm64"}, TestsPassed: true, ScanPassed: true,
			Platforms: []PlatformEvidence{{Platform: "linux/amd64", After: "sha256:3", SBOMNote: "no diff"}},
			Delta:     Delta{Fixed: []DeltaFinding{{ID: "CVE-2023-4863", Package: "libwebp", Before: "1.3.0"}}}})
	}
	d.Architectures, d.NotRebuilt = d.RebuiltArchitectures()
	return d
}

func TestBodyNamesArchitecturesNotRebuilt(t *testing.T) {
	d := partialDraft()
	if strings.Join(d.Architectures, ",") != "amd64" || strings.Join(d.NotRebuilt, ",") != "arm64" {
		t.Fatalf("RebuiltArchitectures = %v, %v", d.Architectures, d.NotRebuilt)
	}
	body := d.Body()
	for _, want := range []string{
		"**Not rebuilt: arm64.** This draft rebuilt, tested and scanned amd64 only; not rebuilt: arm64 of `webp:distroless`, `webp:slim`.",
		"cover amd64 alone",
		"The release run (the publish workflow) re-builds every architecture of every image and gates each one",
		"before anything is published",
		"| Architectures | rebuilt: amd64; **not rebuilt: arm64** |",
		"Rebuilt `oci:stage@sha256:1` (amd64); published `registry.test/webp@sha256:2`. **Not rebuilt: arm64**",
		"which rebuilt the amd64 images above (not arm64)",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"architectures":["amd64"],"notRebuilt":["arm64"]`, `"architectures":["amd64"],"notRebuilt":["arm64"],"platforms"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON lacks %s:\n%s", want, data)
		}
	}

	// Every architecture rebuilt: no notice.
	for i := range d.Images {
		d.Images[i].Architectures, d.Images[i].NotRebuilt = []string{"amd64", "arm64"}, nil
	}
	d.Architectures, d.NotRebuilt = d.RebuiltArchitectures()
	body = d.Body()
	if strings.Contains(body, "Not rebuilt") || strings.Contains(body, "not rebuilt") {
		t.Errorf("a draft of every architecture names one not rebuilt:\n%s", body)
	}
	if !strings.Contains(body, "| Architectures | amd64, arm64 (every architecture rebuilt) |") {
		t.Errorf("body lacks the architectures row:\n%s", body)
	}
}
