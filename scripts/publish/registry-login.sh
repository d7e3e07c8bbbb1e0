#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Give clearcutt's registry client (which reads the Docker config file) the
# credentials for the registry of REPOSITORY. The entry is written to
# ${DOCKER_CONFIG:-~/.docker}/config.json directly, readable by this user
# only, so no Docker engine or CLI is needed on the runner.
# Env: REPOSITORY, REGISTRY_USERNAME, REGISTRY_PASSWORD.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -n "${REGISTRY_PASSWORD:-}" ] || die "no registry password (secret registry-password or the job token)"
[ -n "${REGISTRY_USERNAME:-}" ] || die "no registry username (input registry-username or the actor)"
registry=${REPOSITORY%%/*}
case "$registry" in
"" | *[!A-Za-z0-9.:-]*) die "'$REPOSITORY': no registry host in it" ;;
esac
dir=${DOCKER_CONFIG:-$HOME/.docker}
mkdir -p "$dir"
chmod 0700 "$dir"
config=$dir/config.json
[ -s "$config" ] || echo '{}' >"$config"
tmp=$(mktemp "$dir/config.json.XXXXXX")
auth=$(printf '%s:%s' "$REGISTRY_USERNAME" "$REGISTRY_PASSWORD" | base64 -w0)
jq --arg registry "$registry" --arg auth "$auth" '.auths[$registry] = {auth: $auth}' "$config" >"$tmp"
chmod 0600 "$tmp"
mv "$tmp" "$config"
echo "credentials for $registry written to $config" >&2
