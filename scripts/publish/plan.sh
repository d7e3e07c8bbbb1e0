#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Plan a release: validate the fleet, then write the matrix of legs (runtime ×
# tier × arch, one native runner each) and of images (runtime × tier, with
# the architectures each must have before it is released).
# Env: CLEARCUTT (the CLI), CLEARCUTT_FLEET. Outputs: legs, images.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
"$CLEARCUTT" -f "$CLEARCUTT_FLEET" fleet validate >&2
legs=$("$CLEARCUTT" -f "$CLEARCUTT_FLEET" fleet plan --github-matrix)
images=$(jq -c '{include: [.include | group_by([.runtime, .tier])[] |
	(.[0] | {runtime, tier, version, registry, repository}) + {arches: ([.[].arch] | unique | join(" "))}]}' <<<"$legs")
[ "$(jq '.include | length' <<<"$images")" -gt 0 ] || die "$CLEARCUTT_FLEET: the fleet plans no image"
output legs "$legs"
output images "$images"
