#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Log docker (whose config clearcutt's registry client reads) in to the
# registry of REPOSITORY. Env: REPOSITORY, REGISTRY_USERNAME, REGISTRY_PASSWORD.
set -euo pipefail
[ -n "${REGISTRY_PASSWORD:-}" ] || { echo "::error::no registry password (secret registry-password or the job token)" >&2; exit 1; }
printf '%s' "$REGISTRY_PASSWORD" | docker login "${REPOSITORY%%/*}" --username "$REGISTRY_USERNAME" --password-stdin
