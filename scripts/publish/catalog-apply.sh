#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Replace the catalog and the site of a fresh clone of the catalog branch
# (DIR) with the ones another job wrote (DATA, an artifact). The artifact is
# data only: catalog/ and site/ holding regular files and directories.
# Anything else — a .git directory, a hidden file other than the site's
# marker, a link, another top-level entry — is refused, so the job that commits with a write token runs no
# configuration or hook that the job that wrote the data could plant.
# Env: DATA, DIR.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -d "$DATA/catalog" ] || die "$DATA: no catalog/ directory"
while IFS= read -r -d '' entry; do
	rel=${entry#"$DATA"/}
	case "$rel" in
	catalog | site | catalog/* | site/*) ;;
	*) die "$DATA: $rel is neither catalog/ nor site/: refused" ;;
	esac
	case "/$rel" in
	/site/.clearcutt-site) ;;
	*/.*) die "$DATA: $rel is a hidden file: refused" ;;
	esac
	[ -f "$entry" ] || [ -d "$entry" ] || die "$DATA: $rel is not a regular file or directory: refused"
	[ ! -L "$entry" ] || die "$DATA: $rel is a link: refused"
done < <(find "$DATA" -mindepth 1 -print0)
for d in catalog site; do
	rm -rf "${DIR:?}/$d"
	if [ -d "$DATA/$d" ]; then cp -R "$DATA/$d" "$DIR/$d"; fi
done
