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
