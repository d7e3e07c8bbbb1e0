#!/usr/bin/env bash
# Builds the example overlay base: a two-platform OCI image (linux/amd64,
# linux/arm64/v8) made from Debian packages that hold no executables
# (base-files, netbase, tzdata, ca-certificates), so it stands in for a vendor
# base such as UBI micro in the example fleet and the tests.
#
# Usage: scripts/make-debian-base.sh OUTDIR
# The result is an OCI layout; its index digest is printed on stdout. The
# committed copy lives in nix/fixtures/bases/debian and clearcutt.yaml pins
# its digest; rerunning against newer Debian packages gives a new digest.
set -euo pipefail
out=${1:?usage: make-debian-base.sh OUTDIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pkgs=(base-files netbase tzdata ca-certificates)
(cd "$work" && apt-get download "${pkgs[@]}" >/dev/null 2>&1) || {
  apt-get update -qq && (cd "$work" && apt-get download "${pkgs[@]}" >/dev/null)
}
mkdir -p "$work/root"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
# Trim documentation and keep the layer small; tzdata keeps UTC and Etc/.
# Maintainer tooling goes too (update-ca-certificates, motd scripts): they
# are shell scripts, and a base for a distroless tier holds no scripts.
rm -rf "$work/root/usr/share/doc" "$work/root/usr/share/man" "$work/root/usr/share/lintian" "$work/root/usr/share/bug" \
  "$work/root/etc/update-motd.d" "$work/root/usr/sbin" "$work/root/etc/ca-certificates/update.d"
find "$work/root/usr/share/zoneinfo" -mindepth 1 -maxdepth 1 ! -name UTC ! -name Etc ! -name zone1970.tab ! -name tzdata.zi -exec rm -rf {} +
# The dpkg status database, as dpkg would leave it: scanners (syft's dpkg
# cataloger, grype) find the base's packages through it. The layer is shared
# by both platforms, so base-files is recorded with the architecture of the
# package that was unpacked (its files are the same on every architecture).
mkdir -p "$work/root/var/lib/dpkg"
for deb in "$work"/*.deb; do
  dpkg-deb -f "$deb" | awk 'NR==1 { print; print "Status: install ok installed"; next } { print }'
  echo
done > "$work/root/var/lib/dpkg/status"
mkdir -p "$work/root/etc/ssl/certs"
# What update-ca-certificates would write at install time.
find "$work/root/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | xargs cat > "$work/root/etc/ssl/certs/ca-certificates.crt"

layer="$work/layer.tar.gz"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
  -C "$work/root" -cf - . | gzip -n -6 > "$layer"
diffid=$(gzip -dc "$layer" | sha256sum | cut -d' ' -f1)

mkdir -p "$out/blobs/sha256"
put() { # put FILE -> prints digest hex, stores blob
  local d; d=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" "$out/blobs/sha256/$d"; echo "$d"
}
size() { stat -c %s "$1"; }
ldig=$(put "$layer"); lsize=$(size "$layer")

manifests=""
for plat in amd64 arm64; do
  variant=""; [ "$plat" = arm64 ] && variant=',"variant":"v8"'
  printf '{"architecture":"%s","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Labels":{"org.opencontainers.image.title":"debian-data-base","org.opencontainers.image.description":"Debian base-files, netbase, tzdata, ca-certificates"}},"created":"1970-01-01T00:00:00Z","os":"linux","rootfs":{"diff_ids":["sha256:%s"],"type":"layers"}%s}' \
    "$plat" "$diffid" "$variant" > "$work/config-$plat.json"
  cdig=$(put "$work/config-$plat.json"); csize=$(size "$work/config-$plat.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$cdig" "$csize" "$ldig" "$lsize" > "$work/manifest-$plat.json"
  mdig=$(put "$work/manifest-$plat.json"); msize=$(size "$work/manifest-$plat.json")
  [ -n "$manifests" ] && manifests="$manifests,"
  manifests="$manifests{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$mdig\",\"size\":$msize,\"platform\":{\"architecture\":\"$plat\",\"os\":\"linux\"${variant}}}"
done
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$manifests" > "$work/index.json"
idig=$(put "$work/index.json"); isize=$(size "$work/index.json")
printf '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"debian:12-data"}}]}\n' \
  "$idig" "$isize" > "$out/index.json"
echo "sha256:$idig"
