# shellcheck shell=bash
# Helpers shared by the publish workflow's steps (sourced, not run).
# Every step writes its results as step outputs to $GITHUB_OUTPUT, the way
# .github/workflows/publish.yml reads them; scripts/rehearse-publish.sh runs
# the same steps with $GITHUB_OUTPUT pointing at a file.

: "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"

# output NAME VALUE: one step output; a value with newlines is written with a
# random delimiter that cannot occur in it.
output() {
	case "$2" in
	*"
"*)
		delim="CLEARCUTT_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
		printf '%s<<%s\n%s\n%s\n' "$1" "$delim" "$2" "$delim" >>"$GITHUB_OUTPUT"
		;;
	*) printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT" ;;
	esac
}

die() {
	echo "::error::$*" >&2
	exit 1
}

# catalog_remote: the fleet repository's git URL (REMOTE, or
# $SERVER/$REPOSITORY.git on GitHub).
catalog_remote() {
	printf '%s\n' "${REMOTE:-${SERVER:-https://github.com}/${REPOSITORY:?REPOSITORY or REMOTE is required}.git}"
}

# catalog_remote_name: the fleet repository as a person names it (the
# token never appears: it travels in a header).
catalog_remote_name() {
	printf '%s\n' "${REPOSITORY:-${REMOTE:-}}"
}

# catalog_git ARGS...: git with GH_TOKEN sent as an HTTP header, never
# written into a clone's config.
catalog_git() {
	if [ -n "${GH_TOKEN:-}" ]; then
		git -c "http.extraheader=AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GH_TOKEN" | base64 -w0)" "$@"
	else
		git "$@"
	fi
}
