#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# List the platform images of one image from the recorded legs.
# Env: RUNTIME, TIER, LEGS (directory). Output: platforms (one reference a line).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
shopt -s nullglob
files=("$LEGS"/*.json)
[ ${#files[@]} -gt 0 ] || die "$LEGS: no legs recorded"
platforms=$(jq -r --arg runtime "$RUNTIME" --arg tier "$TIER" \
	'select(.runtime == $runtime and .tier == $tier) | .reference' "${files[@]}")
[ -n "$platforms" ] || die "$RUNTIME:$TIER: no leg recorded a platform image"
output platforms "$platforms"
