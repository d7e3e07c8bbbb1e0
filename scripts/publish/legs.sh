#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Accept the legs of one image. Each leg's artifact is downloaded into its
# own directory (download-artifact by pattern, without merge-multiple:
# DIR/clearcutt-leg-<runtime>-<tier>-<arch>/), so one leg can never write
# into another's files. A leg is accepted only as it recorded itself: its
# record names this runtime, tier and arch, the image it pushed by digest
# and the platform digests its evidence is about, and its evidence is those
# digests' directories and nothing else. A leg that holds anything more is
# refused, and so is evidence for one digest from two legs: that is
# tampering, not a failed build. (attest then requires evidence for every
# platform of the index, which is made of these legs' images.)
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
	own=()
	while IFS= read -r d; do
		[[ "$d" =~ ^sha256:[0-9a-f]{64}$ ]] || die "$name: '$d' in the leg record is not a digest"
		own+=("evidence/sha256-${d#sha256:}")
	done < <(jq -r '.evidence // [] | .[]' "$record")
	[ ${#own[@]} -gt 0 ] || die "$name: the leg record names no evidence"
	# Every entry of the artifact must be the record, an evidence directory
	# the record names, or a regular file in one.
	while IFS= read -r -d '' entry; do
		rel=${entry#"$leg"/}
		case "$rel" in
		legs | "legs/$RUNTIME-$TIER-$arch.json" | evidence) continue ;;
		esac
		ok=
		for o in "${own[@]}"; do
			if [ "$rel" = "$o" ]; then
				ok=1
			elif [ "${rel#"$o"/}" != "$rel" ]; then
				if [ ! -f "$entry" ] || [ -L "$entry" ]; then die "$name: $rel is not a regular file"; fi
				ok=1
			fi
		done
		[ -n "$ok" ] || die "$name: $rel is not this leg's own record or evidence (${own[*]}): refused"
	done < <(find "$leg" -mindepth 1 -print0)
	for o in "${own[@]}"; do
		if [ ! -d "$leg/$o" ] || [ -L "$leg/$o" ]; then die "$name: no evidence directory $o"; fi
		if [ -n "${EVIDENCE:-}" ]; then
			mkdir -p "$EVIDENCE"
			[ ! -e "$EVIDENCE/${o#evidence/}" ] || die "$name: evidence for ${o#evidence/} arrived from two legs"
			cp -R "$leg/$o" "$EVIDENCE/"
		fi
	done
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
