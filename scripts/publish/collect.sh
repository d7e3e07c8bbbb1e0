#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Collect the published indexes of a release: images.json (<runtime>:<tier>
# → reference by digest), failed.json (<runtime>:<tier> → why it was not
# released) and the matrix of signing, provenance, verify and tag subjects.
# An image is released with all of its architectures or not at all: the
# index job publishes an index only from a complete set of legs. A release
# goes on with the images that have an index; the ones without are
# reported, and the run ends red (their jobs failed). When no image has
# an index, there is nothing to release and this step fails.
# Env: INDEXES (directory), IMAGES_FILE, FAILED_FILE (where the two files
# go), EXPECT (the images matrix of the plan).
# Outputs: images, subjects, failed (JSON array of names).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
shopt -s nullglob
files=("$INDEXES"/*.json)
images='{}'
if [ ${#files[@]} -gt 0 ]; then
	images=$(jq -cs 'add' "${files[@]}")
fi
unplanned=$(jq -r --argjson plan "$EXPECT" 'keys[] | select(. as $n | [$plan.include[] | "\(.runtime):\(.tier)"] | index($n) | not)' <<<"$images")
[ -z "$unplanned" ] || die "indexes recorded for images the plan does not have: $(tr '\n' ' ' <<<"$unplanned")"
failed=$(jq -c --argjson have "$images" \
	'[.include[] | "\(.runtime):\(.tier)" | select($have[.] == null)] | map({(.): "not released: a leg or the index job of this image failed in this run"}) | add // {}' <<<"$EXPECT")
jq -r 'keys[]' <<<"$failed" | while read -r n; do echo "::error::$n was not released: a leg or the index job of this image failed (see its jobs)" >&2; done
[ "$images" != '{}' ] || die "no image was released: every image has a failed leg or index job"
subjects=$(jq -c --argjson plan "$EXPECT" '{include: [to_entries[] | .key as $n | ($plan.include[] | select("\(.runtime):\(.tier)" == $n)) as $p |
	{name: $n, runtime: $p.runtime, tier: $p.tier, arches: $p.arches, image: (.value | split("@")[0]), digest: (.value | split("@")[1])}]}' <<<"$images")
jq . <<<"$images" >"$IMAGES_FILE"
jq . <<<"$failed" >"$FAILED_FILE"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
	{
		echo "### Release: $(jq 'length' <<<"$images") released, $(jq 'length' <<<"$failed") not released"
		echo
		echo "| image | index |"
		echo "|---|---|"
		jq -r 'to_entries[] | "| `\(.key)` | `\(.value)` |"' <<<"$images"
		jq -r 'to_entries[] | "| `\(.key)` | :x: \(.value) |"' <<<"$failed"
	} >>"$GITHUB_STEP_SUMMARY"
fi
output images "$images"
output subjects "$subjects"
output failed "$(jq -c keys <<<"$failed")"
