# netlib.sh: what the multi-node tests share, on top of ../cli/lib.sh.
#
# Each tests/net/*.t starts real cafed processes on 127.0.0.1, each with
# its own data directory under $T and its own port, drives them with real
# cafe commands and prints TAP.  Every daemon started here is killed by the
# EXIT trap, also when a test fails or the script dies.
#
#   node_init NAME ROLE [NETWORK]   cafe init into $T/NAME; sets NAME's key
#                                   in KEY[NAME]; the first node's key is the
#                                   network id (it is the network's admin,
#                                   ADMIN=NAME) unless NETWORK is given; every
#                                   later node is enrolled, see below
#   node_enroll NAME [ROLE [SITE]]  enrolls NAME on its network's admin node
#                                   (role hub unless ROLE; SITE as for lib.sh
#                                   enroll) and copies the admin's log into
#                                   NAME by bundle, so NAME may write at once;
#                                   no test of its own (wrap it in ok)
#   admin_log NAME...               copies the admin's log as it stands now
#                                   into each NAME (bundle; the admin of
#                                   NAME's network), e.g. so that
#                                   nodes enrolled one after the other all
#                                   hold every member record; no test
#   node_port NAME                  NAME's listen port (in the script's block)
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
#
# Trust: every commit must come from the network's admin (the node whose
# key is the network id) or from a key the admin enrolled (cafe member add),
# and a node may write only once it holds the admin's member record.  These
# scripts test replication, not trust, so node_init enrolls every node whose
# network's admin is a node made here before it (its KEY is the network id)
# with role hub (which writes every type but member records), then copies
# the admin's log into the new node (lib.sh enroll: member add, bundle
# export of the admin's own log, bundle import).  So the admin's log holds
# one member commit per later node, and each node starts holding the admin's
# log as it stood then.  Set ENROLL before node_init to change that:
#   ENROLL=no                       no enrollment (a stranger, or a node the
#                                   script enrolls later with node_enroll,
#                                   e.g. once the site record it speaks for
#                                   exists)
#   ENROLL=site:SITEID              role site, speaking for SITEID
#   ENROLL=consultant[:ID,...]      role consultant reading all sites, or the
#                                   sites listed
# A node whose network's admin is not (yet) a node here is not enrolled.

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
ADMIN=""
# Ports: a block of 40 per script, claimed at random among the blocks
# between 20000 and 32759 (below 32768, where Linux picks no ephemeral
# ports, so an outgoing connection never holds a port a daemon is about
# to listen on).  A block is claimed by making a directory in /tmp (one
# mkdir wins), then checked free port by port, so scripts running side by
# side, in one checkout or in two, never share one.  A claim older than a
# day is stale (its script was killed) and taken back.
_port_claim() {
	local tries=0 blk dir
	find /tmp -maxdepth 1 -name 'cafesync-ports.*' -mmin +1440 \
		-exec rmdir {} + 2>/dev/null
	while [ "$tries" -lt 400 ]; do
		blk=$(( RANDOM % 319 ))
		dir="/tmp/cafesync-ports.$blk"
		if mkdir "$dir" 2>/dev/null; then
			if python3 - "$(( 20000 + blk * 40 ))" 40 <<'PYEOF'
import socket, sys
base, n = int(sys.argv[1]), int(sys.argv[2])
for p in range(base, base + n):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PYEOF
			then
				_port_dir="$dir"
				_port_base=$(( 20000 + blk * 40 ))
				return 0
			fi
			rmdir "$dir"
		fi
		tries=$((tries + 1))
	done
	echo "Bail out! no free block of 40 ports between 20000 and 32760"
	exit 255
}
_port_dir=
_port_claim
_port_next=0

_net_cleanup() {
	local n
	for n in "${!PID[@]}"; do
		kill -9 "${PID[$n]}" 2>/dev/null
	done
	{ wait; } 2>/dev/null
	rm -rf "$T"
	[ -n "$_port_dir" ] && rmdir "$_port_dir" 2>/dev/null
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
	if [ -z "$NETWORK" ]; then
		NETWORK="$out"
		ADMIN="$name"
	fi
	PORT[$name]=$(( _port_base + _port_next ))
	_port_next=$(( _port_next + 1 ))
	local how="${ENROLL:-hub}"
	[ "$how" = no ] && return 0
	[ -n "$(_admin_of "$name")" ] || return 0
	case "$how" in
	hub) node_enroll "$name" hub ;;
	site:*) node_enroll "$name" site "${how#site:}" ;;
	consultant) node_enroll "$name" consultant ;;
	consultant:*) node_enroll "$name" consultant "${how#consultant:}" ;;
	*) diag "node_init: ENROLL=$how: not no, hub, site:SITEID or consultant[:IDS]"; return 1 ;;
	esac
}

