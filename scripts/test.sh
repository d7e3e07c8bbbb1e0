#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as root: installs what the
# tests drive (Nix, runc, Debian's docker-registry, cosign, syft, grype, ...),
# stages the offline Nix fixtures, then runs vet and every Go test with real
# tools required — a missing tool fails the run instead of skipping tests.
#
# Usage: scripts/test.sh [go test flags/packages]   (default: ./...)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/prereqs.sh
clearcutt_need_root
clearcutt_install_test_prereqs
# The site tests drive a real headless browser; the stripped-names test
# compiles C.
clearcutt_install_packages chromium gcc libc6-dev
clearcutt_nix_env

clearcutt_step "staging the offline Nix fixtures (scripts/nix-fixtures.sh)" scripts/nix-fixtures.sh

echo "==> gofmt, go vet"
unformatted=$(find . -name '*.go' -not -path './out/*' -not -path './nix/fixtures/vendor/*' -print0 | xargs -0 gofmt -l)
if [ -n "$unformatted" ]; then
  printf 'gofmt would change:\n%s\n' "$unformatted" >&2
  exit 1
fi
shellcheck -x scripts/*.sh scripts/lib/*.sh scripts/publish/*.sh .ci/run
clearcutt_step "go vet (compiles every package: minutes when the build cache is cold)" go vet ./...

gobin="$(go env GOPATH)/bin"
clearcutt_step "installing cosign, syft, grype, slsa-verifier for the interoperability tests" scripts/install-tools.sh "$gobin"
export PATH="$gobin:$PATH"

echo "==> go test"
export CLEARCUTT_REQUIRE_TOOLS=1
if [ $# -eq 0 ]; then set -- ./...; fi
go test -count=1 -timeout 40m "$@"
echo "scripts/test.sh: done in ${SECONDS} s"
