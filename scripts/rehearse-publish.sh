#!/usr/bin/env bash
# Rehearse the release and the nightly rescan on this machine, offline,
# under a real workflow engine: nektos/act runs .github/workflows/release.yml
# → publish.yml and nightly.yml → rescan.yml — their jobs, needs:, if:,
# matrices, outputs, artifacts and step summaries — with every job on this
# host (act's self-hosted mode) and act's own artifact server.
#
# The fleet repository is a clone of this repository's working tree,
# edited as a fork edits its own files: clearcutt.yaml publishes to a local
# registry and keeps the runtimes a scenario names, nix/flake.lock locks
# nixpkgs to the offline fixture set, and the callers (release.yml,
# nightly.yml) pass the inputs an offline run needs. The catalog branch is
# pushed to a local bare repository.
#
# Third-party actions and the SLSA generator are small stand-ins
# (testdata/act/, mapped with --local-repository; testdata/act/README.md
# says what each models). Where act or an offline machine cannot model what
# GitHub does, the reusable workflows are run with the smallest shim, listed
# in SHIMS below and applied only to the rehearsal's clone:
#   - OIDC: there is no token off GitHub, so signing uses a key pair (attest
#     and rescan with keyless "false", verify, catalog and rescan given the
#     public key); the generator stand-in records its call but signs nothing,
#     and verify reports provenance not applicable with a key;
#   - the Grype database is built from testdata/vulndb instead of fetched;
#   - every leg runs on this amd64 host, so only the amd64 legs require
#     their smoke run (on GitHub each leg has a runner of its architecture);
#   - job.workflow_repository and job.workflow_sha evaluate to empty under
#     act: the checkout stand-in then checks out the run's own repository at
#     the run's commit, which is what they name in the fork layout;
#   - environments, deployment branch rules, concurrency groups, artifact
#     retention and runner labels are not modelled (every label runs here):
#     the steps that check the signing environment's rule with GitHub's
#     API are replaced by an echo (internal/gha's tests answer as the API
#     documents);
#
# Usage: scripts/rehearse-publish.sh SCENARIO...
#   release    the fleet is released: every image tagged and verified, the
#              catalog branch updated
#   partial    one image's gate fails: the others are released, it is not,
#              the catalog commit shows it red, and the run ends red
#   nightly    after a release, the rescan gate fails (a new advisory): the
#              remediation job runs and drafts its change
#   rerun      a finished release run again with the same run id: no 409,
#              no tag moves, nothing released twice
# Env: CLEARCUTT_REHEARSAL   work directory (default out/rehearsal; wiped)
#      CLEARCUTT_REHEARSAL_RUNTIMES  runtimes the release keeps (default: every runtime
#                                    of clearcutt.yaml, and webp for the nightly)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. scripts/lib/prereqs.sh
clearcutt_need_root
clearcutt_install_prereqs
clearcutt_nix_env
scripts/nix-fixtures.sh >/dev/null
PATH="$(go env GOPATH)/bin:$PATH"
export PATH
command -v act >/dev/null || scripts/install-tools.sh
command -v act >/dev/null || { echo "rehearsal: act is not installed (scripts/install-tools.sh)" >&2; exit 1; }

[ $# -gt 0 ] || set -- release rerun nightly partial
work=$(mkdir -p "${CLEARCUTT_REHEARSAL:-out/rehearsal}" && cd "${CLEARCUTT_REHEARSAL:-out/rehearsal}" && pwd)
find "$work" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
mkdir -p "$work/bin" "$work/config"
# The example fleet's runtimes, and webp: the nightly needs a finding the
# newer package set fixes.
runtimes=${CLEARCUTT_REHEARSAL_RUNTIMES:-}

echo "==> tools"
go build -trimpath -o "$work/bin/actartifact" ./internal/actions/cmd/actartifact
go build -trimpath -o "$work/bin/clearcutt" .
if [ -z "$runtimes" ]; then
	runtimes="$("$work/bin/clearcutt" fleet plan --github-matrix | jq -r '[.include[].runtime] | unique | join(" ")') webp"
fi

echo "==> local registry"
registry_pid=
trap '[ -z "$registry_pid" ] || kill "$registry_pid" 2>/dev/null || true' EXIT
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	return 1
}
port=$(free_port)
mkdir -p "$work/registry"
cat >"$work/registry/config.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "rehearsal: docker-registry did not start: $(cat "$work/registry/log")" >&2; exit 1; }
registry=127.0.0.1:$port/fleet
echo "registry $registry"