# admin_log NAME...: lib.sh admin_log_copy from each NAME's network's admin.
admin_log() {
	local n a
	for n in "$@"; do
		a="$(_admin_of "$n")"
		[ -n "$a" ] || { diag "admin_log $n: no node here is the admin of its network"; return 1; }
		admin_log_copy "$T/$a" "$T/$n" || { diag "admin_log $n: $ENROLL_ERR"; return 1; }
	done
}

# _admin_of NAME: the node made here whose key is NAME's network id (not
# NAME itself), or nothing.
_admin_of() {
	local net n
	net="$("$CAFE" --data "$T/$1" status --json | jq -r .network)"
	for n in "${!KEY[@]}"; do
		[ "$n" != "$1" ] && [ "${KEY[$n]}" = "$net" ] && { echo "$n"; return 0; }
	done
	return 0
}

# node_enroll NAME [ROLE [SITE]]: lib.sh enroll_quiet on NAME's network's
# admin; no test (wrap it in ok); says why on stderr when it fails.
node_enroll() {
	local name="$1" admin
	admin="$(_admin_of "$name")"
	if [ -z "$admin" ]; then
		diag "enroll $name: no node here is the admin of its network"
		return 1
	fi
	enroll_quiet "$T/$admin" "$T/$name" "${2:-hub}" "${3:-}" && return 0
	diag "enroll $name: $ENROLL_ERR"
	return 1
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

# Network namespaces, for the tests of slow links (root, ip netns, tc):
#
#   netns_skip                      prints a TAP skip plan and exits unless
#                                   this can make namespaces and shape links
#   netns_pair RATE                 makes two namespaces, NS_HUB and
#                                   NS_SITE, joined by a veth pair (V_HUB in
#                                   NS_HUB, V_SITE in NS_SITE) with private
#                                   addresses A_HUB and A_SITE, each end
#                                   shaped by tc tbf to RATE; the EXIT trap
#                                   removes them
#   ns_cafed NS NAME ADDR [ARGS...] cafed for NAME inside namespace NS,
#                                   listening on ADDR and NAME's port, with
#                                   NS_ENV (VAR=value ...) in its
#                                   environment; waits for its socket
netns_skip() {
	if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1 ||
	    ! command -v tc >/dev/null; then
		echo "1..0 # SKIP needs root, ip netns and tc (iproute2)"
		exit 0
	fi
}

_netns_cleanup() {
	_net_cleanup
	[ -n "${NS_HUB:-}" ] && ip netns del "$NS_HUB" 2>/dev/null
	[ -n "${NS_SITE:-}" ] && ip netns del "$NS_SITE" 2>/dev/null
	return 0
}

netns_pair() {
	local rate="$1" v="cs$(( $$ % 100000 ))"
	NS_HUB="cafe-hub-$$"; NS_SITE="cafe-site-$$"
	V_HUB="${v}h"; V_SITE="${v}s"
	# Private addresses inside the namespaces made here, nowhere else.
	A_HUB="10.254.$(( $$ % 250 )).1"; A_SITE="10.254.$(( $$ % 250 )).2"
	trap _netns_cleanup EXIT
	ip netns add "$NS_HUB" && ip netns add "$NS_SITE" &&
	ip link add "$V_HUB" netns "$NS_HUB" type veth peer name "$V_SITE" netns "$NS_SITE" &&
	ip -n "$NS_HUB" addr add "$A_HUB/30" dev "$V_HUB" &&
	ip -n "$NS_SITE" addr add "$A_SITE/30" dev "$V_SITE" &&
	ip -n "$NS_HUB" link set "$V_HUB" up && ip -n "$NS_SITE" link set "$V_SITE" up &&
	ip -n "$NS_HUB" link set lo up && ip -n "$NS_SITE" link set lo up &&
	ip netns exec "$NS_SITE" tc qdisc add dev "$V_SITE" root tbf rate "$rate" burst 4kb latency 400ms &&
	ip netns exec "$NS_HUB" tc qdisc add dev "$V_HUB" root tbf rate "$rate" burst 4kb latency 400ms
}

ns_cafed() {
	local ns="$1" name="$2" addr="$3" i
	shift 3
	# shellcheck disable=SC2086
	ip netns exec "$ns" env ${NS_ENV:-} "$CAFED" --data "$T/$name" \
		--listen "$addr:${PORT[$name]}" "$@" >>"$T/$name.log" 2>&1 &
	PID[$name]=$!
	for i in $(seq 1 100); do
		[ -S "$T/$name/ctl/cafed.sock" ] &&
		    "$CAFE" --data "$T/$name" status >/dev/null 2>&1 && return 0
		kill -0 "${PID[$name]}" 2>/dev/null || { diag "cafed $name died: $(tail -3 "$T/$name.log")"; return 1; }
		sleep 0.05
	done
	diag "cafed $name did not start"
	return 1
}
