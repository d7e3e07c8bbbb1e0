#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Commit DIR to the catalog branch and push it. A push the remote refuses is
# retried: after a transient failure as it is, after another writer moved
# the branch by rebasing this commit onto theirs when the two touch
# different files. When they touch the same files (another catalog was
# written meanwhile) nothing is overwritten: the step fails and says so.
# Output: commit (empty when the catalog did not change).
# Env: BRANCH, DIR, MESSAGE, REMOTE (or SERVER and REPOSITORY), GH_TOKEN
# (optional), ATTEMPTS (default 3).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
remote=$(catalog_remote)
git -C "$DIR" add -A
if git -C "$DIR" diff --cached --quiet; then
	echo "catalog unchanged" >&2
	output commit ""
	exit 0
fi
ident=(-c user.name=clearcutt -c user.email=clearcutt@users.noreply.github.com)
git -C "$DIR" "${ident[@]}" commit --quiet -m "catalog: $MESSAGE"
attempts=${ATTEMPTS:-3}
push_log=$(mktemp)
trap 'rm -f "$push_log"' EXIT
checklist='docs/forking.md, section 4 "Settings checklist"'
for ((i = 1; ; i++)); do
	if catalog_git -C "$DIR" push --quiet "$remote" "HEAD:refs/heads/$BRANCH" 2>"$push_log"; then
		cat "$push_log" >&2
		break
	fi
	cat "$push_log" >&2
	# Refusals that no retry changes: a setting of the repository.
	if grep -qE 'GH013|GH006|[Rr]epository rule violations|[Pp]rotected branch' "$push_log"; then
		die "catalog branch $BRANCH: the repository's rules refuse the workflow's push: exclude $BRANCH from the rulesets and branch protection that require pull requests, status checks or signed commits, or pass catalog-branch: \"\" ($checklist, \"The catalog branch is writable by the workflows\")"
	fi
	if grep -qE 'Permission to .* denied|returned error: 403' "$push_log"; then
		die "catalog branch $BRANCH: the job token may not push: the job needs contents: write, which the calling workflow must grant ($checklist, \"Workflow permissions\")"
	fi
	[ "$i" -lt "$attempts" ] || die "catalog branch $BRANCH: push refused $attempts times; nothing was overwritten"
	echo "catalog branch $BRANCH: push refused (attempt $i of $attempts); fetching it" >&2
	sleep $((i * 2))
	if ! catalog_git -C "$DIR" fetch --quiet "$remote" "refs/heads/$BRANCH"; then
		continue
	fi
	if git -C "$DIR" merge-base --is-ancestor FETCH_HEAD HEAD; then
		continue
	fi
	if ! git -C "$DIR" "${ident[@]}" rebase --quiet FETCH_HEAD >&2; then
		git -C "$DIR" rebase --abort || true
		die "catalog branch $BRANCH moved to $(git -C "$DIR" rev-parse --short FETCH_HEAD) with changes to the same files while this run wrote its catalog: nothing was overwritten; re-run the workflow"
	fi
done
output commit "$(git -C "$DIR" rev-parse HEAD)"
