#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Check, at the start of a job, for every tool the job needs, and fail with
# one message naming the runner label and everything missing: hosted images
# differ between labels (the arm64 ones lack some of what the x86_64 ones
# carry), and a job that stops half way for want of a tool wastes the run.
# Env: TOOLS (space-separated commands; "root:NAME" means NAME must run as
# root through passwordless sudo), RUNNER_LABEL.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
missing=()
for tool in $TOOLS; do
	case "$tool" in
	root:*)
		name=${tool#root:}
		if [ "$(id -u)" = 0 ]; then
			command -v "$name" >/dev/null 2>&1 || missing+=("$name")
		elif ! sudo -n sh -c 'command -v "$1"' sh "$name" >/dev/null 2>&1; then
			missing+=("$name (as root, through passwordless sudo)")
		fi
		;;
	*) command -v "$tool" >/dev/null 2>&1 || missing+=("$tool") ;;
	esac
done
if [ ${#missing[@]} -gt 0 ]; then
	die "runner '$RUNNER_LABEL' lacks $(printf '%s, ' "${missing[@]}" | sed 's/, $//'): install it in the job or choose a runner image that has it"
fi
echo "runner '$RUNNER_LABEL' has: $TOOLS" >&2
