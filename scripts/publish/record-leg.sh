#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Record one leg's platform image (pushed by digest) for the index job. Job
# outputs of a matrix overwrite each other, so legs travel as files.
# Env: RUNTIME, TIER, ARCH, REFERENCE (repository@sha256:…), LEGS (directory).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
case "$REFERENCE" in
*@sha256:????????????????????????????????????????????????????????????????) ;;
*) die "leg $RUNTIME:$TIER $ARCH: '$REFERENCE' is not a reference by digest" ;;
esac
mkdir -p "$LEGS"
jq -n --arg runtime "$RUNTIME" --arg tier "$TIER" --arg arch "$ARCH" --arg reference "$REFERENCE" \
	'{runtime: $runtime, tier: $tier, arch: $arch, reference: $reference}' >"$LEGS/$RUNTIME-$TIER-$ARCH.json"
