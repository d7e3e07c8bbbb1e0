#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Accept the legs of one image. Each leg's artifact is downloaded into its
# own directory (download-artifact by pattern, without merge-multiple:
# DIR/clearcutt-leg-<runtime>-<tier>-<arch>/), so one leg can never write
# into another's files. A leg is accepted only as it recorded itself: its
# record names this runtime, tier and arch and one platform image by digest,
# and its evidence is that digest's directory and nothing else. A leg that
# holds anything more is refused: that is tampering, not a failed build.
# Env: RUNTIME, TIER, ARCHES (the planned architectures, space-separated),
# DIR, EVIDENCE (optional: copy each accepted leg's evidence here).
# Outputs: complete (true when every planned architecture has a leg),
# missing (the architectures without one), platforms (one reference a
# line; empty unless complete).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -n "${ARCHES// /}" ] || die "$RUNTIME:$TIER: no architecture planned"
platforms=()
missing=()
for arch in $ARCHES; do
	name="clearcutt-leg-$RUNTIME-$TIER-$arch"
	leg="$DIR/$name"
	if [ ! -d "$leg" ]; then
		missing+=("$arch")
		continue
	fi
	record="$leg/legs/$RUNTIME-$TIER-$arch.json"
	if [ ! -f "$record" ] || [ -L "$record" ]; then die "$name: no leg record legs/$RUNTIME-$TIER-$arch.json"; fi
	reference=$(jq -er --arg runtime "$RUNTIME" --arg tier "$TIER" --arg arch "$arch" \
		'select(.runtime == $runtime and .tier == $tier and .arch == $arch) | .reference' "$record") ||
		die "$name: the leg record does not name $RUNTIME:$TIER $arch"
	case "$reference" in
	*@sha256:????????????????????????????????????????????????????????????????) ;;
	*) die "$name: '$reference' is not a reference by digest" ;;
	esac
	own="evidence/sha256-${reference##*@sha256:}"
	# Every entry of the artifact must be the record, the evidence
	# directory of the recorded digest, or a file in it.
	while IFS= read -r -d '' entry; do
		rel=${entry#"$leg"/}
		case "$rel" in
		legs | "legs/$RUNTIME-$TIER-$arch.json" | evidence | "$own") ;;
		"$own"/*)
			if [ ! -f "$entry" ] || [ -L "$entry" ]; then die "$name: $rel is not a regular file"; fi
			;;
		*) die "$name: $rel is not this leg's own record or evidence (${own}): refused" ;;
		esac
	done < <(find "$leg" -mindepth 1 -print0)
	[ -d "$leg/$own" ] || die "$name: no evidence for ${reference##*@}"
	if [ -n "${EVIDENCE:-}" ]; then
		mkdir -p "$EVIDENCE"
		[ ! -e "$EVIDENCE/${own#evidence/}" ] || die "$name: evidence for ${reference##*@} arrived twice"
		cp -R "$leg/$own" "$EVIDENCE/"
	fi
	platforms+=("$reference")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "::warning::$RUNTIME:$TIER: no leg for ${missing[*]} (its job failed or did not run)" >&2
	output complete false
	output missing "${missing[*]}"
	output platforms ""
	exit 0
fi
output complete true
output missing ""
output platforms "$(printf '%s\n' "${platforms[@]}")"
