package structure

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// adversarialCase is an image the gate judges: the distroless base
// filesystem with the given layers on top.
type adversarialCase struct {
	name   string
	layers [][]tf
	// refuse is the check that refuses the image ("" if none does);
	// detail is its exact detail and paths the paths it names.
	refuse string
	detail string
	paths  []string
}

const noDevices = ": deployable images carry no device nodes, FIFOs or sockets"

// notFlattened ends the detail when an entry is named outside the root.
const notFlattened = " (the layers have no flattened filesystem, so the filesystem checks did not run)"

func one(files ...tf) [][]tf { return [][]tf{files} }

func device(typ byte, name string, major, minor int64) tf {
	return tf{name: name, typ: typ, mode: 0o660, major: major, minor: minor}
}
func fifo(name string) tf             { return tf{name: name, typ: tar.TypeFifo, mode: 0o600} }
func hardlink(name, target string) tf { return tf{name: name, typ: tar.TypeLink, link: target} }
func plain(name, body string) tf      { return file(name, 0o644, []byte(body)) }
func whiteout(dir, name string) tf    { return file(dir+"/.wh."+name, 0o644, nil) }

// adversarialCorpus is every class of layer entry the gate refuses, in
// several spellings, and the look-alikes it must keep accepting. Sockets
// are absent: tar has no entry type for them, so no layer can carry one.
var adversarialCorpus = []adversarialCase{
	// Block devices.
	{name: "block device", layers: one(device(tar.TypeBlock, "dev/sda", 8, 0)),
		refuse: IDNoDeviceNodes, detail: "/dev/sda: block device (8,0)" + noDevices, paths: []string{"/dev/sda"}},
	{name: "block device with an absolute name", layers: one(device(tar.TypeBlock, "/dev/loop0", 7, 0)),
		refuse: IDNoDeviceNodes, detail: "/dev/loop0: block device (7,0)" + noDevices, paths: []string{"/dev/loop0"}},
	{name: "block device outside /dev", layers: one(device(tar.TypeBlock, "./opt/data/disk", 259, 1)),
		refuse: IDNoDeviceNodes, detail: "/opt/data/disk: block device (259,1)" + noDevices, paths: []string{"/opt/data/disk"}},
	// Character devices.
	{name: "character device /dev/mem", layers: one(device(tar.TypeChar, "dev/mem", 1, 1)),
		refuse: IDNoDeviceNodes, detail: "/dev/mem: character device (1,1)" + noDevices, paths: []string{"/dev/mem"}},
	{name: "character device /dev/null", layers: one(device(tar.TypeChar, "dev/null", 1, 3)),
		refuse: IDNoDeviceNodes, detail: "/dev/null: character device (1,3)" + noDevices, paths: []string{"/dev/null"}},
	{name: "character device in the store", layers: one(device(tar.TypeChar, strings.TrimPrefix(storeApp, "/")+"/share/kmsg", 1, 11)),
		refuse: IDNoDeviceNodes, detail: storeApp + "/share/kmsg: character device (1,11)" + noDevices, paths: []string{storeApp + "/share/kmsg"}},
	// FIFOs.
	{name: "FIFO", layers: one(fifo("run/app.fifo")),
		refuse: IDNoDeviceNodes, detail: "/run/app.fifo: FIFO" + noDevices, paths: []string{"/run/app.fifo"}},
	{name: "FIFO in /tmp", layers: one(fifo("tmp/ctl")),
		refuse: IDNoDeviceNodes, detail: "/tmp/ctl: FIFO" + noDevices, paths: []string{"/tmp/ctl"}},
	// The runtime unpacks every layer: what a later layer removes has
	// been created on the node all the same.
	{name: "device removed by a later layer", layers: [][]tf{{device(tar.TypeBlock, "dev/sda", 8, 0)}, {whiteout("dev", "sda")}},
		refuse: IDNoDeviceNodes, detail: "/dev/sda: block device (8,0)" + noDevices, paths: []string{"/dev/sda"}},
	{name: "FIFO replaced by a file in a later layer", layers: [][]tf{{fifo("run/app.fifo")}, {plain("run/app.fifo", "x")}},
		refuse: IDNoDeviceNodes, detail: "/run/app.fifo: FIFO" + noDevices, paths: []string{"/run/app.fifo"}},

	// Hard links whose target leaves the root.
	{name: "hard link to ../../etc/passwd", layers: one(hardlink("opt/pw", "../../etc/passwd")),
		refuse: IDPathsInsideRoot, detail: `/opt/pw: hard link to "../../etc/passwd": target leaves the image root`, paths: []string{"/opt/pw"}},
	{name: "hard link to /../etc/x", layers: one(hardlink("opt/x", "/../etc/x")),
		refuse: IDPathsInsideRoot, detail: `/opt/x: hard link to "/../etc/x": target leaves the image root`, paths: []string{"/opt/x"}},
	{name: "hard link to /../etc/passwd", layers: one(hardlink("opt/pw", "/../etc/passwd")),
		refuse: IDPathsInsideRoot, detail: `/opt/pw: hard link to "/../etc/passwd": target leaves the image root`, paths: []string{"/opt/pw"}},
	{name: "hard link through an inner ..", layers: one(hardlink("opt/pw", "etc/../../etc/passwd")),
		refuse: IDPathsInsideRoot, detail: `/opt/pw: hard link to "etc/../../etc/passwd": target leaves the image root`, paths: []string{"/opt/pw"}},
	{name: "hard link at the root to ../etc/passwd", layers: one(hardlink("pw", "../etc/passwd")),
		refuse: IDPathsInsideRoot, detail: `/pw: hard link to "../etc/passwd": target leaves the image root`, paths: []string{"/pw"}},

	// Entries named outside the root.
	{name: "entry named ../escape", layers: one(plain("../escape", "x")),
		refuse: IDPathsInsideRoot, detail: `"../escape" (regular file): entry name leaves the image root` + notFlattened, paths: []string{"../escape"}},
	{name: "entry named a/../../escape", layers: one(plain("a/../../escape", "x")),
		refuse: IDPathsInsideRoot, detail: `"a/../../escape" (regular file): entry name leaves the image root` + notFlattened, paths: []string{"a/../../escape"}},
	{name: "entry named /../escape", layers: one(plain("/../escape", "x")),
		refuse: IDPathsInsideRoot, detail: `"/../escape" (regular file): entry name leaves the image root` + notFlattened, paths: []string{"/../escape"}},
	{name: "entry named ./../escape", layers: one(plain("./../escape", "x")),
		refuse: IDPathsInsideRoot, detail: `"./../escape" (regular file): entry name leaves the image root` + notFlattened, paths: []string{"./../escape"}},
	{name: "directory named ../etc", layers: one(dir("../etc", 0o755)),
		refuse: IDPathsInsideRoot, detail: `"../etc" (directory): entry name leaves the image root` + notFlattened, paths: []string{"../etc"}},
	{name: "symlink named ../link", layers: one(symlink("../link", "/etc/passwd")),
		refuse: IDPathsInsideRoot, detail: `"../link" (symlink to "/etc/passwd"): entry name leaves the image root` + notFlattened, paths: []string{"../link"}},
	{name: "entry named outside the root in a lower layer", layers: [][]tf{{plain("a/../../escape", "x")}, {plain("opt/app.conf", "x")}},
		refuse: IDPathsInsideRoot, detail: `"a/../../escape" (regular file): entry name leaves the image root` + notFlattened, paths: []string{"a/../../escape"}},

	// Relative symlink targets that climb above the root.
	{name: "symlink a/b to ../../../etc", layers: one(symlink("a/b", "../../../etc")),
		refuse: IDPathsInsideRoot, detail: `/a/b: symlink to "../../../etc": relative target leaves the image root`, paths: []string{"/a/b"}},
	{name: "symlink at the root to ../etc", layers: one(symlink("escape", "../etc")),
		refuse: IDPathsInsideRoot, detail: `/escape: symlink to "../etc": relative target leaves the image root`, paths: []string{"/escape"}},
	{name: "deep symlink to the host's root", layers: one(symlink("usr/lib/x", "../../../../root/.ssh")),
		refuse: IDPathsInsideRoot, detail: `/usr/lib/x: symlink to "../../../../root/.ssh": relative target leaves the image root`, paths: []string{"/usr/lib/x"}},
	{name: "symlink climbing above the root and back", layers: one(symlink("a/b", "../../a/c")),
		refuse: IDPathsInsideRoot, detail: `/a/b: symlink to "../../a/c": relative target leaves the image root`, paths: []string{"/a/b"}},

	// Look-alikes that stay inside the root.
	{name: "absolute symlink into /nix/store", layers: one(symlink("usr/bin/app", storeApp+"/bin/app"))},
	{name: "absolute symlink with .. is confined by the runtime", layers: one(symlink("opt/etc", "/../../etc"))},
	{name: "relative symlinks inside the root", layers: one(
		symlink("usr/lib64", "lib"),
		symlink("opt/app/lib", "../../nix/store/"+strings.TrimPrefix(storeGlibc, "/nix/store/")+"/lib"),
		symlink("opt/app/self", "./../app"))},
	{name: "hard link inside the root", layers: one(plain("opt/tool", "x"), hardlink("opt/tool2", "opt/tool"))},
	{name: "hard link with an absolute target inside the root", layers: one(plain("opt/tool", "x"), hardlink("opt/tool2", "/opt/tool"))},
	{name: "hard link with an inner .. inside the root", layers: one(plain("opt/tool", "x"), hardlink("opt/tool2", "opt/../opt/tool"))},
	{name: "ordinary files, absolute and dotted names", layers: one(
		dir("opt/conf", 0o755), plain("opt/conf/app.conf", "x"), plain("/opt/abs.conf", "x"),
		plain("./opt/dot.conf", "x"), plain("opt/x/../inner.conf", "x"), plain("/etc/../opt/back.conf", "x"))},
	{name: "whiteout of an ordinary file", layers: [][]tf{{plain("opt/old.conf", "x")}, {whiteout("opt", "old.conf")}}},
}

