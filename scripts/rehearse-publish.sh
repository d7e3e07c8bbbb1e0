#!/usr/bin/env bash
# Rehearse .github/workflows/publish.yml, then rescan.yml, on this machine,
# offline: the same jobs in the same order, each in its own workspace,
# running the same composite actions (through the real action.yml files,
# with internal/actionlint/cmd/runaction) and the same scripts/publish
# steps, with GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and artifacts emulated by
# files.
#
# What differs from GitHub, and why:
#   - nixpkgs is the offline fixture package set (nix/fixtures, given to
#     the build action as its nixpkgs input);
#   - the registry is a local docker-registry process (no login step);
#   - the vulnerability database is built from testdata/vulndb instead of
#     fetched;
#   - signing uses a key pair, not keyless: there is no GitHub OIDC token
#     here. Verification then uses that key;
#   - the provenance job (slsa-github-generator) cannot run off GitHub: it is
#     reported skipped, and verify reports provenance missing, not required
#     in key mode;
#   - the catalog branch is pushed to a local bare repository.
#
# Every step is recorded in $CLEARCUTT_REHEARSAL/trace.tsv (job, kind,
# name, status); the tests compare it with the workflow's own steps.
#
# Usage: scripts/rehearse-publish.sh [RUNTIME:TIER ...]   (default: every image)
# Env:   CLEARCUTT_REHEARSAL  work directory (default out/rehearsal; wiped)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. scripts/lib/prereqs.sh
clearcutt_need_root
clearcutt_install_prereqs
clearcutt_nix_env
scripts/nix-fixtures.sh >/dev/null

work=$(mkdir -p "${CLEARCUTT_REHEARSAL:-out/rehearsal}" && cd "${CLEARCUTT_REHEARSAL:-out/rehearsal}" && pwd)
find "$work" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
mkdir -p "$work"/{bin,artifacts,summaries,outputs,jobs}
trace=$work/trace.tsv
: >"$trace"
only=("$@")
# The commit the run is about, fixed for the whole run as github.sha is.
sha=$(git rev-parse HEAD 2>/dev/null || echo 0000000000000000000000000000000000000000)

echo "==> tools"
go build -trimpath -o "$work/bin/clearcutt" .
go build -trimpath -o "$work/bin/runaction" ./internal/actionlint/cmd/runaction

echo "==> local registry"
mkdir -p "$work/registry"
registry_pid=
trap '[ -z "$registry_pid" ] || kill "$registry_pid" 2>/dev/null || true' EXIT
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 30000))
	cat >"$work/registry/config.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
EOF
	docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
	registry_pid=$!
	for _ in $(seq 100); do
		kill -0 "$registry_pid" 2>/dev/null || break
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break 2; fi
		sleep 0.1
	done
	kill "$registry_pid" 2>/dev/null || true
	registry_pid=
done
[ -n "$registry_pid" ] || { echo "rehearsal: docker-registry did not start: $(cat "$work/registry/log")" >&2; exit 1; }
echo "registry on 127.0.0.1:$port"

# The fleet repository as a job checks it out: clearcutt.yaml publishing to
# the local registry, the fleet's nix/, vex/ and exceptions.yaml.
fleet_src=$work/fleet-src
mkdir -p "$fleet_src"
sed -e "s#^  repository: ghcr.io/[^ ]*#  repository: 127.0.0.1:$port/fleet#" \
	-e "s#^  flake: nix\$#  flake: $repo/nix#" clearcutt.yaml >"$fleet_src/clearcutt.yaml"
grep -q "127.0.0.1:$port/fleet" "$fleet_src/clearcutt.yaml" || { echo "rehearsal: could not point registry.repository at the local registry" >&2; exit 1; }
ln -s "$repo/nix" "$fleet_src/nix"
[ -d vex ] && ln -s "$repo/vex" "$fleet_src/vex"
[ -f exceptions.yaml ] && ln -s "$repo/exceptions.yaml" "$fleet_src/exceptions.yaml"
git init --quiet --bare "$work/fleet.git"

