# Scrub a runtime for the deployable tiers (POSIX sh: runs under nixpkgs'
# stdenv and under busybox).
#
# Environment: runtime (the runtime's store path), out, runtimeName (its
# name, which out shares, so every store path keeps its length), and
# ./runtime-closure, the runtime's closure in exportReferencesGraph format.
#
# $out is a copy of the runtime in which:
#   - references to the runtime itself name $out (same length: binaries stay
#     valid);
#   - no file names a shell or coreutils store path of the closure:
#       a script whose interpreter is one        removed
#       a link into one                          removed
#       a compiled Python cache naming one       removed (Python reads the source)
#       any other text file                      "<store path>/bin/sh" becomes "/bin/sh",
#                                                the image's own (none in distroless)
#       a binary file                            kept: the image gate then fails and names
#                                                the file and the reference chain
# $out/nix-support/clearcutt-scrub.json (schema clearcutt.dev/closure-scrub/v1)
# says what was done to which file, and why. It names store paths without
# their hashes, so it does not keep them alive.
# runtime, runtimeName and out are set by the derivation.
# shellcheck disable=SC2154
set -eu
# grep -z: records end at NUL, not at newline, so a store path after a NUL
# byte (in a binary file) is found too, by GNU grep and by busybox's.

store=${NIX_STORE:-/nix/store}
hashOf() { p=${1#"$store"/}; printf '%s' "${p%%-*}"; }
nameOf() { p=${1#"$store"/}; printf '%s' "${p#*-}"; }
old=$(hashOf "$runtime")
new=$(hashOf "$out")

# The closure's store paths (exportReferencesGraph: path, deriver, count,
# then that many references).
awk 'BEGIN { s = 0 }
  s == 0 { print; s = 1; next }
  s == 1 { s = 2; next }
  s == 2 { k = $1; s = (k > 0) ? 3 : 0; next }
  { k--; if (k == 0) s = 0 }' runtime-closure | sort -u > closure-paths

# Forbidden: the store paths of the closure that provide a shell or a
# general-purpose utility in bin/.
: > forbidden
while read -r p; do
  [ "$p" = "$runtime" ] && continue
  for b in sh bash dash ash zsh ksh mksh csh tcsh fish busybox toybox; do
    if [ -e "$p/bin/$b" ] || [ -L "$p/bin/$b" ]; then echo "$p shell" >> forbidden; continue 2; fi
  done
  for b in ls cat cp mv rm env; do
    if [ -e "$p/bin/$b" ] || [ -L "$p/bin/$b" ]; then echo "$p coreutils" >> forbidden; continue 2; fi
  done
done < closure-paths

mkdir -p "$out"
cp -RP "$runtime"/. "$out"/
chmod -R u+w "$out"

json() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }
entries=""
record() { # record FILE ACTION REASON
  e=$(printf '{"path":"%s","action":"%s","reason":"%s"}' "$(json "$1")" "$2" "$(json "$3")")
  entries="$entries${entries:+,}$e"
}
# strip TEXT: store paths named in TEXT without their hashes.
strip() { printf '%s' "$1" | sed "s|$store/[a-z0-9]\{32\}-|…-|g"; }

# linksTo HASH: the symbolic links of $out whose target names HASH.
linksTo() {
  find "$out" -type l | sort | while read -r l; do
    case $(readlink "$l") in *"$1"*) printf '%s\n' "$l" ;; esac
  done
}

removed=""
while read -r fp kind; do
  fh=$(hashOf "$fp")
  fname=$(nameOf "$fp")
  linksTo "$fh" > links
  grep -rlzF "$fh" "$out" 2>/dev/null | sort > hits || true
  if [ ! -s links ] && [ ! -s hits ]; then
    continue # in the closure, but not through the runtime's own files
  fi
  while read -r l; do
    rm "$l"
    record "${l#"$out"/}" removed "link to the $kind $fname"
  done < links
  while read -r f; do
    rel=${f#"$out"/}
    first=$(head -n 1 "$f" | head -c 256)
    case $first in
    "#!$store/$fh-"*)
      rm "$f"
      record "$rel" removed "$kind script: $(strip "$first")"
      continue
      ;;
    esac
    case $rel in
    */__pycache__/*.pyc)
      rm "$f"
      record "$rel" removed "compiled Python cache naming the $kind $fname (Python reads the source)"
      continue
      ;;
    esac
    if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || [ "$(tr -d '\000' < "$f" | wc -c)" -ne "$(wc -c < "$f")" ]; then
      record "$rel" kept "binary file naming the $kind $fname: cannot be rewritten"
      continue
    fi
    uses=$(grep -o "$store/$fh-$fname/[^\"' :;)]*" "$f" | sed "s|$store/$fh-$fname||" | sort -u | tr '\n' ' ' | sed 's/ $//')
    sed -i "s|$store/$fh-$fname||g" "$f"
    if [ -n "$uses" ]; then
      record "$rel" rewrote "named the $kind $fname/...; now names $uses, the image's own"
    else
      record "$rel" rewrote "named the $kind $fname; the store path is gone from it"
    fi
  done < hits
  linksTo "$fh" > links
  if [ ! -s links ] && ! grep -rqzF "$fh" "$out" 2>/dev/null; then
    removed="$removed${removed:+,}\"$(json "$fname")\""
  fi
done < forbidden
rm -f links hits

# References to the runtime itself now name this copy.
grep -rlzF "$old" "$out" 2>/dev/null | while read -r f; do
  sed -i "s|$old|$new|g" "$f"
done
find "$out" -type l | while read -r l; do
  t=$(readlink "$l")
  case $t in *"$old"*)
    ln -sfn "$(printf '%s' "$t" | sed "s|$old|$new|g")" "$l"
    ;;
  esac
done

mkdir -p "$out/nix-support"
printf '{"schema":"clearcutt.dev/closure-scrub/v1","runtime":"%s","removedFromClosure":[%s],"files":[%s]}\n' \
  "$(json "$runtimeName")" "$removed" "$entries" > "$out/nix-support/clearcutt-scrub.json"
