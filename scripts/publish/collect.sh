#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Collect the published indexes: images.json (<runtime>:<tier> → reference by
# digest) and the matrix of signing and provenance subjects.
# Env: INDEXES (directory), IMAGES_FILE (where images.json goes), EXPECT (the
# images matrix of the plan: every planned image must be there).
# Outputs: images, subjects.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
shopt -s nullglob
files=("$INDEXES"/*.json)
[ ${#files[@]} -gt 0 ] || die "$INDEXES: no index recorded"
images=$(jq -cs 'add' "${files[@]}")
missing=$(jq -r --argjson have "$images" '.include[] | "\(.runtime):\(.tier)" | select($have[.] == null)' <<<"$EXPECT")
[ -z "$missing" ] || die "planned images without a published index: $(tr '\n' ' ' <<<"$missing")"
subjects=$(jq -c '{include: [to_entries[] | {name: .key, runtime: (.key | split(":")[0]), tier: (.key | split(":")[1]),
	image: (.value | split("@")[0]), digest: (.value | split("@")[1])}]}' <<<"$images")
jq . <<<"$images" >"$IMAGES_FILE"
output images "$images"
output subjects "$subjects"
