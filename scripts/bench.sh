#!/usr/bin/env bash
# Benchmarks, offline, as root on Debian 12: builds the python distroless
# amd64 closure from the offline Nix fixtures (if it is not built yet), runs
# the Go benchmarks of internal/oci on it and those of internal/verify,
# internal/rescan and internal/closure, and writes the figures, with ratios
# computed from this one run, to docs/benchmarks.md
# (internal/benchreport/cmd/benchreport reads the go test output).
#
#   assemble throughput   cold Assemble vs `tar -c | gzip -6` of the same paths
#   unchanged rebuild     cold Assemble vs Assemble over a filled layer cache
#   unchanged publish     blobs and bytes uploaded by a second publish (0)
#   verify                every channel of one image in one process vs the
#                         equivalent cosign invocations (scripts/install-tools.sh
#                         installs cosign)
#   rescan                matching a synthetic 50-image fleet vs a 1-image
#                         fleet with real grype (and vs 50 per-image scans);
#                         500 platform images rescanned end to end (verify,
#                         match, keyless signing, attach): signatures/s, peak heap
#   distroless scrub      the python distroless cell built cold (runtime in
#                         the store, the cell's scrubbed copy, root and graph
#                         not) vs the dev cell, which is not scrubbed, and warm
#   pipeline              `clearcutt pipeline` on the example fleet: first run
#                         (empty work directory), unchanged re-run, and a run
#                         with one package of the set changed (revision
#                         node-docs): wall times and what was done again;
#                         and the first run one image at a time (--jobs 1)
#
# The section "On a fresh machine" of docs/benchmarks.md is kept as it is:
# its figures come from ../shared/tools/fresh-debian runs, and those of its
# subsection "Cold build of the CLI" from cold `go build` runs, not from here.
#
# Usage: scripts/bench.sh
#   CLEARCUTT_BENCH_CLOSURE=out/closures/X.json   benchmark another closure
#   BENCH_COUNT=5 BENCH_TIME=3x                   go test -count / -benchtime
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
. scripts/lib/prereqs.sh
clearcutt_need_root
clearcutt_install_test_prereqs
clearcutt_nix_env

