#!/usr/bin/env bash
# Benchmarks, offline, as root on Debian 12: builds the python distroless
# amd64 closure from the offline Nix fixtures (if it is not built yet), runs
# the Go benchmarks of internal/oci on it and writes the figures, with ratios
# computed from this one run, to docs/benchmarks.md.
#
#   assemble throughput   cold Assemble vs `tar -c | gzip -6` of the same paths
#   unchanged rebuild     cold Assemble vs Assemble over a filled layer cache
#   unchanged publish     blobs and bytes uploaded by a second publish (0)
#   verify                every channel of one image in one process vs the
#                         equivalent cosign invocations (scripts/install-tools.sh
#                         installs cosign)
#   rescan                matching a synthetic 50-image fleet vs a 1-image
#                         fleet with real grype (and vs 50 per-image scans)
#   distroless scrub      the python distroless cell built cold (runtime in
#                         the store, the cell's scrubbed copy, root and graph
#                         not) vs the dev cell, which is not scrubbed, and warm
#
# The section "On a fresh machine" of docs/benchmarks.md is kept as it is:
# its figures come from ../shared/tools/fresh-debian runs, not from here.
#
# Usage: scripts/bench.sh
#   CLEARCUTT_BENCH_CLOSURE=out/closures/X.json   benchmark another closure
#   BENCH_COUNT=5 BENCH_TIME=3x                   go test -count / -benchtime
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
. scripts/lib/prereqs.sh
clearcutt_need_root
clearcutt_install_prereqs
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
md=$(mktemp docs/.benchmarks.md.XXXXXX)
trap 'rm -f "$raw" "$md"' EXIT
CLEARCUTT_BENCH_CLOSURE=$closure go test -run '^$' -bench . -benchtime="$benchtime" -count="$count" ./internal/oci | tee "$raw"
grep -q '^ok' "$raw" || { echo "bench: go test failed" >&2; exit 1; }

echo "==> installing cosign (scripts/install-tools.sh)"
tools=${CLEARCUTT_TOOLS_DIR:-$(go env GOPATH)/bin}
scripts/install-tools.sh "$tools"
echo "==> go test -bench (count $count, benchtime $benchtime) ./internal/verify"
PATH=$tools:$PATH go test -run '^$' -bench 'VerifyAllChannels|CosignEquivalent' -benchtime="$benchtime" -count="$count" ./internal/verify | tee -a "$raw"
[ "$(grep -c '^ok' "$raw")" -ge 2 ] || { echo "bench: go test ./internal/verify failed" >&2; exit 1; }
echo "==> go test -bench (count $count, benchtime $benchtime) ./internal/rescan"
go test -run '^$' -bench 'Rescan' -benchtime="$benchtime" -count="$count" ./internal/rescan | tee -a "$raw"
[ "$(grep -c '^ok' "$raw")" -ge 3 ] || { echo "bench: go test ./internal/rescan failed" >&2; exit 1; }
echo "==> go test -bench (count $count, benchtime $benchtime) ./internal/closure (nix builds)"
CLEARCUTT_REQUIRE_TOOLS=1 go test -run '^$' -bench 'PythonCell' -benchtime="$benchtime" -count="$count" -timeout 30m ./internal/closure | tee -a "$raw"
[ "$(grep -c '^ok' "$raw")" -ge 4 ] || { echo "bench: go test ./internal/closure failed" >&2; exit 1; }

# means prints "<benchmark> <unit> <mean>" for every metric of every
# benchmark, averaged over the -count runs.
means() {
  awk '/^Benchmark/ {
         name = $1; sub(/-[0-9]+$/, "", name)
         for (i = 3; i < NF; i += 2) { k = name " " $(i+1); sum[k] += $i; n[k]++ }
       }
       END { for (k in sum) printf "%s %.12g\n", k, sum[k] / n[k] }' "$raw"
}
metric() { means | awk -v b="$1" -v u="$2" '$1 == b && $2 == u { print $3; f = 1 } END { if (!f) print "NA" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.2f", a / b }'; }