// TestAdversarialLayerEntries runs the corpus through the distroless,
// slim and dev rules: device nodes and FIFOs are refused in the
// deployable tiers only, entries and links that leave the root in every
// tier, and the look-alikes nowhere.
func TestAdversarialLayerEntries(t *testing.T) {
	tiers := []struct {
		tier  string
		rules TierRules
	}{{"distroless", distrolessRules}, {"slim", slimRules}, {"dev", devRules}}
	for _, tc := range adversarialCorpus {
		t.Run(tc.name, func(t *testing.T) {
			layers := []v1.Layer{layer(t, distrolessFS(t)...)}
			for _, files := range tc.layers {
				layers = append(layers, layer(t, files...))
			}
			img := image(t, runtime.GOARCH, distrolessConfig(), layers...)
			for _, tr := range tiers {
				res := run(t, img, tr.tier, tr.rules)
				refused := tc.refuse == IDPathsInsideRoot || (tc.refuse == IDNoDeviceNodes && tr.rules.Deployable)
				if refused && res.Passed() {
					t.Errorf("%s: the image passed the gate", tr.tier)
				}
				if !refused && tr.tier == "distroless" && !res.Passed() {
					t.Errorf("%s: refused: %v", tr.tier, failedChecks(res))
				}
				for _, c := range res.Checks {
					if c.ID != tc.refuse && c.Status == Failed && tr.tier == "distroless" {
						t.Errorf("%s: check %s failed too: %s", tr.tier, c.ID, c.Detail)
					}
				}
				if !tr.rules.Deployable {
					if _, ok := res.Check(IDNoDeviceNodes); ok {
						t.Errorf("%s: no-device-nodes reported for a tier that is not deployable", tr.tier)
					}
				}
				for _, id := range []string{IDPathsInsideRoot, IDNoDeviceNodes} {
					if id == IDNoDeviceNodes && !tr.rules.Deployable {
						continue
					}
					want := Passed
					if id == tc.refuse && refused {
						want = Failed
					}
					c := mustCheck(t, res, id)
					if c.Status != want {
						t.Errorf("%s: check %s: %s, want %s (%s)", tr.tier, id, c.Status, want, c.Detail)
						continue
					}
					if want == Failed {
						if c.Detail != tc.detail {
							t.Errorf("%s: check %s detail\n got %s\nwant %s", tr.tier, id, c.Detail, tc.detail)
						}
						wantPaths(t, c, tc.paths...)
					}
				}
			}
		})
	}
}

