#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Check out the catalog branch of the fleet repository into DIR, or start it.
# The catalog lives on its own branch so each run extends the history of the
# last (the rescan trend) and the static site can be served from it.
# Env: BRANCH, DIR, REMOTE (or SERVER and REPOSITORY), GH_TOKEN (optional).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
remote=$(catalog_remote)
if catalog_git ls-remote --exit-code --heads "$remote" "$BRANCH" >/dev/null 2>&1; then
	catalog_git clone --quiet --depth 1 --branch "$BRANCH" "$remote" "$DIR"
	echo "catalog branch $BRANCH at $(git -C "$DIR" rev-parse --short HEAD)" >&2
else
	echo "catalog branch $BRANCH does not exist yet: starting it" >&2
	git init --quiet "$DIR"
	git -C "$DIR" checkout --quiet --orphan "$BRANCH"
fi
