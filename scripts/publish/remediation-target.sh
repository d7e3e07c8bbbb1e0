#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Pick what the nightly remediation drafts: the first action of
# `clearcutt remediate plan` whose fix is in reach (already in the locked
# package set, or in the newer one). Outputs: package (empty: nothing to
# draft), strategy, summary of the plan's first actions.
# Env: CLEARCUTT (the CLI), CLEARCUTT_FLEET, CATALOG, NEWER, KEV (optional),
# NIXPKGS (optional: the package set in place of the locked nixpkgs, as for
# the offline fixtures).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
args=(-f "$CLEARCUTT_FLEET" remediate plan --catalog "$CATALOG" --newer "$NEWER" --json)
if [ -n "${KEV:-}" ]; then args+=(--kev "$KEV"); fi
if [ -n "${NIXPKGS:-}" ]; then args+=(--nixpkgs "$NIXPKGS"); fi
plan=$("$CLEARCUTT" "${args[@]}")
target=$(jq -c '[.actions[] | select(.fix == "pinned" or .fix == "newer")][0] // empty' <<<"$plan")
if [ -z "$target" ]; then
	echo "no fixable finding is in reach of the locked or the newer package set" >&2
	output package ""
	exit 0
fi
package=$(jq -r .package <<<"$target")
# A fix already in the locked set needs only a rebuild: the lock strategy
# then re-locks to the same set; one only in the newer set is taken by
# locking to it.
echo "drafting $package: $(jq -r .why <<<"$target")" >&2
output package "$package"
output strategy lock