# SHIMS: FILE<TAB>FROM<TAB>TO<TAB>COUNT — literal replacements in the
# rehearsal's clone; each must match exactly COUNT times, so a change to the
# workflows that a shim no longer fits stops the rehearsal.
SHIMS=$(
	cat <<'TSV'
.github/workflows/publish.yml	keyless: "true"	keyless: "false"	1
.github/workflows/publish.yml	uses: ./.clearcutt/actions/verify\n        with:\n	uses: ./.clearcutt/actions/verify\n        with:\n          key: ${{ env.CLEARCUTT_REHEARSAL_KEY }}\n	1
.github/workflows/publish.yml	uses: ./.clearcutt/actions/catalog\n        with:\n	uses: ./.clearcutt/actions/catalog\n        with:\n          key: ${{ env.CLEARCUTT_REHEARSAL_KEY }}\n	1
.github/workflows/publish.yml	require-smoke: "true"	require-smoke: ${{ matrix.arch == 'amd64' }}	1
.github/workflows/publish.yml	vulndb fetch --out vulndb	vulndb build --advisories "$CLEARCUTT_REHEARSAL_ADVISORIES" --out vulndb	1
.github/workflows/publish.yml	run: '"$RUNNER_TEMP/clearcutt" -f "$CLEARCUTT_FLEET" fleet check-environment'	run: echo "environments are not modelled offline"	1
.github/workflows/rescan.yml	run: '"$RUNNER_TEMP/clearcutt" -f "$CLEARCUTT_FLEET" fleet check-environment'	run: echo "environments are not modelled offline"	1
.github/workflows/rescan.yml	keyless: "true"	keyless: "false"\n          key-pub: ${{ env.CLEARCUTT_REHEARSAL_KEY }}	1
.github/workflows/rescan.yml	vulndb fetch --out "$RUNNER_TEMP/vulndb"	vulndb build --advisories "$CLEARCUTT_REHEARSAL_ADVISORIES" --out "$RUNNER_TEMP/vulndb"	2
TSV
)

