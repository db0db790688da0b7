# lib.sh: the small TAP library the command-line tests source.
#
# Each tests/cli/*.t is a bash script that sources this file, drives the
# real `cafe` binary (named by $CAFE, an absolute path; `make check` sets it)
# against data directories under a private temporary directory, and prints
# TAP.  The temporary directory ($T) is removed by an EXIT trap, also when a
# test fails or the script dies.  The plan is printed last by done_testing.
#
# Assertions print `ok N - desc` or `not ok N - desc` followed by `# ...`
# diagnostics on stderr saying what was got and what was expected.
#
#   ok CMD... -- desc         passes when CMD exits 0
#   nok CMD... -- desc        passes when CMD exits non-zero
#   is GOT EXPECTED desc      string equality
#   isnt GOT UNEXPECTED desc  string inequality
#   like GOT REGEX desc       extended regex match (grep -E semantics, any line)
#   unlike GOT REGEX desc
#   ilike GOT REGEX desc      like, ignoring case
#   pass desc / fail desc / skip desc
#   run_cafe ARGS...          runs $CAFE ARGS, sets OUT, ERR, RC
#   cafe_in DIR ARGS...       run_cafe --data DIR ARGS...
#   run_ok desc DIR ARGS...   cafe_in and assert exit 0 (shows stderr if not)
#   jq_is JSON FILTER EXPECTED desc
#   nlines TEXT               number of lines of TEXT (0 for empty)
#   enroll ADMIN NODE [ROLE [SITE]]
#                             one test: the network's admin (data dir ADMIN)
#                             enrolls NODE's key (cafe member add, role hub
#                             by default; SITE is --site for role site, the
#                             --sites list for a consultant, who otherwise
#                             gets --all), then NODE imports the admin's own
#                             log by bundle, so NODE may write at once
#   enroll_quiet ADMIN NODE [ROLE [SITE]]
#                             the same, no test: returns non-zero, the
#                             reason in ENROLL_ERR
#   admin_log_copy ADMIN NODE NODE imports ADMIN's own log as it stands
#                             (bundle); no test; ENROLL_ERR as above
#   head_of DIR ORIGIN        the seq of ORIGIN's head in DIR (empty: none)
#   own DIR OUT               writes a bundle of DIR's own log only (every
#                             other origin cut off at its head) to OUT
#   done_testing              prints the plan, exits non-zero on failures
#   tmux_use                  a private tmux server for tests typing into a
#                             real terminal (session g), killed on exit:
#                             tm ARGS (tmux on it), screen (the pane, the
#                             last SCREEN_LINES (200) lines), wait_screen
#                             REGEX (up to 10 s), type_line TEXT (and Enter)

set -u
unset CAFE_DATA

if [ -z "${CAFE:-}" ]; then
	CAFE="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/cafe"
fi
if [ ! -x "$CAFE" ]; then
	echo "Bail out! cafe binary not found at $CAFE (run make first)"
	exit 255
fi
if ! command -v jq >/dev/null 2>&1; then
	echo "Bail out! jq is required (apt-get install jq)"
	exit 255
fi

# The system python3 starts much faster than a version-manager shim.
if [ -x /usr/bin/python3 ]; then
	PY=/usr/bin/python3
else
	PY=python3
fi

TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
T="$(mktemp -d "${TMPDIR:-/tmp}/cafe-cli.XXXXXX")"
trap 'rm -rf "$T"' EXIT
# Keep HOME inside the scratch directory so no per-user default is touched.
export HOME="$T/home"
mkdir -p "$HOME"

_tap_n=0
_tap_fail=0

diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line" >&2
	done <<<"$*"
}

note() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

_tap_result() {
	# _tap_result STATUS DESC
	_tap_n=$((_tap_n + 1))
	if [ "$1" = 0 ]; then
		printf 'ok %d - %s\n' "$_tap_n" "$2"
		return 0
	fi
	_tap_fail=$((_tap_fail + 1))
	printf 'not ok %d - %s\n' "$_tap_n" "$2"
	return 1
}

pass() { _tap_result 0 "$1"; }
fail() {
	_tap_result 1 "$1"
	[ $# -gt 1 ] && diag "$2"
	return 1
}

skip() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d # SKIP %s\n' "$_tap_n" "$1"
}

# ok CMD... -- desc
ok() {
	local args=() desc
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		args+=("$1")
		shift
	done
	shift
	desc="$*"
	if "${args[@]}"; then
		_tap_result 0 "$desc"
	else
		_tap_result 1 "$desc"
		diag "command failed: ${args[*]}"
		return 1
	fi
}

# nok CMD... -- desc
nok() {
	local args=() desc
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		args+=("$1")
		shift
	done
	shift
	desc="$*"
	if "${args[@]}"; then
		_tap_result 1 "$desc"
		diag "command unexpectedly succeeded: ${args[*]}"
		return 1
	fi
	_tap_result 0 "$desc"
}