func failedChecks(res Result) []string {
	var out []string
	for _, c := range res.Checks {
		if c.Status == Failed {
			out = append(out, c.ID+": "+c.Detail)
		}
	}
	return out
}

// TestEntryNamedOutsideRootIsNotFlattened: a layer entry named outside the
// root stops the run at the layer checks; it is never reported as missing
// files of a filesystem that was cut short.
func TestEntryNamedOutsideRootIsNotFlattened(t *testing.T) {
	for _, name := range []string{"../x", "a/../../x", "/../x"} {
		t.Run(name, func(t *testing.T) {
			res := run(t, distroless(t, plain(name, "x")), "distroless", distrolessRules)
			var ids []string
			for _, c := range res.Checks {
				ids = append(ids, c.ID)
				if strings.Contains(c.Detail, "does not exist") {
					t.Errorf("check %s: %s", c.ID, c.Detail)
				}
			}
			if got, want := strings.Join(ids, " "), IDPlatform+" "+IDPathsInsideRoot+" "+IDNoDeviceNodes; got != want {
				t.Errorf("checks %s, want %s", got, want)
			}
			if res.Passed() || res.Outcome() != ResultFailed {
				t.Errorf("passed=%v outcome=%s", res.Passed(), res.Outcome())
			}
		})
	}
}

