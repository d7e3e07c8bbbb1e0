#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Check out the catalog branch of the fleet repository into DIR, or start it.
# The catalog lives on its own branch so each run extends the history of the
# last (the rescan trend) and the static site can be served from it.
# Env: BRANCH, DIR, REMOTE (or SERVER and REPOSITORY), GH_TOKEN (optional),
# REQUIRE (true: the branch must exist, as for a rescan, which has nothing
# to read before the first publish), AT (optional: the commit the branch
# must still be at, as when a later job commits what an earlier one read).
# Output: commit (the branch's commit checked out; empty for a new branch).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
remote=$(catalog_remote)
if tip=$(catalog_git ls-remote --exit-code --heads "$remote" "refs/heads/$BRANCH" 2>/dev/null | cut -f1) && [ -n "$tip" ]; then
	if [ -n "${AT:-}" ] && [ "$tip" != "$AT" ]; then
		die "catalog branch $BRANCH moved from $AT to $tip since this run read it: not overwriting another run's catalog; re-run the workflow"
	fi
	catalog_git clone --quiet --depth 1 --branch "$BRANCH" "$remote" "$DIR"
	head=$(git -C "$DIR" rev-parse HEAD)
	[ -z "${AT:-}" ] || [ "$head" = "$AT" ] || die "catalog branch $BRANCH moved to $head while it was cloned; re-run the workflow"
	echo "catalog branch $BRANCH at ${head:0:12}" >&2
	output commit "$head"
else
	[ "${REQUIRE:-false}" != true ] || die "catalog branch $BRANCH does not exist in $(catalog_remote_name): nothing has been published yet (run the publish workflow first) or the catalog-branch input names another branch"
	[ -z "${AT:-}" ] || die "catalog branch $BRANCH was at $AT when this run read it and is gone now; re-run the workflow"
	echo "catalog branch $BRANCH does not exist yet: starting it" >&2
	git init --quiet "$DIR"
	git -C "$DIR" checkout --quiet --orphan "$BRANCH"
	output commit ""
fi
