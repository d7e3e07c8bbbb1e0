#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Hand the verify job's verdict to the tags job, by digest. A matrix job's
# outputs overwrite each other, so each verified image travels as its own
# artifact, written only when every channel verified.
#   verified.sh record   Env: NAME, REFERENCE (repository@sha256:…), OUT (directory)
#   verified.sh check    Env: NAME, RUNTIME, TIER, DIGEST, DIR (artifacts
#                        downloaded by pattern: DIR/clearcutt-verified-<runtime>-<tier>/)
# check fails unless this image was verified at exactly DIGEST: then no tag
# moves. Output of check: reference.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
case "${1:-}" in
record)
	: "${REFERENCE:?REFERENCE is not set}"
	case "$REFERENCE" in
	*@sha256:????????????????????????????????????????????????????????????????) ;;
	*) die "$NAME: '$REFERENCE' is not a reference by digest" ;;
	esac
	mkdir -p "$OUT"
	jq -n --arg name "$NAME" --arg reference "$REFERENCE" '{name: $name, reference: $reference}' >"$OUT/verified.json"
	;;
check)
	file="$DIR/clearcutt-verified-$RUNTIME-$TIER/verified.json"
	[ -f "$file" ] || die "$NAME: not verified in this run (its attest, provenance or verify job failed): the tags stay where they were"
	reference=$(jq -er --arg name "$NAME" 'select(.name == $name) | .reference' "$file") ||
		die "$NAME: the verification record names another image"
	[ "${reference##*@}" = "$DIGEST" ] || die "$NAME: verified ${reference##*@}, not $DIGEST: the tags stay where they were"
	output reference "$reference"
	;;
*) die "usage: verified.sh record|check" ;;
esac