// TestAdversarialSummary: several refused entries are each named once.
func TestAdversarialSummary(t *testing.T) {
	img := distroless(t,
		device(tar.TypeBlock, "dev/sda", 8, 0), device(tar.TypeChar, "dev/mem", 1, 1), fifo("run/a.fifo"),
		hardlink("opt/pw", "../../etc/passwd"), symlink("a/b", "../../../etc"))
	res := run(t, img, "slim", slimRules)
	c := wantStatus(t, res, IDNoDeviceNodes, Failed)
	wantPaths(t, c, "/dev/sda", "/dev/mem", "/run/a.fifo")
	if want := "3 entries: /dev/mem: character device (1,1)" + noDevices + "; /dev/sda: block device (8,0)" + noDevices +
		"; /run/a.fifo: FIFO" + noDevices; c.Detail != want {
		t.Errorf("detail\n got %s\nwant %s", c.Detail, want)
	}
	c = wantStatus(t, res, IDPathsInsideRoot, Failed)
	wantPaths(t, c, "/opt/pw", "/a/b")
	if !strings.HasPrefix(c.Detail, "2 entries: ") {
		t.Errorf("detail %s", c.Detail)
	}
}

// corruptLayer is a layer whose tar stream starts with a header block of
// garbage (its checksum is wrong) before the entries of files.
func corruptLayer(t *testing.T, files ...tf) v1.Layer {
	t.Helper()
	rc, err := layer(t, files...).Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	good, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	b := append(bytes.Repeat([]byte("x"), 512), good...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestUnreadableLayerFailsClosed: a layer that cannot be read is an
// error of the run, of the filesystem index and of the smoke unpack,
// never a shorter filesystem that passes.
func TestUnreadableLayerFailsClosed(t *testing.T) {
	bb := hostFile(t, "/bin/busybox")
	// Layers are flattened from the top: the complete filesystem on top
	// makes a stream that ends early look like a whole image.
	img := image(t, runtime.GOARCH, distrolessConfig(),
		corruptLayer(t, file("bin/busybox", 0o755, bb), symlink("bin/sh", "busybox")),
		layer(t, distrolessFS(t)...))
	if _, err := Run(t.Context(), Options{Image: img, Platform: "linux/" + runtime.GOARCH, Tier: "distroless", Rules: distrolessRules}); !errors.Is(err, ErrImage) {
		t.Errorf("Run: err = %v, want ErrImage", err)
	}
	if _, err := buildIndex(img, nil); !errors.Is(err, ErrImage) {
		t.Errorf("buildIndex: err = %v, want ErrImage", err)
	}
	if err := unpack(img, t.TempDir()); err == nil {
		t.Error("unpack: no error")
	}
}
