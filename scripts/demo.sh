#!/usr/bin/env bash
# The main job, offline, on a fresh Debian machine (as root): installs what is
# missing, stages the offline Nix fixture package set, then builds every image
# of the example fleet (clearcutt.yaml) for amd64 and arm64 with the fleet's
# own Nix code, assembles reproducible OCI images, runs the gates (tier
# invariants with smoke runs under runc where the host can execute the
# architecture; SBOM and a vulnerability scan against the bundled test
# database, with the fleet's VEX and exceptions), publishes the gated fleet to
# the OCI layout ./out/oci, signs every image and attaches its evidence with
# the local key, verifies every channel of every published image, and writes
# the catalog (out/catalog) and its static site (out/site).
#
# Usage: scripts/demo.sh   (a re-run reuses the builds, assemblies, tests and
#                          SBOMs whose inputs did not change: out/reuse)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/prereqs.sh
clearcutt_need_root
clearcutt_need_go

# The CLI builds while the Debian packages install and the fixtures are
# staged: a first build fetches and compiles every module, the longest
# step of a first run. Static (CGO_ENABLED=0): the same binary whether or
# not the machine has a C compiler.
mkdir -p out/bin
clearcutt_start cli-build "building the clearcutt CLI (go build)" \
  env CGO_ENABLED=0 go build -trimpath -o out/bin/clearcutt .

clearcutt_install_prereqs
clearcutt_nix_env
clearcutt_step "staging the offline Nix fixtures" scripts/nix-fixtures.sh

clearcutt_finish cli-build
cc=out/bin/clearcutt

$cc fleet validate
$cc fleet plan
echo
echo "==> vulnerability database from testdata/vulndb/advisories.yaml"
$cc vulndb build --advisories testdata/vulndb/advisories.yaml --out out/vulndb

echo
echo "==> build, gate, publish, sign and verify the fleet (nixpkgs := nix/fixtures)"
$cc pipeline --nixpkgs nix/fixtures --work out --cache out/cache --db out/vulndb --to oci:out/oci

key="${XDG_CONFIG_HOME:-$HOME/.config}/clearcutt/signing.key.pub"
echo
echo "==> catalog and static site of the published fleet, as verification observes it"
$cc catalog --from oci:out/oci --key "$key" --out out/catalog --site out/site

echo
echo "The fleet is in the OCI layout out/oci (index.json names each image <runtime>:<tier>)."
echo "Its catalog is out/catalog/catalog.json; open out/site/index.html in a browser."
echo "Verify an image yourself: out/bin/clearcutt verify oci:out/oci@<digest> --key $key"
echo "scripts/demo.sh: done in ${SECONDS} s"