# fleet NAME RUNTIMES...: the fleet repository of a scenario, committed.
fleet() {
	local dir=$work/$1
	shift
	git clone --quiet --no-hardlinks "$repo" "$dir"
	git -C "$dir" checkout --quiet -B main
	# The working tree as it is, uncommitted changes included: what is
	# rehearsed is what would be committed.
	(cd "$repo" && git ls-files -z --deleted) | (cd "$dir" && xargs -0r rm -f --)
	(cd "$repo" && git ls-files -z -co --exclude-standard | grep -zv '^out/' | tar --null -T - --ignore-failed-read -cf -) | tar -xf - -C "$dir"
	git -C "$dir" remote set-url origin https://github.com/clearcutt/clearcutt.git
	"$work/bin/clearcutt" -f "$repo/clearcutt.yaml" fleet validate >/dev/null
	# Perl, as Debian always has it (perl-base is essential).
	perl -e '
		my ($path, $registry, @keep) = @ARGV;
		my %keep = map { $_ => 1 } @keep;
		local $/; open(my $in, "<", $path) or die "$path: $!"; my $src = <$in>; close $in;
		(my $n = ($src =~ s/^  repository: ghcr\.io\/\S+$/  repository: $registry/m)) == 1 or die "rehearsal: registry.repository\n";
		my ($head, $runtimes) = split /\nruntimes:\n/, $src, 2;
		my @blocks = split /(?m)^(?=  - id: )/, $runtimes;
		shift @blocks;
		# Runtimes of the rehearsal only: one whose smoke test cannot pass,
		# and one carrying the fixture libwebp 1.3.0, which the newer package
		# set fixes.
		my %extra = (
			broken => "  - id: broken\n    version: \"1\"\n    nix: {attribute: tzdata}\n    tiers: [distroless]\n    smoke: {command: [/bin/no-such-program], expect: never}\n",
			webp => "  - id: webp\n    version: \"1.3\"\n    nix: {attribute: libwebp}\n    tiers: [distroless]\n",
		);
		my @kept;
		for my $b (@blocks) { my ($id) = $b =~ /^  - id: (\S+)/; push @kept, $b if $keep{$id} && !$extra{$id}; }
		for my $k (@keep) { push @kept, $extra{$k} if $extra{$k}; }
		@kept == @keep or die "rehearsal: runtimes @keep: found " . scalar(@kept) . "\n";
		open(my $out, ">", $path) or die "$path: $!"; print $out $head, "\nruntimes:\n", @kept; close $out;
	' "$dir/clearcutt.yaml" "$registry" "$@"
	"$work/bin/clearcutt" -f "$dir/clearcutt.yaml" fleet validate >/dev/null
	(cd "$dir/nix" && nix flake lock --override-input nixpkgs "path:$repo/nix/fixtures" 2>"$work/lock.log") ||
		{ cat "$work/lock.log" >&2; exit 1; }
	jq -e --arg p "$repo/nix/fixtures" '.nodes.nixpkgs.locked.path == $p' "$dir/nix/flake.lock" >/dev/null ||
		{ echo "rehearsal: nix/flake.lock does not lock nixpkgs to the fixture set" >&2; exit 1; }
	while IFS=$'\t' read -r file from to count; do
		perl -e '
			my ($f, $a, $b, $n) = @ARGV;
			s/\\n/\n/g for $a, $b;
			local $/; open(my $in, "<", $f) or die "$f: $!"; my $s = <$in>; close $in;
			my $c = () = $s =~ /\Q$a\E/g;
			$c == $n or die "rehearsal: shim \"$a\" matches $c times in $f, want $n\n";
			$s =~ s/\Q$a\E/$b/g;
			open(my $out, ">", $f) or die "$f: $!"; print $out $s; close $out;
		' "$dir/$file" "$from" "$to" "$count"
	done <<<"$SHIMS"
	# The fork's nightly names its newer package set (offline: a staged
	# revision of the fixtures, given as a repository variable).
	perl -0pi -e 's/^(      fleet: clearcutt\.yaml\n)/$1      newer: \$\{\{ vars.CLEARCUTT_NEWER \}\}\n/m or die "rehearsal: nightly.yml: no with: fleet line\n"' \
		"$dir/.github/workflows/nightly.yml"
	git -C "$dir" add -A
	git -C "$dir" -c user.name=rehearsal -c user.email=rehearsal@example.invalid commit --quiet -m "rehearsal: a fleet on the local registry and the offline package set"
	git init --quiet --bare "$dir.git"
}

