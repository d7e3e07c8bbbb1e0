#!/usr/bin/env bash
# The catalog lives on its own branch of the fleet repository, so each run
# extends the history of the last one (the rescan trend) and the static site
# can be served from it.
#
#   catalog-branch.sh checkout DIR            clone BRANCH into DIR, or start it
#   catalog-branch.sh commit DIR MESSAGE      commit DIR and push it to BRANCH
#
# Env: BRANCH, REMOTE (a git URL; default $SERVER/$REPOSITORY.git), GH_TOKEN
# (sent as an HTTP header, never written into the clone's config).
set -euo pipefail
cmd=${1:?usage: catalog-branch.sh checkout|commit DIR [MESSAGE]}
dir=${2:?usage: catalog-branch.sh checkout|commit DIR [MESSAGE]}
remote=${REMOTE:-${SERVER:-https://github.com}/${REPOSITORY:?REPOSITORY or REMOTE is required}.git}
auth=()
if [ -n "${GH_TOKEN:-}" ]; then
	auth=(-c "http.extraheader=AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GH_TOKEN" | base64 -w0)")
fi
case "$cmd" in
checkout)
	if git "${auth[@]}" ls-remote --exit-code --heads "$remote" "$BRANCH" >/dev/null 2>&1; then
		git "${auth[@]}" clone --quiet --depth 1 --branch "$BRANCH" "$remote" "$dir"
	else
		echo "catalog branch $BRANCH does not exist yet: starting it" >&2
		git init --quiet "$dir"
		git -C "$dir" checkout --quiet --orphan "$BRANCH"
		git -C "$dir" remote add origin "$remote"
	fi
	;;
commit)
	msg=${3:?usage: catalog-branch.sh commit DIR MESSAGE}
	git -C "$dir" add -A
	if git -C "$dir" diff --cached --quiet; then
		echo "catalog unchanged" >&2
		exit 0
	fi
	git -C "$dir" -c user.name="clearcutt" -c user.email="clearcutt@users.noreply.github.com" commit --quiet -m "catalog: $msg"
	git "${auth[@]}" -C "$dir" push --quiet "$remote" "HEAD:refs/heads/$BRANCH"
	;;
*)
	echo "catalog-branch.sh: unknown command $cmd" >&2
	exit 2
	;;
esac
