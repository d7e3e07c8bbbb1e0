package oci

import (
	"context"
	"errors"
	"testing"

	"github.com/clearcutt/clearcutt/internal/closure"
)

// overlaySetup assembles a two-architecture base and an app closure that
// goes on top of it.
func overlaySetup(t *testing.T) (Result, *fakeStore, []*closure.Manifest) {
	t.Helper()
	bs, bms := twoArch(t)
	bo := assembleOpts(bs, bms, t.TempDir())
	bo.Config.Env = append(bo.Config.Env, "BASE_ONLY=1")
	bo.Config.Labels["dev.example.base-label"] = "kept"
	base := assemble(t, bo)

	s := newStore(t)
	var ms []*closure.Manifest
	for _, arch := range []string{"amd64", "arm64"} {
		app := s.add("app-"+arch, nil, entry{rel: "bin/app", content: "app " + arch, exec: true})
		root := s.add("app-root-"+arch, []string{app.Path}, entry{rel: "app", link: app.Path + "/bin/app"})
		m := manifest(arch, root, app)
		m.Runtime, m.Tier = "myapp", "app"
		ms = append(ms, m)
	}
	return base, s, ms
}

func TestOverlayKeepsBaseLayersAndRecordsBase(t *testing.T) {
	base, s, ms := overlaySetup(t)
	o := assembleOpts(s, ms, t.TempDir())
	o.Config = ImageConfig{Env: []string{"PATH=/app:/bin"}, Entrypoint: []string{"/app"}}
	baseRef := "registry.example.com/fleet/python@" + base.Digest.String()
	o.Base = &Base{Ref: baseRef, Index: base.Index}
	r := assemble(t, o)
	for i, pi := range r.Images {
		bi := base.Images[i]
		if pi.BaseDigest == nil || *pi.BaseDigest != bi.Digest {
			t.Fatalf("%s: base digest %v, want %s", pi.Platform, pi.BaseDigest, bi.Digest)
		}
		bl, _ := bi.Image.Layers()
		al, _ := pi.Image.Layers()
		if len(al) != len(bl)+2 {
			t.Fatalf("%s: %d layers, want base %d + 2", pi.Platform, len(al), len(bl))
		}
		for j := range bl {
			bd, _ := bl[j].Digest()
			ad, _ := al[j].Digest()
			if ad != bd {
				t.Errorf("%s: base layer %d changed: %s -> %s", pi.Platform, j, bd, ad)
			}
		}
		cf, _ := pi.Image.ConfigFile()
		l := cf.Config.Labels
		if l[LabelBaseDigest] != bi.Digest.String() || l[LabelBaseName] != baseRef {
			t.Errorf("base labels %v", l)
		}
		if l["dev.example.base-label"] != "kept" || l[LabelRuntime] != "myapp" {
			t.Errorf("labels not inherited/applied: %v", l)
		}
		wantEnv := []string{"PATH=/app:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt", "BASE_ONLY=1"}
		if len(cf.Config.Env) != len(wantEnv) {
			t.Fatalf("env %v, want %v", cf.Config.Env, wantEnv)
		}
		for k := range wantEnv {
			if cf.Config.Env[k] != wantEnv[k] {
				t.Errorf("env %v, want %v", cf.Config.Env, wantEnv)
			}
		}
		if cf.Config.User != "65532:65532" || cf.Config.Entrypoint[0] != "/app" {
			t.Errorf("user %q entrypoint %v", cf.Config.User, cf.Config.Entrypoint)
		}
		if len(cf.History) != len(al) {
			t.Errorf("%d history entries for %d layers", len(cf.History), len(al))
		}
		m, _ := pi.Image.Manifest()
		if m.Annotations[LabelBaseDigest] != bi.Digest.String() || m.Annotations[LabelBaseName] != baseRef {
			t.Errorf("manifest annotations %v", m.Annotations)
		}
	}
	// Deterministic in overlay mode too.
	o.CacheDir = t.TempDir()
	if again := assemble(t, o); again.Digest != r.Digest {
		t.Fatal("overlay assembly is not deterministic")
	}
}

func TestOverlayRefusesBaseWithoutDigest(t *testing.T) {
	base, s, ms := overlaySetup(t)
	o := assembleOpts(s, ms, t.TempDir())
	o.Base = &Base{Ref: "registry.example.com/fleet/python:distroless", Index: base.Index}
	_, err := Assemble(context.Background(), o)
	if !errors.Is(err, ErrNotByDigest) || !errors.Is(err, ErrBadBase) {
		t.Fatalf("err = %v, want ErrNotByDigest and ErrBadBase", err)
	}
}

func TestOverlayRefusesMismatchedBaseDigest(t *testing.T) {
	base, s, ms := overlaySetup(t)
	o := assembleOpts(s, ms, t.TempDir())
	o.Base = &Base{Ref: "registry.example.com/fleet/python@sha256:" + hexA, Index: base.Index}
	if _, err := Assemble(context.Background(), o); !errors.Is(err, ErrBadBase) {
		t.Fatalf("err = %v, want ErrBadBase", err)
	}
}

func TestOverlayRefusesMissingPlatform(t *testing.T) {
	base, s, ms := overlaySetup(t)
	o := assembleOpts(s, ms, t.TempDir())
	amd := base.Images[0]
	o.Base = &Base{Ref: "registry.example.com/fleet/python@" + amd.Digest.String(), Image: amd.Image}
	_, err := Assemble(context.Background(), o)
	if !errors.Is(err, ErrBadBase) {
		t.Fatalf("err = %v, want ErrBadBase for the arm64 manifest", err)
	}
}
