# clearcutt-credential-helper: a transient registry credential helper.
#
# docker/containerd protocol:  clearcutt-credential-helper get|store|erase|list
#   get    reads the registry host on stdin and prints
#          {"ServerURL":"<host>","Username":"<user>","Secret":"<token>"}
# git protocol:                git config credential.helper clearcutt-credential-helper
#   get    reads key=value lines on stdin and prints username= and password=
#
# Credentials come only from CLEARCUTT_REGISTRY_USER and
# CLEARCUTT_REGISTRY_TOKEN. The helper never writes a file: store and erase
# are refused, and nothing outlives the environment that set the variables.
set -u

json_escape() {
	s=$1
	r=
	while [ -n "$s" ]; do
		rest=${s#?}
		c=${s%"$rest"}
		case $c in
		'"') r="$r\\\"" ;;
		\\) r="$r\\\\" ;;
		*) r="$r$c" ;;
		esac
		s=$rest
	done
	printf '%s' "$r"
}

fail() {
	printf '%s\n' "$1"
	exit 1
}

case "${1:-}" in
get) ;;
store | erase)
	# git passes these after a successful or failed use: consume and ignore
	# the request, but never persist anything.
	cat >/dev/null
	printf '%s\n' "clearcutt-credential-helper: $1 is refused: credentials are transient" >&2
	exit 1
	;;
list)
	printf '{}\n'
	exit 0
	;;
*)
	printf '%s\n' "usage: clearcutt-credential-helper get|store|erase|list" >&2
	exit 2
	;;
esac

user=${CLEARCUTT_REGISTRY_USER:-}
token=${CLEARCUTT_REGISTRY_TOKEN:-}

IFS= read -r first || [ -n "$first" ] || fail "credentials not found in environment"
case $first in
protocol=* | host=* | path=* | url=* | username=*)
	# git credential protocol: drain the rest of the request.
	while IFS= read -r line && [ -n "$line" ]; do :; done
	if [ -z "$user" ] || [ -z "$token" ]; then
		printf '%s\n' "credentials not found in environment" >&2
		exit 1
	fi
	printf 'username=%s\npassword=%s\n' "$user" "$token"
	exit 0
	;;
esac

server=$first
if [ -z "$user" ] || [ -z "$token" ]; then
	fail "credentials not found in environment"
fi
printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}\n' \
	"$(json_escape "$server")" "$(json_escape "$user")" "$(json_escape "$token")"