count=${BENCH_COUNT:-3}
benchtime=${BENCH_TIME:-3x}
closure=${CLEARCUTT_BENCH_CLOSURE:-out/closures/python-distroless-amd64.json}
case $closure in /*) ;; *) closure=$repo/$closure ;; esac

# store_paths_present reports whether the manifest exists and every store
# path it lists is in the Nix store (a garbage collection removes them).
store_paths_present() {
  [ -f "$1" ] || return 1
  local p
  for p in $(grep -o '"/nix/store/[^"]*"' "$1" | tr -d '"' | sort -u); do
    [ -e "$p" ] || return 1
  done
}

if ! store_paths_present "$closure"; then
  if [ -n "${CLEARCUTT_BENCH_CLOSURE:-}" ]; then
    echo "bench: $closure is missing or names store paths that are not in /nix/store" >&2
    exit 1
  fi
  echo "==> staging the offline Nix fixtures (scripts/nix-fixtures.sh)"
  scripts/nix-fixtures.sh
  echo "==> building the clearcutt CLI and the python distroless amd64 closure"
  mkdir -p out/bin
  go build -trimpath -o out/bin/clearcutt .
  out/bin/clearcutt build --runtime python --tier distroless --arch amd64 --nixpkgs nix/fixtures --out out/closures >/dev/null
  store_paths_present "$closure" || { echo "bench: $closure was not built" >&2; exit 1; }
fi

echo "==> go test -bench (count $count, benchtime $benchtime) on $closure"
mkdir -p docs
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
CLEARCUTT_BENCH_CLOSURE=$closure go test -run '^$' -bench . -benchtime="$benchtime" -count="$count" ./internal/oci | tee "$raw"
grep -q '^ok' "$raw" || { echo "bench: go test failed" >&2; exit 1; }

echo "==> installing cosign (scripts/install-tools.sh)"
tools=${CLEARCUTT_TOOLS_DIR:-$(go env GOPATH)/bin}
scripts/install-tools.sh "$tools"
echo "==> go test -bench (count $count, benchtime $benchtime) ./internal/verify"
PATH=$tools:$PATH go test -run '^$' -bench 'VerifyAllChannels|CosignEquivalent' -benchtime="$benchtime" -count="$count" ./internal/verify | tee -a "$raw"
[ "$(grep -c '^ok' "$raw")" -ge 2 ] || { echo "bench: go test ./internal/verify failed" >&2; exit 1; }
echo "==> go test -bench (count $count, benchtime $benchtime) ./internal/rescan"
go test -run '^$' -bench '^BenchmarkRescan$' -benchtime="$benchtime" -count="$count" ./internal/rescan | tee -a "$raw"
[ "$(grep -c '^ok' "$raw")" -ge 3 ] || { echo "bench: go test ./internal/rescan failed" >&2; exit 1; }
# One iteration rescans the whole 500-platform fleet end to end.
echo "==> go test -bench (count $count, benchtime 1x) ./internal/pipeline: a rescan of 500 platforms end to end"
go test -run '^$' -bench '^BenchmarkRescanFleet500$' -benchtime=1x -count="$count" -timeout 60m ./internal/pipeline | tee -a "$raw"
[ "$(grep -c '^ok' "$raw")" -ge 4 ] || { echo "bench: go test ./internal/pipeline (rescan fleet) failed" >&2; exit 1; }
echo "==> go test -bench (count $count, benchtime $benchtime) ./internal/closure (nix builds)"
CLEARCUTT_REQUIRE_TOOLS=1 go test -run '^$' -bench 'PythonCell' -benchtime="$benchtime" -count="$count" -timeout 30m ./internal/closure | tee -a "$raw"
[ "$(grep -c '^ok' "$raw")" -ge 5 ] || { echo "bench: go test ./internal/closure failed" >&2; exit 1; }

# The example fleet's pipeline three times in one work directory, cache
# and layout: into empty ones (as many images at once as there are CPUs,
# at least 2), again unchanged, and against a copy of the package set at
# the revision node-docs, which changes nodejs-slim only. Then the first
# run again one image at a time (--jobs 1), into empty ones of its own.
echo "==> clearcutt pipeline on the example fleet: first run, unchanged, one package changed, one image at a time"
go build -trimpath -o out/bin/clearcutt .
pw=$repo/out/bench-pipeline
rm -rf "$pw"
mkdir -p "$pw"
out/bin/clearcutt vulndb build --advisories testdata/vulndb/advisories.yaml --out "$pw/vulndb" >/dev/null
jobs=$(nproc)
[ "$jobs" -ge 2 ] || jobs=2
bench_pipeline() { # bench_pipeline RUN NIXPKGS DIR JOBS
  echo "--> $1"
  out/bin/clearcutt pipeline --json --nixpkgs "$2" --work "$pw/$3" --cache "$pw/$3/cache" --db "$pw/vulndb" \
    --to "oci:$pw/$3/oci" --jobs "$4" >"$pw/$1.json"
}
bench_pipeline first nix/fixtures work "$jobs"
bench_pipeline unchanged nix/fixtures work "$jobs"
nix/fixtures/revisions/stage.sh node-docs "$pw/nixpkgs-node-docs" >/dev/null
bench_pipeline changed "$pw/nixpkgs-node-docs" work "$jobs"
bench_pipeline serial nix/fixtures serial 1

echo "==> writing docs/benchmarks.md (internal/benchreport/cmd/benchreport)"
# shellcheck disable=SC2016 # Markdown backquotes, not a command
change='`nodejs-slim_24` (revision `node-docs`: its documentation leaves the runtime output)'
go run ./internal/benchreport/cmd/benchreport -in "$raw" -out docs/benchmarks.md \
  -closure "$closure" -cosign "$tools/cosign" -benchtime "$benchtime" -count "$count" \
  -pipeline-first "$pw/first.json" -pipeline-unchanged "$pw/unchanged.json" -pipeline-changed "$pw/changed.json" \
  -pipeline-serial "$pw/serial.json" -pipeline-change "$change"
rm -rf "$pw"
