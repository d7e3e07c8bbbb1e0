#!/bin/sh
# Stage the offline package set used by nix/fixtures (see nix/fixtures/README.md).
#
# Downloads Debian packages for amd64 and arm64 with `apt-get download`,
# extracts them, relocates Python 3.11 onto a glibc that lives in the Nix store
# (patchelf, on the host), builds the static stand-ins for node and java, and
# writes everything under nix/fixtures/vendor/ (gitignored).
#
# Idempotent: a stamp records the hash of this script and of the fixture
# sources; when it matches, nothing is done. Needs root (nix-store --add,
# dpkg --add-architecture), apt access to Debian, go, patchelf, nix-store.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
fixtures=$repo/nix/fixtures
vendor=$fixtures/vendor
# Downloaded .debs stay outside nix/fixtures: everything there is copied
# into the store each time the fixtures flake is used.
cache=${CLEARCUTT_FIXTURE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/clearcutt/nix-fixtures-debs}

for tool in apt-get dpkg-deb patchelf nix-store go sha256sum; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "nix-fixtures: $tool is required (Debian: apt-get install nix-bin patchelf; Go from go.dev)" >&2
		exit 1
	}
done

stamp=$(cat "$0" "$fixtures"/src/*/*.go | sha256sum | cut -d' ' -f1)
if [ -f "$vendor/.stamp" ] && [ "$(cat "$vendor/.stamp")" = "$stamp" ]; then
	# A wiped store needs nothing here: builtins.path re-adds the library
	# trees, with the same store paths, whenever the fixtures are evaluated.
	echo "nix-fixtures: up to date ($vendor)"
	exit 0
fi

NIX_CONFIG=$(cat "$fixtures/nix.conf")
export NIX_CONFIG

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
	apt-get update -qq
fi

pkgs="python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 zlib1g libexpat1 libssl3 busybox-static"
mkdir -p "$cache"
chmod 0777 "$cache" # apt's _apt user downloads into it
download() { # download ARCH: fetch the Debian packages for one architecture
	mkdir -p "$cache/$1"
	chmod 0777 "$cache/$1"
	list=""
	for p in $pkgs; do
		ls "$cache/$1/${p}_"*"_$1.deb" >/dev/null 2>&1 || list="$list $p:$1"
	done
	[ -z "$list" ] && return 0
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	(cd "$cache/$1" && { apt-get download -q $list 2>/dev/null || { apt-get update -qq && apt-get download -q $list; }; })
}
download amd64
download arm64
for p in tzdata ca-certificates; do
	ls "$cache/${p}_"*_all.deb >/dev/null 2>&1 || (cd "$cache" && apt-get download -q "$p" 2>/dev/null)
done

work=$(mktemp -d "${TMPDIR:-/tmp}/nix-fixtures.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=$work/vendor
mkdir -p "$out/builder" "$out/common"

first() { # first GLOB-EXPANSION...: print the first existing file
	for f in "$@"; do
		if [ -e "$f" ]; then
			printf '%s\n' "$f"
			return 0
		fi
	done
	echo "nix-fixtures: no file matches $1" >&2
	return 1
}
deb() { # deb ARCH PACKAGE DEST: extract one downloaded package
	f=$(first "$cache/$1/${2}_"*"_$1.deb")
	mkdir -p "$3"
	dpkg-deb -x "$f" "$3"
}
debversion() { # upstream version of a downloaded package: 1:2.5.0-1+deb12u1 -> 2.5.0
	f=$(first "$cache/$1/${2}_"*"_$1.deb")
	dpkg-deb -f "$f" Version | sed -e 's/^[0-9]*://' -e 's/-[^-]*$//' -e 's/\.dfsg$//' -e 's/~.*$//'
}
addstore() { # addstore DIR: print the store path `builtins.path` gives DIR
	nix-store --add "$1"
}

# Common, architecture-independent content.
mkdir -p "$work/x"
ca=$work/x/ca
dpkg-deb -x "$(first "$cache"/ca-certificates_*_all.deb)" "$ca"
find "$ca/usr/share/ca-certificates/mozilla" -name '*.crt' | LC_ALL=C sort | xargs cat >"$out/common/ca-bundle.crt"
dpkg-deb -f "$(first "$cache"/ca-certificates_*_all.deb)" Version | sed 's/[~-].*//' >"$out/common/cacert.version"
tz=$work/x/tz
dpkg-deb -x "$(first "$cache"/tzdata_*_all.deb)" "$tz"
mkdir -p "$out/common/zoneinfo/Etc" "$out/common/zoneinfo/Europe" "$out/common/zoneinfo/America"
for z in UTC Etc/UTC Europe/London Europe/Paris America/New_York; do
	cp -L "$tz/usr/share/zoneinfo/$z" "$out/common/zoneinfo/$z"
done
dpkg-deb -f "$(first "$cache"/tzdata_*_all.deb)" Version | sed 's/-.*//' >"$out/common/tzdata.version"

for arch in amd64 arm64; do
	case $arch in
	amd64) system=x86_64-linux triplet=x86_64-linux-gnu ld=ld-linux-x86-64.so.2 goarch=amd64 ;;
	arm64) system=aarch64-linux triplet=aarch64-linux-gnu ld=ld-linux-aarch64.so.1 goarch=arm64 ;;
	esac
	x=$work/x/$arch
	s=$out/$system
	mkdir -p "$s/store" "$s/bin"
	for p in $pkgs; do deb "$arch" "$p" "$x/$p"; done

	# busybox: the content package, and (amd64) the builder of every fixture.
	cp "$x/busybox-static/bin/busybox" "$s/bin/busybox"
	debversion "$arch" busybox-static >"$s/busybox.version"
	if [ "$arch" = amd64 ]; then cp "$x/busybox-static/bin/busybox" "$out/builder/busybox"; fi

	# Library trees: added to the store as they are (builtins.path sources),
	# so their store paths are known before Python is patched to use them.
	gv=$(debversion "$arch" libc6)
	g=$s/store/glibc-$gv
	mkdir -p "$g/lib"
	cp -L "$x/libc6/lib/$triplet/"*.so* "$g/lib/"
	for lib in zlib1g:zlib libexpat1:expat libssl3:openssl; do
		deb=${lib%%:*} name=${lib#*:}
		d=$s/store/$name-$(debversion "$arch" "$deb")
		mkdir -p "$d/lib"
		for f in "$x/$deb/lib/$triplet/"*.so* "$x/$deb/usr/lib/$triplet/"*.so*; do
			if [ -e "$f" ]; then cp -P "$f" "$d/lib/"; fi
		done
	done
	rpath=""
	for d in "$s"/store/*; do
		p=$(addstore "$d")
		rpath="$rpath${rpath:+:}$p/lib"
		case $(basename "$d") in glibc-*) glibc=$p ;; esac
	done

	# Python 3.11, relocated: interpreter and RPATH point into the store.
	pv=$(debversion "$arch" python3.11-minimal)
	py=$s/python3-$pv
	mkdir -p "$py/bin" "$py/lib"
	cp "$x/python3.11-minimal/usr/bin/python3.11" "$py/bin/python3.11"
	ln -s python3.11 "$py/bin/python3"
	cp -R "$x/libpython3.11-minimal/usr/lib/python3.11" "$py/lib/python3.11"
	# The rest of the standard library (json, email, ...); test suites and
	# GUI/terminal modules stay out.
	cp -R "$x/libpython3.11-stdlib/usr/lib/python3.11/." "$py/lib/python3.11/"
	rm -rf "$py/lib/python3.11/test" "$py/lib/python3.11/idlelib" "$py/lib/python3.11/tkinter" \
		"$py/lib/python3.11/turtledemo" "$py/lib/python3.11/lib-dynload/"_test*.so
	find "$py" -type l ! -name python3 -exec sh -c 'case $(readlink "$1") in /*) rm "$1";; esac' _ {} \;
	find "$py/lib" -name '__pycache__' -prune -exec rm -rf {} +
	patchelf --set-interpreter "$glibc/lib/$ld" --force-rpath --set-rpath "$rpath" "$py/bin/python3.11"
	for so in "$py/lib/python3.11/lib-dynload/"*.so; do
		patchelf --force-rpath --set-rpath "$rpath" "$so"
	done
	echo "$pv" >"$s/python3.version"

	# node and java stand-ins (stripped, static), and the unstripped gate fixture.
	(cd "$fixtures/src/fakeruntime" && CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOWORK=off \
		go build -trimpath -ldflags "-s -w -buildid=" -o "$s/bin/fakeruntime" .)
	(cd "$fixtures/src/unstripped" && CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOWORK=off \
		go build -ldflags "-buildid=" -o "$s/bin/unstripped" .)
done

echo "$stamp" >"$out/.stamp"
rm -rf "$vendor.old"
[ -d "$vendor" ] && mv "$vendor" "$vendor.old"
mv "$out" "$vendor"
rm -rf "$vendor.old"
echo "nix-fixtures: staged $vendor"
