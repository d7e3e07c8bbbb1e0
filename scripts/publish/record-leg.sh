#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Record one leg for the jobs after it: the image it pushed (by digest; a
# one-platform index) and the platform digests its evidence is about. Job
# outputs of a matrix overwrite each other, so legs travel as files; the
# jobs that read them accept from this leg only what it records here
# (legs.sh).
# Env: RUNTIME, TIER, ARCH, REFERENCE (repository@sha256:…), LEGS (directory),
# EVIDENCE (the leg's evidence directory, sha256-<hex>/ per platform).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
case "$REFERENCE" in
*@sha256:????????????????????????????????????????????????????????????????) ;;
*) die "leg $RUNTIME:$TIER $ARCH: '$REFERENCE' is not a reference by digest" ;;
esac
shopt -s nullglob
digests=()
for d in "$EVIDENCE"/sha256-*; do
	hex=${d##*/sha256-}
	[[ "$hex" =~ ^[0-9a-f]{64}$ ]] || die "leg $RUNTIME:$TIER $ARCH: $d is not an evidence directory of a digest"
	digests+=("sha256:$hex")
done
[ ${#digests[@]} -gt 0 ] || die "leg $RUNTIME:$TIER $ARCH: no evidence in $EVIDENCE"
mkdir -p "$LEGS"
jq -n --arg runtime "$RUNTIME" --arg tier "$TIER" --arg arch "$ARCH" --arg reference "$REFERENCE" \
	--args '{runtime: $runtime, tier: $tier, arch: $arch, reference: $reference, evidence: $ARGS.positional}' \
	"${digests[@]}" >"$LEGS/$RUNTIME-$TIER-$ARCH.json"
