#!/usr/bin/env bash
# Installs the third-party CLIs the interop tests, the admission tests, the
# workflow rehearsal and the verify benchmark drive — cosign, syft, grype,
# slsa-verifier, the Kyverno CLI and act — with `go install` (or `go build`)
# at pinned versions.
# A tool already present at its pinned version is left alone, so a warm run
# only reads build-info headers (and `kyverno version`).
#
# Usage: scripts/install-tools.sh [tools dir]
#   tools dir   where the binaries go (default: $(go env GOPATH)/bin);
#               put it on PATH before running the tests.
# syft's version follows go.mod, so the CLI reads the SBOMs with the same
# code the clearcutt binary writes them with.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-$(go env GOPATH)/bin}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

syft_version=$(go list -m -f '{{.Version}}' github.com/anchore/syft)
grype_version=$(go list -m -f '{{.Version}}' github.com/anchore/grype)

# installed NAME MODULE VERSION: whether NAME in the tools dir was built
# from MODULE at VERSION (as the main module or a dependency).
installed() {
  [ -x "$dir/$1" ] || return 1
  [ "$(go version -m "$dir/$1" 2>/dev/null | awk -v m="$2" '($1 == "mod" || $1 == "dep") && $2 == m { print $3 }')" = "$3" ]
}

# tool NAME PACKAGE MODULE VERSION
tool() {
  local name=$1 pkg=$2 mod=$3 version=$4
  if installed "$name" "$mod" "$version"; then
    echo "==> $name $version: already in $dir"
    return
  fi
  echo "==> go install $pkg@$version into $dir"
  # Outside the module, so clearcutt's go.mod does not constrain the tool's
  # dependency graph.
  (cd / && GOBIN="$dir" GOFLAGS='' go install "$pkg@$version")
}

# tool_in_module NAME PACKAGE MODULE VERSION: like tool, for modules whose
# `go install pkg@version` fails here: the module proxy refuses the version
# list that go install reads for deprecation notices (403), while a scratch
# module's `go get` of the exact version works.
tool_in_module() {
  local name=$1 pkg=$2 mod=$3 version=$4 scratch
  if installed "$name" "$mod" "$version"; then
    echo "==> $name $version: already in $dir"
    return
  fi
  echo "==> go install $pkg ($mod $version, scratch module) into $dir"
  scratch=$(mktemp -d)
  (
    cd "$scratch"
    export GOFLAGS=
    go mod init clearcutt-tools >/dev/null 2>&1
    go get "$pkg@$version"
    GOBIN="$dir" go install "$pkg"
  ) || { rm -rf "$scratch"; return 1; }
  rm -rf "$scratch"
}

# tool_in_module_dir NAME PACKAGE MODULE VERSION: for modules whose go.mod
# has replace directives, which `go install pkg@version` refuses: build the
# package inside the module as the proxy serves it (read-only in the module
# cache), with the version stamped where `NAME version` prints it.
tool_in_module_dir() {
  local name=$1 pkg=$2 mod=$3 version=$4 src have=
  if [ -x "$dir/$name" ]; then
    have=$("$dir/$name" version 2>/dev/null | sed -n 's/^Version: //p') || have=
  fi
  if [ "$have" = "$version" ]; then
    echo "==> $name $version: already in $dir"
    return
  fi
  echo "==> go build $pkg ($mod $version, inside the module) into $dir"
  src=$(cd / && GOFLAGS='' go mod download -json "$mod@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "go mod download $mod@$version gave no directory" >&2; return 1; }
  (cd "$src" && GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X $mod/pkg/version.BuildVersion=$version" -o "$dir/$name" "./${pkg#"$mod"/}")
}

tool cosign github.com/sigstore/cosign/v3/cmd/cosign github.com/sigstore/cosign/v3 v3.1.3
tool syft github.com/anchore/syft/cmd/syft github.com/anchore/syft "$syft_version"
tool grype github.com/anchore/grype/cmd/grype github.com/anchore/grype "$grype_version"
tool_in_module slsa-verifier github.com/slsa-framework/slsa-verifier/v2/cli/slsa-verifier github.com/slsa-framework/slsa-verifier/v2 v2.7.1
# The Kyverno CLI evaluates the generated admission policies
# (internal/admission); about 5.5 minutes to build cold on 2 cores.
tool_in_module_dir kyverno github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno github.com/kyverno/kyverno v1.19.1
# nektos/act runs the GitHub workflows offline for scripts/rehearse-publish.sh
# (self-hosted mode, no Docker engine); about 4 minutes to build cold.
tool act github.com/nektos/act github.com/nektos/act v0.2.89
