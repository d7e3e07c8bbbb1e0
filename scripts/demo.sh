#!/usr/bin/env bash
# The main job, offline, on a fresh Debian machine (as root): installs what is
# missing, stages the offline Nix fixture package set, then builds every image
# of the example fleet (clearcutt.yaml) for amd64 and arm64 with the fleet's
# own Nix code, assembles reproducible OCI images, runs the tier gates (with
# smoke runs under runc where the host can execute the architecture) and
# publishes the gated fleet to the OCI layout ./out/oci.
#
# Usage: scripts/demo.sh            (re-runs reuse the Nix store and layer cache)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/prereqs.sh
clearcutt_need_root
clearcutt_install_prereqs
clearcutt_nix_env

echo "==> staging the offline Nix fixtures"
scripts/nix-fixtures.sh

echo "==> building the clearcutt CLI"
mkdir -p out/bin
go build -trimpath -o out/bin/clearcutt .
cc=out/bin/clearcutt

$cc fleet validate
$cc fleet plan
echo
echo "==> build, assemble, gate and publish the fleet (nixpkgs := nix/fixtures)"
$cc pipeline --nixpkgs nix/fixtures --work out --cache out/cache --to oci:out/oci

echo
echo "The fleet is in the OCI layout out/oci (index.json names each image <runtime>:<tier>)."
echo "Inspect an image: out/bin/clearcutt test oci:out/oci@<digest>"
