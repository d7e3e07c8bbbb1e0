package structure

import (
	"runtime"
	"slices"
	"strings"
	"testing"
)

const (
	hApp     = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a"
	hHelpers = "3h3h3h3h3h3h3h3h3h3h3h3h3h3h3h3h"
	hBusybox = "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b"
)

func TestRefScannerFindsStoreHashesAcrossWrites(t *testing.T) {
	text := "x /nix/store/" + hHelpers + "-helpers-1.0/libexec/h and /nix/store/" + hBusybox + "-busybox/bin/sh" +
		" but not /nix/store/short-name nor /nix/store/" + strings.Repeat("e", 32) + "-e (e is not nix32)"
	for _, size := range []int{1, 3, 7, 40, len(text)} {
		var s refScanner
		for i := 0; i < len(text); i += size {
			_, _ = s.Write([]byte(text[i:min(i+size, len(text))]))
		}
		if got, want := s.hashes(), []string{hHelpers, hBusybox}; !slices.Equal(got, want) {
			t.Errorf("writes of %d bytes: hashes %q, want %q", size, got, want)
		}
	}
}

// A shell the closure holds through a dependency's script: the no-shell
// check names the chain of files that pulls it in.
func TestNoShellNamesTheReferenceChain(t *testing.T) {
	helpers := "/nix/store/" + hHelpers + "-shelly-helpers-1.0.0"
	busybox := "/nix/store/" + hBusybox + "-busybox-1.36.1"
	img := distroless(t,
		file(strings.TrimPrefix(storeApp, "/")+"/share/app/helpers", 0o444, []byte(helpers+"/libexec/shelly-helper\n")),
		file(strings.TrimPrefix(helpers, "/")+"/libexec/shelly-helper", 0o555, []byte("#!"+busybox+"/bin/sh\necho hi\n")),
		file(strings.TrimPrefix(busybox, "/")+"/bin/busybox", 0o555, hostFile(t, "/usr/bin/true")),
		symlink(strings.TrimPrefix(busybox, "/")+"/bin/sh", "busybox"),
		symlink("bin/app", storeApp+"/bin/app"),
	)
	c := wantStatus(t, run(t, img, "distroless", distrolessRules), IDNoShell, Failed)
	want := "busybox-1.36.1 is in the closure through /bin/app → app-1.0 (share/app/helpers) → shelly-helpers-1.0.0 (libexec/shelly-helper) → busybox-1.36.1"
	if !strings.Contains(c.Detail, want) {
		t.Errorf("detail %q\nwant it to contain %q", c.Detail, want)
	}
	wantPaths(t, c, busybox+"/bin/busybox", busybox+"/bin/sh", helpers+"/libexec/shelly-helper")

	// A store path nothing refers to is said to be so.
	img = distroless(t, file(strings.TrimPrefix(busybox, "/")+"/bin/sh", 0o555, []byte("\x7fELF")))
	c = wantStatus(t, run(t, img, "distroless", distrolessRules), IDNoShell, Failed)
	if !strings.Contains(c.Detail, "busybox-1.36.1 is in the image, but no file outside it refers to it") {
		t.Errorf("detail %q", c.Detail)
	}
}

func TestELFMachine(t *testing.T) {
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	wantStatus(t, run(t, distroless(t), "distroless", distrolessRules), IDELFMachine, Passed)
	img := image(t, other, distrolessConfig(), layer(t, distrolessFS(t)...))
	c := wantStatus(t, run(t, img, "distroless", distrolessRules), IDELFMachine, Failed)
	wantPaths(t, c, storeApp+"/bin/app", storeGlibc+"/lib/"+ldName(t))
	if !strings.Contains(c.Detail, "not for "+elfMachines[other].String()) {
		t.Errorf("detail %q", c.Detail)
	}
	c = wantStatus(t, run(t, distroless(t, file("opt/broken", 0o555, []byte("\x7fELF-not-really"))), "distroless", distrolessRules), IDELFMachine, Failed)
	wantPaths(t, c, "/opt/broken")
}

func ldName(t *testing.T) string {
	_, interp, _ := dynELF(t)
	return interp[strings.LastIndex(interp, "/")+1:]
}