# The emulated runner ----------------------------------------------------

job_dir=
job_name=
# job NAME: a fresh workspace, as a new runner has, with the fleet checked out.
job() {
	job_name=$1
	job_dir=$work/jobs/$(tr ' :/' '---' <<<"$1")
	mkdir -p "$job_dir/ws" "$job_dir/temp"
	cp -a "$fleet_src/." "$job_dir/ws/"
	echo
	echo "==> job $job_name"
}

step_env() {
	env GITHUB_ACTIONS=true CI=true \
		GITHUB_REPOSITORY=clearcutt/clearcutt GITHUB_SHA="$sha" \
		GITHUB_REF=refs/heads/main GITHUB_WORKSPACE="$job_dir/ws" RUNNER_TEMP="$job_dir/temp" \
		GITHUB_STEP_SUMMARY="$work/summaries/$(basename "$job_dir").md" XDG_CONFIG_HOME="$work/config" "$@"
}

record() { printf '%s\t%s\t%s\t%s\n' "$job_name" "$1" "$2" "$3" >>"$trace"; }

# action ID NAME [input=value ...]: run actions/NAME; its outputs land in
# $work/outputs/<job>.<id>.json.
action() {
	local id=$1 name=$2
	shift 2
	local out
	out="$work/outputs/$(basename "$job_dir").$id.json"
	echo "--> $name"
	(cd "$job_dir/ws" && step_env "$work/bin/runaction" -skip-build -outputs "$out" "$repo/actions/$name" "$@")
	record action "$name" ran
}