cold_mbs=$(metric BenchmarkAssembleCold MB/s)
tar_mbs=$(metric BenchmarkTarGzipBaseline MB/s)
cold_ns=$(metric BenchmarkAssembleCold ns/op)
warm_ns=$(metric BenchmarkAssembleWarm ns/op)
tar_ns=$(metric BenchmarkTarGzipBaseline ns/op)
pubc_ns=$(metric BenchmarkPublishCold ns/op)
pubu_ns=$(metric BenchmarkPublishUnchanged ns/op)
pubc_blobs=$(metric BenchmarkPublishCold blobs-uploaded/op)
pubc_bytes=$(metric BenchmarkPublishCold bytes-uploaded/op)
pubu_blobs=$(metric BenchmarkPublishUnchanged blobs-uploaded/op)
pubu_skipped=$(metric BenchmarkPublishUnchanged blobs-skipped/op)
pubu_bytes=$(metric BenchmarkPublishUnchanged bytes-uploaded/op)
ver_ns=$(metric BenchmarkVerifyAllChannels ns/op)
cos_ns=$(metric BenchmarkCosignEquivalent ns/op)
cos_inv=$(metric BenchmarkCosignEquivalent invocations/op)
resc1_ns=$(metric BenchmarkRescan/images=1 ns/op)
resc1_pkgs=$(metric BenchmarkRescan/images=1 packages/op)
resc50_ns=$(metric BenchmarkRescan/images=50 ns/op)
resc50_pkgs=$(metric BenchmarkRescan/images=50 packages/op)
resc50_uniq=$(metric BenchmarkRescan/images=50 unique-packages/op)
resc50_runs=$(metric BenchmarkRescan/images=50 matcher-runs/op)
resc1_runs=$(metric BenchmarkRescan/images=1 matcher-runs/op)
per50_ns=$(metric BenchmarkRescan/images=50/per-image ns/op)
cellc_ns=$(metric BenchmarkPythonCell/distroless/cold ns/op)
celld_ns=$(metric BenchmarkPythonCell/dev/cold ns/op)
cellw_ns=$(metric BenchmarkPythonCell/distroless/warm ns/op)
cosign_version=$(go version -m "$tools/cosign" | awk '$1 == "mod" { print $3 }')
f1() { awk -v n="$1" 'BEGIN { if (n == "NA") print "NA"; else printf "%.1f", n }'; }
ms() { awk -v n="$1" 'BEGIN { if (n == "NA") print "NA"; else printf "%.1f ms", n / 1e6 }'; }
f0() { awk -v n="$1" 'BEGIN { if (n == "NA") print "NA"; else printf "%.0f", n }'; }
sec() { awk -v n="$1" 'BEGIN { if (n == "NA") print "NA"; else printf "%.2f s", n / 1e9 }'; }
# The fresh-machine section, kept from the current file.
fresh=$(awk '/^## On a fresh machine/ { on = 1 } on && /^## / && !/^## On a fresh machine/ { on = 0 } on' docs/benchmarks.md 2>/dev/null || true)

benchshared=$(sed -n 's/^\tbenchShared *= *\([0-9]*\)$/\1/p' internal/rescan/bench_test.go)
benchown=$(sed -n 's/^\tbenchPerImage *= *\([0-9]*\)$/\1/p' internal/rescan/bench_test.go)
benchpkgs=$((benchshared + benchown))
closure_size=$(grep -o '"closureSize": *[0-9]*' "$closure" | grep -o '[0-9]*$')
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

