# netlib.sh: what the multi-node tests share, on top of ../cli/lib.sh.
#
# Each tests/net/*.t starts real cafed processes on 127.0.0.1, each with
# its own data directory under $T and its own port, drives them with real
# cafe commands and prints TAP.  Every daemon started here is killed by the
# EXIT trap, also when a test fails or the script dies.
#
#   node_init NAME ROLE [NETWORK]   cafe init into $T/NAME; sets NAME's key
#                                   in KEY[NAME]; the first hub's key is the
#                                   network id unless NETWORK is given
#   node_port NAME                  NAME's listen port (fixed per script)
#   daemon_start NAME [ARGS...]     cafed --data $T/NAME, log in $T/NAME.log,
#                                   listening on its port; waits for the
#                                   control socket
#   daemon_stop NAME                SIGTERM, wait for the exit
#   daemon_kill NAME                SIGKILL, wait for the exit
#   daemon_pid NAME                 its pid
#   link NAME_A NAME_B              A dials B: peer entries on both sides
#   wait_idle NAME [TIMEOUT]        cafe sync --wait on NAME
#   wait_for TIMEOUT CMD...         retries CMD every 0.1 s until it succeeds
#   digest NAME                     the node's digest from status --json
#   heads NAME                      its heads, one "origin seq" per line
#   converged DESC NAME...          asserts all NAMEs show the same digest
#                                   and heads

source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"

if [ -z "${CAFED:-}" ]; then
	CAFED="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/cafed"
fi
if [ ! -x "$CAFED" ]; then
	echo "Bail out! cafed binary not found at $CAFED (run make first)"
	exit 255
fi
# Test tools (wirepeer, bench_genbundle) live beside the unit tests.
TOOLS="${TOOLS:-$(cd "$(dirname "$CAFED")" && pwd)/tests}"

declare -A KEY PID PORT
NETWORK=""
# Ports: a block of 20 per script, from the script's name, so scripts
# running side by side under prove -j do not collide.
# The ports stay below 32768, where Linux picks no ephemeral ports, so an
# outgoing connection can never hold a port a daemon is about to listen on.
_port_base=$(( 20000 + ($(printf '%s' "$(basename "$0")" | cksum | cut -d' ' -f1) % 600) * 20 ))
_port_next=0

_net_cleanup() {
	local n
	for n in "${!PID[@]}"; do
		kill -9 "${PID[$n]}" 2>/dev/null
	done
	{ wait; } 2>/dev/null
	rm -rf "$T"
}
trap _net_cleanup EXIT

node_init() {
	local name="$1" role="$2" net="${3:-$NETWORK}" out
	if [ -n "$net" ]; then
		out=$("$CAFE" --data "$T/$name" init --name "$name" --role "$role" --network "$net") || return 1
	else
		out=$("$CAFE" --data "$T/$name" init --name "$name" --role "$role") || return 1
	fi
	KEY[$name]="$out"
	[ -z "$NETWORK" ] && NETWORK="$out"
	PORT[$name]=$(( _port_base + _port_next ))
	_port_next=$(( _port_next + 1 ))
	return 0
}

node_port() { echo "${PORT[$1]}"; }

daemon_start() {
	local name="$1"; shift
	"$CAFED" --data "$T/$name" --listen "127.0.0.1:${PORT[$name]}" "$@" \
		>>"$T/$name.log" 2>&1 &
	PID[$name]=$!
	local i
	for i in $(seq 1 100); do
		[ -S "$T/$name/ctl/cafed.sock" ] && "$CAFE" --data "$T/$name" status >/dev/null 2>&1 && return 0
		kill -0 "${PID[$name]}" 2>/dev/null || { diag "cafed $name died: $(tail -3 "$T/$name.log")"; return 1; }
		sleep 0.05
	done
	diag "cafed $name did not start"
	return 1
}

daemon_pid() { echo "${PID[$1]}"; }

daemon_stop() {
	local name="$1"
	kill -TERM "${PID[$name]}" 2>/dev/null
	wait "${PID[$name]}" 2>/dev/null
	local rc=$?
	unset "PID[$name]"
	return $rc
}

daemon_kill() {
	local name="$1"
	kill -9 "${PID[$name]}" 2>/dev/null
	{ wait "${PID[$name]}"; } 2>/dev/null
	unset "PID[$name]"
	return 0
}

# A dials B; B accepts A.
link() {
	local a="$1" b="$2"
	"$CAFE" --data "$T/$a" peer add "$b" "127.0.0.1:${PORT[$b]}" --key "${KEY[$b]}" || return 1
	"$CAFE" --data "$T/$b" peer add "$a" --inbound --key "${KEY[$a]}" || return 1
}

wait_idle() {
	"$CAFE" --data "$T/$1" sync --wait --timeout "${2:-30}"
}

wait_for() {
	local timeout="$1"; shift
	local end=$(( $(date +%s) + timeout ))
	while [ "$(date +%s)" -le "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

digest() { "$CAFE" --data "$T/$1" status --json | jq -r .digest; }
heads() { "$CAFE" --data "$T/$1" status --json | jq -r '.heads[] | "\(.origin) \(.seq)"'; }

converged() {
	local desc="$1"; shift
	local first="$1" d0 h0 n bad=""
	d0=$(digest "$first"); h0=$(heads "$first")
	for n in "$@"; do
		[ "$(digest "$n")" = "$d0" ] || bad="$bad $n(digest)"
		[ "$(heads "$n")" = "$h0" ] || bad="$bad $n(heads)"
	done
	if [ -z "$bad" ]; then
		pass "$desc"
	else
		fail "$desc"
		diag "differs from $first:$bad"
	fi
}