# script ID NAME [VAR=value ...] [-- ARG ...]: run scripts/publish/NAME.sh
# with the env and arguments given, as the workflow's run: step does.
script() {
	local id=$1 name=$2
	shift 2
	local out vars=() args=()
	while [ $# -gt 0 ]; do
		if [ "$1" = -- ]; then
			shift
			args=("$@")
			break
		fi
		vars+=("$1")
		shift
	done
	out="$work/outputs/$(basename "$job_dir").$id"
	: >"$out"
	echo "--> $name.sh"
	(cd "$job_dir/ws" && step_env GITHUB_OUTPUT="$out" "${vars[@]}" "$repo/scripts/publish/$name.sh" "${args[@]}")
	"$work/bin/runaction" -parse-outputs "$out" >"$out.json"
	record script "$name" ran
}

skip() { record "$1" "$2" "skipped: $3"; echo "--- $2 skipped: $3"; }

out() { jq -r --arg k "$2" '.[$k]' "$work/outputs/$(basename "$job_dir").$1.json"; }
out_of() { jq -r --arg k "$3" '.[$k]' "$work/outputs/$1.$2.json"; }

# upload NAME PATH...: keep PATHs (relative to the workspace) as artifact
# NAME, rooted as actions/upload-artifact roots it: one directory by its
# contents, one file by itself, several paths by their common parent. An
# artifact of that name is replaced, as overwrite: true does.
upload() {
	local name=$1 dest=$work/artifacts/$1 parent p
	shift
	rm -rf "$dest"
	mkdir -p "$dest"
	if [ $# -eq 1 ] && [ -d "$job_dir/ws/$1" ]; then
		cp -a "$job_dir/ws/$1/." "$dest/"
		return
	fi
	parent=$(dirname "$1")
	for p in "$@"; do
		[ "$(dirname "$p")" = "$parent" ] || { echo "rehearsal: upload $name: paths with different parents" >&2; exit 1; }
		cp -a "$job_dir/ws/$p" "$dest/"
	done
}

# download_each PATTERN DEST: every artifact matching PATTERN into its own
# directory DEST/<artifact>, as download-artifact does by pattern without
# merge-multiple. DEST is relative to the workspace.
download_each() {
	local a
	mkdir -p "$job_dir/ws/$2"
	for a in "$work/artifacts"/$1; do
		[ -d "$a" ] || continue
		mkdir -p "$job_dir/ws/$2/$(basename "$a")"
		cp -a "$a/." "$job_dir/ws/$2/$(basename "$a")/"
	done
}

# download PATTERN DEST: merge every artifact matching PATTERN into DEST.
download() {
	local a found=0
	mkdir -p "$job_dir/ws/$2"
	for a in "$work/artifacts"/$1; do
		[ -d "$a" ] || continue
		cp -a "$a/." "$job_dir/ws/$2/"
		found=1
	done
	[ "$found" = 1 ] || { echo "rehearsal: no artifact matches $1" >&2; exit 1; }
}

# The jobs of publish.yml ---------------------------------------------------

job plan
step_env "$work/bin/clearcutt" -f "$job_dir/ws/clearcutt.yaml" fleet validate >/dev/null
script plan plan CLEARCUTT="$work/bin/clearcutt" CLEARCUTT_FLEET=clearcutt.yaml
legs=$(out plan legs)
images=$(out plan images)
if [ ${#only[@]} -gt 0 ]; then
	keep=$(printf '%s\n' "${only[@]}" | jq -R . | jq -sc .)
	legs=$(jq -c --argjson keep "$keep" '{include: [.include[] | select(("\(.runtime):\(.tier)") as $n | $keep | index($n))]}' <<<"$legs")
	images=$(jq -c --argjson keep "$keep" '{include: [.include[] | select(("\(.runtime):\(.tier)") as $n | $keep | index($n))]}' <<<"$images")
	[ "$(jq '.include | length' <<<"$images")" -eq ${#only[@]} ] || { echo "rehearsal: not every image of '${only[*]}' is in the fleet" >&2; exit 2; }
fi
echo "$(jq '.include | length' <<<"$legs") legs, $(jq '.include | length' <<<"$images") images"

job vulndb
(cd "$job_dir/ws" && step_env "$work/bin/clearcutt" vulndb build --advisories "$repo/testdata/vulndb/advisories.yaml" --out vulndb >/dev/null)
skip inline "vulndb fetch" "offline: the database is built from testdata/vulndb/advisories.yaml"
upload clearcutt-vulndb vulndb

while read -r leg; do
	runtime=$(jq -r .runtime <<<"$leg")
	tier=$(jq -r .tier <<<"$leg")
	arch=$(jq -r .arch <<<"$leg")
	registry=$(jq -r .registry <<<"$leg")
	job "image $runtime:$tier $arch"
	script tools need-tools TOOLS="nix jq git base64 root:runc" RUNNER_LABEL="$(jq -r .runner <<<"$leg")"
	download clearcutt-vulndb ../temp/vulndb
	action build build fleet=clearcutt.yaml runtime="$runtime" tier="$tier" arch="$arch" nixpkgs="$repo/nix/fixtures"
	action assemble assemble fleet=clearcutt.yaml runtime="$runtime" tier="$tier" arch="$arch" revision="$sha" cache="$work/layer-cache"
	reference=$(out assemble reference)
	action test test fleet=clearcutt.yaml image="$reference" runc="$(command -v runc)"
	action sbom sbom fleet=clearcutt.yaml image="$reference"
	action scan scan fleet=clearcutt.yaml image="$reference" db="$job_dir/temp/vulndb" fail-on=high
	skip script registry-login "the local registry needs no login"
	action push publish fleet=clearcutt.yaml image="$reference" to="$registry" digest-only=true
	script record record-leg RUNTIME="$runtime" TIER="$tier" ARCH="$arch" REFERENCE="$(out push reference)" LEGS=out/legs EVIDENCE=out/evidence
	upload "clearcutt-leg-$runtime-$tier-$arch" out/legs out/evidence
done < <(jq -c '.include[]' <<<"$legs")

while read -r image; do
	runtime=$(jq -r .runtime <<<"$image")
	tier=$(jq -r .tier <<<"$image")
	registry=$(jq -r .registry <<<"$image")
	arches=$(jq -r .arches <<<"$image")
	job "index $runtime:$tier"
	download_each "clearcutt-leg-$runtime-$tier-*" ../temp/legs
	script legs legs RUNTIME="$runtime" TIER="$tier" ARCHES="$arches" DIR="$job_dir/temp/legs"
	[ "$(out legs complete)" = true ] || { echo "rehearsal: $runtime:$tier has no leg for $(out legs missing)" >&2; exit 1; }
	skip script registry-login "the local registry needs no login"
	action index index fleet=clearcutt.yaml runtime="$runtime" tier="$tier" platforms="$(out legs platforms)" to="$registry" digest-only=true
	script record record-index NAME="$runtime:$tier" REFERENCE="$(out index reference)" INDEXES=out/indexes
	upload "clearcutt-index-$runtime-$tier" out/indexes
done < <(jq -c '.include[]' <<<"$images")

job collect
download "clearcutt-index-*" out/indexes
mkdir -p "$job_dir/ws/out/release"
script collect collect INDEXES=out/indexes IMAGES_FILE=out/release/images.json FAILED_FILE=out/release/failed.json EXPECT="$images"
subjects=$(out collect subjects)
upload clearcutt-images out/release

# Without an OIDC token, attest signs with the default key pair, created
# on first use under $XDG_CONFIG_HOME/clearcutt.
key=$work/config/clearcutt/signing.key
while read -r subject; do
	name=$(jq -r .name <<<"$subject")
	ref="$(jq -r .image <<<"$subject")@$(jq -r .digest <<<"$subject")"
	job "attest $name"
	download_each "clearcutt-leg-$(jq -r .runtime <<<"$subject")-$(jq -r .tier <<<"$subject")-*" ../temp/legs
	script legs legs RUNTIME="$(jq -r .runtime <<<"$subject")" TIER="$(jq -r .tier <<<"$subject")" ARCHES="$(jq -r .arches <<<"$subject")" \
		DIR="$job_dir/temp/legs" EVIDENCE=out/evidence
	skip script registry-login "the local registry needs no login"
	action attest attest fleet=clearcutt.yaml image="$ref"
done < <(jq -c '.include[]' <<<"$subjects")

job provenance
skip reusable slsa-github-generator "needs GitHub's OIDC token and runner; verify reports provenance missing (not required with a key)"

while read -r subject; do
	name=$(jq -r .name <<<"$subject")
	ref="$(jq -r .image <<<"$subject")@$(jq -r .digest <<<"$subject")"
	job "verify $name"
	skip script registry-login "the local registry needs no login"
	action verify verify fleet=clearcutt.yaml image="$ref" key="$key.pub"
	script record verified NAME="$name" REFERENCE="$ref" OUT=out/verified -- record
	upload "clearcutt-verified-$(jq -r .runtime <<<"$subject")-$(jq -r .tier <<<"$subject")" out/verified
done < <(jq -c '.include[]' <<<"$subjects")

registry=$(jq -r '.include[0].registry' <<<"$legs")
while read -r subject; do
	name=$(jq -r .name <<<"$subject")
	runtime=$(jq -r .runtime <<<"$subject")
	tier=$(jq -r .tier <<<"$subject")
	job "tags $name"
	download_each "clearcutt-verified-$runtime-$tier" ../temp/verified
	script verdict verified NAME="$name" RUNTIME="$runtime" TIER="$tier" DIGEST="$(jq -r .digest <<<"$subject")" DIR="$job_dir/temp/verified" -- check
	download_each "clearcutt-leg-$runtime-$tier-*" ../temp/legs
	script legs legs RUNTIME="$runtime" TIER="$tier" ARCHES="$(jq -r .arches <<<"$subject")" DIR="$job_dir/temp/legs"
	skip script registry-login "the local registry needs no login"
	action tags index fleet=clearcutt.yaml runtime="$runtime" tier="$tier" platforms="$(out legs platforms)" to="$registry" expect-digest="$(jq -r .digest <<<"$subject")"
done < <(jq -c '.include[]' <<<"$subjects")

job catalog
download clearcutt-images out/release
skip script registry-login "the local registry needs no login"
script checkout catalog-checkout BRANCH=clearcutt-catalog DIR=out/catalog-branch REMOTE="$work/fleet.git"
action catalog catalog fleet=clearcutt.yaml images=out/release/images.json failed=out/release/failed.json out=out/catalog-branch/catalog site=out/catalog-branch/site key="$key.pub"
script commit catalog-commit BRANCH=clearcutt-catalog DIR=out/catalog-branch REMOTE="$work/fleet.git" MESSAGE="rehearsal of $sha"

# The jobs of rescan.yml, the next night: the published fleet against the
# database again, without rebuilding --------------------------------------

job rescan/rescan
(cd "$job_dir/ws" && step_env "$work/bin/clearcutt" vulndb build --advisories "$repo/testdata/vulndb/advisories.yaml" --out ../temp/vulndb >/dev/null)
skip inline "vulndb fetch" "offline: the database is built from testdata/vulndb/advisories.yaml"
script checkout catalog-checkout BRANCH=clearcutt-catalog DIR=out/catalog-branch REMOTE="$work/fleet.git" REQUIRE=true
base=$(out checkout commit)
skip script registry-login "the local registry needs no login"
action rescan rescan fleet=clearcutt.yaml catalog=out/catalog-branch/catalog site=out/catalog-branch/site db="$job_dir/temp/vulndb" key-pub="$key.pub"
upload clearcutt-catalog out/catalog-branch/catalog out/catalog-branch/site

job rescan/catalog
script checkout catalog-checkout BRANCH=clearcutt-catalog DIR=out/catalog-branch REMOTE="$work/fleet.git" AT="$base" REQUIRE=true
download clearcutt-catalog ../temp/catalog-data
script apply catalog-apply DATA="$job_dir/temp/catalog-data" DIR=out/catalog-branch
script commit catalog-commit BRANCH=clearcutt-catalog DIR=out/catalog-branch REMOTE="$work/fleet.git" MESSAGE="rescan rehearsal of $sha"

job rescan/remediate
script tools need-tools TOOLS="nix jq git base64 root:runc" RUNNER_LABEL=ubuntu-24.04
download clearcutt-catalog ../temp/catalog-branch
(cd "$job_dir/ws" && step_env "$work/bin/clearcutt" vulndb build --advisories "$repo/testdata/vulndb/advisories.yaml" --out ../temp/vulndb >/dev/null)
skip inline "vulndb fetch" "offline: the database is built from testdata/vulndb/advisories.yaml"
"$repo/nix/fixtures/revisions/stage.sh" newer "$job_dir/temp/nixpkgs-newer" >/dev/null
script target remediation-target CLEARCUTT="$work/bin/clearcutt" CLEARCUTT_FLEET=clearcutt.yaml CATALOG="$job_dir/temp/catalog-branch/catalog" \
	NEWER="$job_dir/temp/nixpkgs-newer" NIXPKGS="$repo/nix/fixtures"
package=$(out target package)
if [ -n "$package" ]; then
	action draft remediate fleet=clearcutt.yaml catalog="$job_dir/temp/catalog-branch/catalog" package="$package" \
		strategy="$(out target strategy)" newer="$job_dir/temp/nixpkgs-newer" db="$job_dir/temp/vulndb" work="$job_dir/temp/remediate" \
		arch=amd64 runc="$(command -v runc)"
else
	skip action remediate "no fixable finding in reach (the workflow's step condition)"
fi

echo
echo "Rehearsal passed: $(jq '.include | length' <<<"$legs") legs, $(jq '.include | length' <<<"$subjects") images signed, verified and tagged; rescanned."
echo "  trace      $trace"
echo "  summaries  $work/summaries/"
echo "  catalog    $(git --git-dir="$work/fleet.git" log --oneline -1 clearcutt-catalog)"