# act_run FLEET WORKFLOW RUN-ID [ACT-ARGS...]: run one workflow of a fleet;
# act's log goes to $work/<fleet>.<workflow>.<run>.log.
act_run() {
	local name=$1 dir=$work/$1 wf=$2 run=$3 aport
	shift 3
	aport=$(free_port)
	local log
	log=$work/$name.$(basename "$wf" .yml).$run.log
	local gen="slsa-framework/slsa-github-generator@v2.1.0=$repo/testdata/act/slsa-github-generator"
	local -a map=(
		--local-repository "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683=$repo/testdata/act/checkout"
		--local-repository "actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5=$repo/testdata/act/setup-go"
		--local-repository "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02=$repo/testdata/act/upload-artifact"
		--local-repository "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093=$repo/testdata/act/download-artifact"
		--local-repository "cachix/install-nix-action@ba0dd844c9180cbf77aa72a116d6fbc515d0e87b=$repo/testdata/act/install-nix-action"
		--local-repository "cachix/cachix-action@ad2ddac53f961de1989924296a1f236fcfbaa4fc=$repo/testdata/act/cachix-action"
		--local-repository "peter-evans/create-pull-request@271a8d0340265f705b14b6d32b9829c1cb33d45e=$repo/testdata/act/create-pull-request"
		--local-repository "$gen"
	)
	# act's artifact server answers a listing of a run it has no directory
	# for by dropping the connection; a run on GitHub starts with none.
	mkdir -p "$work/artifacts-$name/$run"
	echo "==> act: $name $wf (run $run)"
	local rc=0
	(cd "$dir" && act workflow_dispatch -W "$wf" --eventpath "$work/event.json" \
		-P ubuntu-24.04=-self-hosted -P ubuntu-24.04-arm=-self-hosted -P ubuntu-latest=-self-hosted \
		--no-skip-checkout --concurrent-jobs 1 --action-offline-mode \
		--artifact-server-path "$work/artifacts-$name" --artifact-server-addr 127.0.0.1 --artifact-server-port "$aport" \
		"${map[@]}" -s GITHUB_TOKEN=rehearsal-token \
		--env GITHUB_RUN_ID="$run" --env CLEARCUTT_REHEARSAL_REPO="$dir" --env REMOTE="$dir.git" --env CLEARCUTT_ACT_BIN="$work/bin" \
		--env XDG_CONFIG_HOME="$work/config" --env CLEARCUTT_REHEARSAL_KEY="$work/config/clearcutt/signing.key.pub" \
		--env CLEARCUTT_REHEARSAL_ADVISORIES="${ADVISORIES:-$repo/testdata/vulndb/advisories.yaml}" \
		--env CLEARCUTT_REHEARSAL_PRS="$work/prs" --env CLEARCUTT_REHEARSAL_PROVENANCE="$work/provenance" \
		"$@" >"$log" 2>&1) || rc=$?
	grep -E '^\[.*\] (✅  Success|❌  Failure|🏁  Job)' "$log" | sed 's/^/    /' | tail -n 60 || true
	return $rc
}

cat >"$work/event.json" <<'JSON'
{"repository": {"full_name": "clearcutt/clearcutt", "private": false, "default_branch": "main"}}
JSON

# tag_digest RUNTIME TAG: the digest a tag of the local registry names (empty: none).
tag_digest() {
	curl -fs -o /dev/null -D - -H 'Accept: application/vnd.oci.image.index.v1+json' \
		"http://127.0.0.1:$port/v2/fleet/$1/manifests/$2" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}
catalog_of() { git --git-dir="$work/$1.git" show "clearcutt-catalog:catalog/catalog.json"; }
fail() {
	echo "rehearsal: $*" >&2
	exit 1
}
# released: the fleet "release" (the runtimes above) after its release run.
released=
released() {
	[ -z "$released" ] || return 0
	# shellcheck disable=SC2086
	fleet release $runtimes
	act_run release .github/workflows/release.yml 1 || fail "release: the release run failed (log: $work/release.release.1.log)"
	released=1
}