is() {
	if [ "$1" = "$2" ]; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "     got: '$1'"
		diag "expected: '$2'"
		return 1
	fi
}

isnt() {
	if [ "$1" != "$2" ]; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "     got: '$1'"
		diag "expected anything else"
		return 1
	fi
}

like() {
	if grep -Eq -- "$2" <<<"$1"; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "     got: '$1'"
		diag "expected to match: /$2/"
		return 1
	fi
}

# ilike: like, ignoring case.
ilike() {
	if grep -Eiq -- "$2" <<<"$1"; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "     got: '$1'"
		diag "expected to match (any case): /$2/"
		return 1
	fi
}

unlike() {
	if grep -Eq -- "$2" <<<"$1"; then
		_tap_result 1 "$3"
		diag "     got: '$1'"
		diag "expected not to match: /$2/"
		return 1
	fi
	_tap_result 0 "$3"
}

nlines() {
	local nl="${1//[!$'\n']/}"
	if [ -z "$1" ]; then
		echo 0
	elif [ "${1: -1}" = $'\n' ]; then
		echo "${#nl}"
	else
		echo $((${#nl} + 1))
	fi
}

# run_cafe ARGS...: runs the binary, capturing stdout (OUT), stderr (ERR)
# and the exit code (RC).  A trailing newline is stripped from OUT and ERR.
OUT=
ERR=
RC=
run_cafe() {
	local o="$T/.out" e="$T/.err"
	"$CAFE" "$@" >"$o" 2>"$e" </dev/null
	RC=$?
	OUT="$(<"$o")"
	ERR="$(<"$e")"
	if [ -n "${CAFE_TRACE:-}" ]; then
		diag "cafe $* -> $RC"
	fi
	# A crash is always worth a loud line.
	if [ "$RC" -ge 128 ]; then
		diag "cafe $* died with status $RC; stderr: $ERR"
	fi
	return 0
}

cafe_in() {
	local d="$1"
	shift
	run_cafe --data "$d" "$@"
}

# run_ok desc DIR ARGS...: one test that the command exits 0.
run_ok() {
	local desc="$1"
	shift
	cafe_in "$@"
	if [ "$RC" = 0 ]; then
		_tap_result 0 "$desc"
	else
		_tap_result 1 "$desc"
		shift
		diag "cafe $* -> exit $RC"
		diag "stderr: $ERR"
		return 1
	fi
}

tmux_use() {
	SOCK="$T/tmux.sock"
	trap 'tm kill-server 2>/dev/null; rm -rf "$T"' EXIT
}
tm() { tmux -S "$SOCK" -f /dev/null "$@"; }
screen() {
	tm capture-pane -p -J -t g -S -"${SCREEN_LINES:-200}" | sed "s/ *$//"
}
wait_screen() {
	local i
	for i in $(seq 1 100); do
		screen | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	diag "screen never showed /$1/:"
	diag "$(screen | tail -n "${SCREEN_DIAG:-200}")"
	return 1
}
type_line() { tm send-keys -t g -l -- "$1"; tm send-keys -t g Enter; }

# jq_is JSON FILTER EXPECTED desc (compares jq -r output as a string)
jq_is() {
	local got
	got="$(printf '%s' "$1" | jq -r "$2" 2>&1)"
	is "$got" "$3" "$4"
}

# json_ok JSON desc: the text is one valid JSON value.
json_ok() {
	if printf '%s' "$1" | jq -e . >/dev/null 2>&1 ||
		[ "$(printf '%s' "$1" | jq -c . 2>/dev/null)" = "null" ] ||
		[ "$(printf '%s' "$1" | jq -c . 2>/dev/null)" = "false" ]; then
		_tap_result 0 "$2"
	else
		_tap_result 1 "$2"
		diag "not JSON: '$1'"
		return 1
	fi
}

# new_node DIR NAME [more init args]: initialises a node, one test.
# Sets NODE to the printed node id.
NODE=
new_node() {
	local d="$1" n="$2"
	shift 2
	run_ok "init $n" "$d" init --name "$n" "$@"
	NODE="$OUT"
}

# enroll ADMIN NODE [ROLE [SITE]]: every commit must come from the network's
# admin or a key it enrolled, and a node knows it is enrolled only once it
# holds the admin's member record.  So the admin enrolls NODE, then exports
# its own log (every other origin it holds is cut off with --since at its
# head) and NODE imports it.  One test.  Adds one commit to ADMIN's log.
# enroll_quiet takes the same arguments, prints nothing and returns
# non-zero with the reason in ENROLL_ERR.
ENROLL_ERR=
enroll_quiet() {
	local a="$1" d="$2" role="${3:-hub}" site="${4:-}" key name args out
	ENROLL_ERR=
	key="$("$CAFE" --data "$d" id)"
	name="$("$CAFE" --data "$d" status --json | jq -r .name)"
	args=(member add "$key" --role "$role" --name "$name")
	case "$role" in
	site) args+=(--site "$site") ;;
	consultant)
		if [ -n "$site" ]; then args+=(--sites "$site"); else args+=(--all); fi ;;
	esac
	if ! out="$("$CAFE" --data "$a" "${args[@]}" 2>&1 </dev/null)"; then
		ENROLL_ERR="cafe --data $a ${args[*]}: $out"
		return 1
	fi
	admin_log_copy "$a" "$d"
}

# admin_log_copy ADMIN NODE: NODE imports ADMIN's own log (the commits whose
# origin is the network id), by bundle; no test; returns non-zero with the
# reason in ENROLL_ERR.
admin_log_copy() {
	local a="$1" d="$2" net since=() o s out
	ENROLL_ERR=
	net="$("$CAFE" --data "$a" status --json | jq -r .network)"
	while read -r o s; do
		[ -n "$o" ] && [ "$o" != "$net" ] && since+=(--since "$o:$s")
	done < <("$CAFE" --data "$a" status --json | jq -r '.heads[] | "\(.origin) \(.seq)"')
	if ! out="$("$CAFE" --data "$a" bundle export "$T/.enroll.bundle" "${since[@]}" 2>&1 </dev/null)"; then
		ENROLL_ERR="the admin's bundle export: $out"
		return 1
	fi
	if ! out="$("$CAFE" --data "$d" bundle import "$T/.enroll.bundle" 2>&1 </dev/null)"; then
		ENROLL_ERR="$d: import of the admin's log: $out"
		rm -f "$T/.enroll.bundle"
		return 1
	fi
	rm -f "$T/.enroll.bundle"
	return 0
}

enroll() {
	local name
	name="$("$CAFE" --data "$2" status --json | jq -r .name)"
	if enroll_quiet "$@"; then
		pass "enroll $name as ${3:-hub}"
	else
		fail "enroll $name as ${3:-hub}" "$ENROLL_ERR"
	fi
}

# add_rec DIR TYPE FIELDS...: adds a record, one test; sets ID (32 hex).
ID=
add_rec() {
	local d="$1" t="$2"
	shift 2
	cafe_in "$d" add "$t" "$@"
	ID="$(printf '%s\n' "$OUT" | tail -n 1)"
	if [ "$RC" = 0 ] && [[ $ID =~ ^[0-9a-f]{32}$ ]]; then
		_tap_result 0 "add $t"
	else
		_tap_result 1 "add $t"
		diag "cafe --data $d add $t $* -> exit $RC"
		diag "stdout: $OUT"
		diag "stderr: $ERR"
		return 1
	fi
}

# count_of WORD TEXT: the number next to WORD in TEXT ("3 applied",
# "applied: 3", "applied=3"), or empty.
count_of() {
	local w="$1" text="$2" n
	n="$(printf '%s\n' "$text" | grep -Eo "$w *[:=] *[0-9]+" | head -n 1 | grep -Eo '[0-9]+$')"
	if [ -z "$n" ]; then
		n="$(printf '%s\n' "$text" | grep -Eo "[0-9]+ +$w" | head -n 1 | grep -Eo '^[0-9]+')"
	fi
	if [ -z "$n" ]; then
		n="$(printf '%s\n' "$text" | grep -Eo "$w +[0-9]+" | head -n 1 | grep -Eo '[0-9]+$')"
	fi
	printf '%s' "$n"
}

# head_of DIR ORIGIN: the seq of ORIGIN's head in DIR, empty when none.
head_of() {
	"$CAFE" --data "$1" status --json |
		jq -r --arg o "$2" '.heads[] | select(.origin == $o) | .seq'
}

# own DIR OUT: a bundle of DIR's own log only (every other origin cut off).
own() {
	local d="$1" out="$2" me since=() o s
	me="$("$CAFE" --data "$d" id)"
	while read -r o s; do
		[ -n "$o" ] && [ "$o" != "$me" ] && since+=(--since "$o:$s")
	done < <("$CAFE" --data "$d" status --json | jq -r '.heads[] | "\(.origin) \(.seq)"')
	"$CAFE" --data "$d" bundle export "$out" "${since[@]}"
}

# status_json DIR: prints `status --json` (empty on failure).
status_json() {
	cafe_in "$1" status --json
	[ "$RC" = 0 ] && printf '%s' "$OUT"
}

done_testing() {
	printf '1..%d\n' "$_tap_n"
	if [ "$_tap_fail" -gt 0 ]; then
		diag "failed $_tap_fail of $_tap_n tests"
		[ "$_tap_fail" -gt 254 ] && exit 254
		exit "$_tap_fail"
	fi
	exit 0
}
