#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Write a runc that runs as root, for the smoke run: runc itself as root, or
# through passwordless sudo (a hosted runner's user has it).
# Env: OUT (the wrapper's path). Output: path.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cat >"$OUT" <<'SH'
#!/bin/sh
if [ "$(id -u)" = 0 ]; then exec runc "$@"; fi
exec sudo -n runc "$@"
SH
chmod 0755 "$OUT"
output path "$OUT"