for scenario in "$@"; do
	case "$scenario" in
	release)
		released
		cat=$(catalog_of release)
		for rt in $runtimes; do
			for tier in $(jq -r --arg rt "$rt" '.images[] | select(.runtime == $rt) | .tier' <<<"$cat"); do
				[ -n "$(tag_digest "$rt" "$tier")" ] || fail "release: $rt:$tier has no tag $tier"
			done
		done
		jq -e '[.images[] | select(.status != "verified")] | length == 0' <<<"$cat" >/dev/null ||
			fail "release: not every image is verified in the catalog: $(jq -c '[.images[] | {name, status}]' <<<"$cat")"
		[ "$(jq '.images | length' <<<"$cat")" = "$("$work/bin/clearcutt" -f "$work/release/clearcutt.yaml" fleet plan --github-matrix | jq '[.include[] | "\(.runtime):\(.tier)"] | unique | length')" ] ||
			fail "release: the catalog does not hold every image of the fleet"
		echo "release: $(jq '.images | length' <<<"$cat") images verified and tagged; catalog at $(git --git-dir="$work/release.git" rev-parse --short clearcutt-catalog)"
		;;
	partial)
		fleet partial static broken
		if act_run partial .github/workflows/release.yml 1; then
			fail "partial: the run ended green with an image whose tests fail"
		fi
		[ -n "$(tag_digest static distroless)" ] || fail "partial: static:distroless was not released"
		[ -z "$(tag_digest broken distroless)" ] || fail "partial: broken:distroless was tagged"
		cat=$(catalog_of partial) || fail "partial: no catalog commit"
		jq -e '.images[] | select(.name == "static:distroless") | .status == "verified"' <<<"$cat" >/dev/null ||
			fail "partial: static:distroless is not verified in the catalog"
		jq -e '.images[] | select(.name == "broken:distroless") | .release.failed == true and .status != "verified"' <<<"$cat" >/dev/null ||
			fail "partial: the catalog does not show broken:distroless red: $(jq -c '.images' <<<"$cat")"
		echo "partial: static:distroless released; broken:distroless not released, red in the catalog; the run ended red"
		;;
	nightly)
		released
		case " $runtimes " in *" webp "*) ;; *) fail "nightly: the fleet has no webp runtime (CLEARCUTT_REHEARSAL_RUNTIMES)" ;; esac
		[ -d "$work/nixpkgs-newer" ] || "$repo/nix/fixtures/revisions/stage.sh" newer "$work/nixpkgs-newer" >/dev/null
		commits=$(git --git-dir="$work/release.git" rev-list --count clearcutt-catalog)
		if ADVISORIES=$repo/internal/remediate/testdata/advisories.yaml act_run release .github/workflows/nightly.yml 2 \
			--var CLEARCUTT_NEWER="$work/nixpkgs-newer" --input remediate=true; then
			fail "nightly: the run ended green though the rescan gate failed"
		fi
		log=$work/release.nightly.2.log
		grep -q 'rescan/rescan/rescan\].*Job failed' "$log" || fail "nightly: the rescan job did not fail"
		grep -q 'draft remediation *\].*Job succeeded' "$log" || fail "nightly: the remediation job did not run to its end"
		pr=$work/prs/clearcutt-remediate-libwebp.json
		[ -f "$pr" ] || fail "nightly: no draft pull request for libwebp ($(ls "$work/prs" 2>/dev/null))"
		jq -e '.draft and (.paths | index("nix/flake.lock"))' "$pr" >/dev/null || fail "nightly: the draft is not a draft of nix/flake.lock: $(cat "$pr")"
		[ "$(git --git-dir="$work/release.git" rev-list --count clearcutt-catalog)" -gt "$commits" ] || fail "nightly: the rescan's catalog was not committed"
		echo "nightly: the rescan gate failed, the catalog shows it, and remediation drafted \"$(jq -r .title "$pr")\""
		;;
	rerun)
		released
		before=$(for rt in $runtimes; do tag_digest "$rt" distroless; done)
		refs=$(catalog_of release | jq -c '[.images[].reference] | sort')
		act_run release .github/workflows/release.yml 1 || fail "rerun: re-running the finished release failed (log: $work/release.release.1.log)"
		! grep -q '(409) Conflict' "$work/release.release.1.log" || fail "rerun: an artifact upload was refused"
		grep -q 'deleted: overwrite is true' "$work/release.release.1.log" || fail "rerun: no artifact of the first run was replaced"
		[ "$(for rt in $runtimes; do tag_digest "$rt" distroless; done)" = "$before" ] || fail "rerun: a tag moved"
		[ "$(catalog_of release | jq -c '[.images[].reference] | sort')" = "$refs" ] || fail "rerun: the catalog's images changed: $(catalog_of release | jq -c '[.images[].reference]')"
		echo "rerun: the same run again: artifacts replaced without conflict, the same indexes, tags unchanged"
		;;
	*) echo "rehearsal: unknown scenario $scenario" >&2; exit 2 ;;
	esac
done
