#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Commit DIR to the catalog branch and push it. Output: commit (empty when
# the catalog did not change).
# Env: BRANCH, DIR, MESSAGE, REMOTE (or SERVER and REPOSITORY), GH_TOKEN (optional).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
remote=$(catalog_remote)
git -C "$DIR" add -A
if git -C "$DIR" diff --cached --quiet; then
	echo "catalog unchanged" >&2
	output commit ""
	exit 0
fi
git -C "$DIR" -c user.name=clearcutt -c user.email=clearcutt@users.noreply.github.com commit --quiet -m "catalog: $MESSAGE"
catalog_git -C "$DIR" push --quiet "$remote" "HEAD:refs/heads/$BRANCH"
output commit "$(git -C "$DIR" rev-parse HEAD)"