{
  cat <<EOF
# Benchmarks

Written by \`scripts/bench.sh\` on $(date -u +%Y-%m-%dT%H:%MZ). Every ratio
compares two benchmarks of the same \`go test\` run, on the same machine and
the same closure; absolute times depend on the machine, the ratios much less.

| machine | |
|---|---|
| CPU | ${cpu:-unknown} × $(nproc) (nproc) |
| memory | $mem |
| kernel | $(uname -sr) |
| Go | $(go env GOVERSION) |
| closure | \`${closure#"$repo"/}\` ($(awk -v n="$closure_size" 'BEGIN { printf "%.1f MB", n / 1e6 }') NAR size, $(grep -c '"narHash"' "$closure") store paths) |
| runs | \`-benchtime=$benchtime -count=$count\`; figures are means over the $count runs |

## Ratios

| figure | value | from |
|---|---|---|
| cold assemble throughput ÷ \`tar -c \| gzip -6\` throughput | **$(ratio "$cold_mbs" "$tar_mbs")×** | $(f1 "$cold_mbs") MB/s vs $(f1 "$tar_mbs") MB/s ($(ms "$cold_ns") vs $(ms "$tar_ns")) |
| unchanged rebuild speed-up (cold ÷ warm time) | **$(ratio "$cold_ns" "$warm_ns")×** | $(ms "$cold_ns") vs $(ms "$warm_ns") |
| second publish of an unchanged image: blobs uploaded | **$pubu_blobs** ($pubu_skipped skipped) | first publish: $pubc_blobs blobs |
| second publish of an unchanged image: bytes uploaded | **$pubu_bytes** | first publish: $pubc_bytes bytes |
| second publish speed-up (cold ÷ unchanged time) | $(ratio "$pubc_ns" "$pubu_ns")× | $(ms "$pubc_ns") vs $(ms "$pubu_ns") |
| verify every channel of one image: cosign time ÷ \`clearcutt verify\` time | **$(ratio "$cos_ns" "$ver_ns")×** | $(ms "$cos_ns") for $cos_inv cosign $cosign_version invocations vs $(ms "$ver_ns") in one process |
| rescan matching: 50-image fleet time ÷ 1-image fleet time | **$(ratio "$resc50_ns" "$resc1_ns")×** | $(ms "$resc50_ns") vs $(ms "$resc1_ns"); $(f0 "$resc50_pkgs") packages ($(f0 "$resc50_uniq") distinct, $(f0 "$resc50_runs") grype matcher runs) vs $(f0 "$resc1_pkgs") ($(f0 "$resc1_runs") runs) |
| rescan matching of the 50 images: per-image scans ÷ one deduplicated batch | **$(ratio "$per50_ns" "$resc50_ns")×** | $(ms "$per50_ns") vs $(ms "$resc50_ns") |
| python distroless cell, cold: with the scrub ÷ the unscrubbed dev cell | **$(ratio "$cellc_ns" "$celld_ns")×** | $(sec "$cellc_ns") vs $(sec "$celld_ns") |
| python distroless cell: cold ÷ warm | $(ratio "$cellc_ns" "$cellw_ns")× | $(sec "$cellc_ns") vs $(sec "$cellw_ns") (warm: evaluation and a store query, nothing built) |

- **Cold assemble** (\`BenchmarkAssembleCold\`) is \`oci.Assemble\` into an
  empty layer cache: every layer of the closure is written as a
  reproducible tar, gzip-compressed at level 6, hashed (compressed and
  uncompressed) and stored with fsync. MB/s is the closure's NAR size per
  second. The baseline (\`BenchmarkTarGzipBaseline\`) is GNU
  \`tar -c --sort=name\` of the same store paths piped into \`gzip -6\`,
  discarding the output. gzip dominates that pipeline (tar barely uses a
  second core), so both sides are essentially one core compressing at level
  6: zlib in the baseline, Go's compress/gzip in Assemble, which also pays
  for two SHA-256 streams and the cache writes.
- **Unchanged rebuild** (\`BenchmarkAssembleWarm\`) assembles the same closure
  again over the filled cache: every layer must be a cache hit (the benchmark
  fails otherwise) and the index digest must not change. Its cost is reading
  and re-hashing the cached blobs against their sidecars.
- **Unchanged publish** (\`BenchmarkPublishUnchanged\`) publishes the assembled
  index by digest (and a tag) to go-containerregistry's in-process registry
  that already holds it; the registry answers every blob HEAD, so nothing
  should be uploaded. \`BenchmarkPublishCold\` publishes into an empty registry
  each time, for contrast.
- **Verify** (\`BenchmarkVerifyAllChannels\`, \`internal/verify\`) runs
  \`verify.Run\` — the code path of \`clearcutt verify --key\` — on a
  two-platform index in go-containerregistry's in-process registry (no
  referrers API, so bundles are found through the \`sha256-<hex>\` tag
  fallback), signed on every channel with a local key by \`internal/attest\`:
  the index and platform signatures, then SBOM, tests, vulnerabilities and
  VEX per platform, all fetched and verified on every iteration. The
  baseline (\`BenchmarkCosignEquivalent\`) performs the same checks the way
  docs/audit-guide.md shows them with cosign: \`cosign verify\` for the index
  and each platform image and one \`cosign verify-attestation --type …\` per
  predicate type per platform, each a separate process as an auditor's
  script runs them. Most of the difference is eleven process starts and
  eleven independent registry walks (cosign v3 fetches every bundle of a
  digest for each predicate type it checks).
- **Rescan** (\`BenchmarkRescan\`, \`internal/rescan\`) measures the part of
  \`clearcutt rescan\` that grows with the fleet: matching every platform's
  SBOM against the database with real grype (the test advisories, the
  fleet's VEX and exceptions) and attributing the findings to each SBOM.
  Verification, signing and the registry are left out; they cost the same
  per platform whatever the fleet shares. The fleet is synthetic: SPDX 2.3
  documents of $benchpkgs packages, $benchshared of them shared by every
  image (the fixture's vulnerable libraries, interpreter and filler store
  paths) and $benchown of each image's own. \`images=1\` and \`images=50\`
  run \`scan.Batch\`, which runs grype's matchers once per distinct package;
  what still grows with the images is reading each SBOM (grype's SPDX
  decoder) and assembling its result. \`images=50/per-image\` scans the same
  50 documents one by one with \`scan.Run\`, as a rescan without
  deduplication would. Every iteration starts from an empty batch.
- **Distroless scrub** (\`BenchmarkPythonCell\`, \`internal/closure\`) is
  \`closure.Build\` of the python amd64 cell against the offline package
  set (ADR 0011). *Cold*: the runtime and its libraries are in the store, as
  a binary cache gives them to a runner, and the cell's own outputs are
  deleted before each iteration (outside the timer): the distroless cell
  builds the scrubbed copy of python3 (a copy of the tree, the reference
  rewrite, the report), the root and the graph; the dev cell, the baseline,
  carries python3 unscrubbed and builds its root (with bash, coreutils and
  the dev tools' links) and graph. *Warm*: everything is built; what is left
  is staging the flake, evaluating it and the store query. Each iteration
  is one \`nix build\` process, evaluation included. The alternative the ADR
  rejects, rebuilding CPython with the shell references patched out, cannot
  be measured here (no compiler in the offline set); nixpkgs' CPython takes
  tens of minutes per architecture on a CI runner.

Reproduce: \`scripts/bench.sh\` (as root; about three minutes once the closure is
built). Another closure: \`CLEARCUTT_BENCH_CLOSURE=out/closures/<image>-<arch>.json scripts/bench.sh\`.
Directly: \`CLEARCUTT_BENCH_CLOSURE=\$PWD/out/closures/python-distroless-amd64.json go test -run '^\$' -bench . ./internal/oci\`.
Without the variable the benchmarks skip. The verify figures:
\`go test -run '^\$' -bench 'VerifyAllChannels|CosignEquivalent' ./internal/verify\` (cosign on PATH).
The rescan figures: \`go test -run '^\$' -bench Rescan -benchtime=3x ./internal/rescan\`.
The scrub figures: \`go test -run '^\$' -bench PythonCell -benchtime=3x ./internal/closure\` (as root).

${fresh}

## Raw output

\`\`\`
EOF
  grep -E '^(goos|goarch|pkg|cpu|Benchmark)' "$raw"
  echo '```'
} >"$md"
chmod 0644 "$md"
mv "$md" docs/benchmarks.md
echo "==> wrote docs/benchmarks.md"
