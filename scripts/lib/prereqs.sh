# shellcheck shell=bash
# Sourced by scripts/demo.sh and scripts/test.sh: installs what ClearCutt
# drives on a fresh Debian machine and sets up the offline Nix configuration.

clearcutt_need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "this script installs Debian packages and runs Nix and runc as root; run it as root" >&2
    exit 2
  fi
}

# clearcutt_install_packages PACKAGE... installs the Debian packages given
# that are missing.
clearcutt_install_packages() {
  local want=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || want+=("$pkg")
  done
  if [ ${#want[@]} -gt 0 ]; then
    echo "==> installing ${want[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
  fi
}

# clearcutt_install_prereqs installs the missing Debian packages the main
# job drives (nix-bin, runc, patchelf, git, curl, and binutils for both
# architectures, which stage the fixtures) and checks Go.
clearcutt_install_prereqs() {
  clearcutt_install_packages nix-bin runc patchelf xz-utils ca-certificates git curl \
    binutils binutils-aarch64-linux-gnu
  clearcutt_need_go
}

# clearcutt_install_test_prereqs adds what the tests run besides: Debian's
# docker-registry, static busybox, shellcheck and jq.
clearcutt_install_test_prereqs() {
  clearcutt_install_prereqs
  clearcutt_install_packages docker-registry busybox-static shellcheck jq
}

# clearcutt_need_go puts Go on PATH (a go.dev install in /usr/local/go) or
# says where to get it.
clearcutt_need_go() {
  if ! command -v go >/dev/null 2>&1; then
    if [ -x /usr/local/go/bin/go ]; then
      export PATH="/usr/local/go/bin:$PATH"
    else
      echo "Go 1.26 or newer is required (https://go.dev/dl/, or apt-get install golang-go from backports)" >&2
      exit 2
    fi
  fi
}

# clearcutt_nix_env configures Nix for offline, daemonless builds against
# the offline package set: NIX_CONFIG is nix/fixtures/nix.conf, the one copy
# of those settings (the tests read the same file). What the host needs on
# top (a fresh machine has no nixbld group) the clearcutt CLI adds itself.
clearcutt_nix_env() {
  local conf
  conf="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/nix/fixtures/nix.conf"
  NIX_CONFIG="$(cat "$conf")"
  export NIX_CONFIG
  export NIX_REMOTE="${NIX_REMOTE:-local}"
}

# clearcutt_wait PID WHAT START waits for the background job PID, says
# every 30 s that WHAT is still running (a cold Go build prints nothing for
# minutes), counting from START ($SECONDS when it began), and returns the
# job's exit status.
clearcutt_wait() {
  local pid=$1 what=$2 start=$3 rc=0 n=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    n=$((n + 1))
    if [ $((n % 30)) -eq 0 ] && kill -0 "$pid" 2>/dev/null; then
      echo "    ... $what: still running after $((SECONDS - start)) s"
    fi
  done
  wait "$pid" || rc=$?
  return "$rc"
}

# clearcutt_step WHAT COMMAND... runs COMMAND under the heading "==> WHAT"
# and ends with how long it took. It returns COMMAND's exit status; an
# interrupt stops COMMAND too.
clearcutt_step() {
  local what=$1 start=$SECONDS pid rc=0
  shift
  echo "==> $what"
  "$@" &
  pid=$!
  trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 130' INT TERM
  clearcutt_wait "$pid" "$what" "$start" || rc=$?
  trap - INT TERM
  if [ "$rc" -eq 0 ]; then
    echo "    $what: done in $((SECONDS - start)) s"
  else
    echo "    $what: failed after $((SECONDS - start)) s (exit $rc)" >&2
  fi
  return "$rc"
}

# clearcutt_start NAME WHAT COMMAND... starts COMMAND in the background, its
# output going to out/logs/NAME.log, so that the set-up after it runs
# meanwhile; clearcutt_finish NAME waits for it. A script that exits before
# then stops it: through an EXIT trap, which holds one job, so one such
# command runs at a time.
clearcutt_start() {
  local name=$1 what=$2 v=${1//[^A-Za-z0-9_]/_}
  shift 2
  mkdir -p out/logs
  echo "==> $what (in the background: out/logs/$name.log)"
  "$@" >"out/logs/$name.log" 2>&1 &
  eval "clearcutt_bg_pid_$v=\$! clearcutt_bg_start_$v=\$SECONDS"
  eval "clearcutt_bg_what_$v=\$what"
  # shellcheck disable=SC2064 # the pid is meant to be expanded now
  trap "kill $! 2>/dev/null || true" EXIT
}

# clearcutt_finish NAME waits for the command clearcutt_start NAME started
# and ends with how long it took since it started; on failure it shows the
# end of its log. It returns the command's exit status.
clearcutt_finish() {
  local name=$1 v=${1//[^A-Za-z0-9_]/_} pid start what rc=0
  eval "pid=\$clearcutt_bg_pid_$v start=\$clearcutt_bg_start_$v what=\$clearcutt_bg_what_$v"
  echo "==> $what: waiting for it"
  clearcutt_wait "$pid" "$what" "$start" || rc=$?
  trap - EXIT
  if [ "$rc" -eq 0 ]; then
    echo "    $what: done in $((SECONDS - start)) s"
  else
    echo "    $what: failed after $((SECONDS - start)) s (exit $rc); the end of out/logs/$name.log:" >&2
    tail -n 40 "out/logs/$name.log" >&2
  fi
  return "$rc"
}
