#!/bin/sh
# sync.sh: the replication benchmarks, real cafed daemons on 127.0.0.1.
# `make bench` runs it after run.sh with
#
#   CAFE=... CAFED=... BENCH_BIN=/abs/build-bench/tests sh tests/bench/sync.sh
#
#   v   ed25519 verify rate of libsodium, one core (bench_verify), the
#       reference for f
#   f   sync of SYNC_COMMITS (100,000) single-op commits from one daemon to
#       a daemon with an empty store: commits per second from the
#       receiver's start until `cafe sync --wait` says it is caught up;
#       bytes on the wire (both directions, handshake included, as the
#       receiver counted them) per commit, against the commit's own bytes
#       (E and signature): batches travel compressed (docs/formats.md,
#       ZCOMMITS); CAFESYNC_WIRE_COMPRESS=none measures them plain
#   g   the same with SYNC_BIG (1,000) commits of 100 ops: ops per second
#   h   live propagation site -> hub -> replica: LAT_N (1,000) single
#       writes on the site, each timed from durable on the site to stored
#       on the replica (bench_latency); median and 99th percentile.  The
#       hub is the network's admin and enrolls the site (role site, for
#       the site record it makes) and the replica (consultant, all sites)
#   m   resident memory (VmRSS) of an idle cafed one second after start,
#       and the receiver's peak (VmHWM) and its largest anonymous share
#       (RssAnon, sampled every 0.2 s) during f.  VmRSS counts the store's
#       pages mapped from the file, which the kernel may drop at will;
#       RssAnon is the memory cafed itself holds.
#
# Everything runs in a private temporary directory, removed on exit.
set -eu

for v in CAFE CAFED BENCH_BIN; do
	eval "[ -n \"\${$v:-}\" ]" || { echo "sync.sh: set $v" >&2; exit 2; }
done
N=${SYNC_COMMITS:-100000}
NBIG=${SYNC_BIG:-1000}
LAT_N=${LAT_N:-1000}
PORT=${BENCH_PORT:-$((23000 + $$ % 2000))}

unset CAFE_DATA
T=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/cafe-sync.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	pkill -P $$ 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

. "$(dirname "$0")/benchlib.sh"

# What run.sh wrote may still be going to disk: not during these timings.
sync
sleep 2

say "(v) ed25519 verify rate, one core"
"$BENCH_BIN/bench_verify" 3 >"$T/verify1" || die "bench_verify failed"

# sync_bench TAG COMMITS OPS: a node with COMMITS commits of OPS ops each
# (bench_genbundle, then bundle import) serves them to an empty node.
sync_bench() {
	tag=$1; n=$2; ops=$3
	say "($tag) $n commits of $ops ops: make the sender's log"
	src=$(cafe "${tag}_src" init --name "${tag}-src" --role site)
	dst=$(cafe "${tag}_dst" init --name "${tag}-dst" --role hub --network "$src")
	"$BENCH_BIN/bench_genbundle" "$T/${tag}_src" "$n" "$T/$tag.bundle" \
	    ordered "$ops" >"$T/$tag.gen" || die "bench_genbundle failed"
	cafe "${tag}_src" bundle import "$T/$tag.bundle" >/dev/null ||
	    die "bundle import failed"
	rm -f "$T/$tag.bundle"
	cafe "${tag}_src" peer add dst --inbound --key "$dst"
	cafe "${tag}_dst" peer add src "127.0.0.1:$PORT" --key "$src"
	start "${tag}_src" --listen "127.0.0.1:$PORT"
	# The import above left the sender's store dirty in the page cache:
	# write it out now, not while the sync is timed.
	sync
	sleep 1
	say "($tag) timed: the empty node's cafed syncs it all"
	t0=$(now)
	start "${tag}_dst"
	p=$(pid "${tag}_dst")
	# RssAnon every 0.2 s, read with the shell's own read, so the
	# sampling costs the timed sync next to nothing.
	( anon=0
	  while [ -r "/proc/$p/status" ]; do
		while read -r k v _; do
			if [ "$k" = "RssAnon:" ]; then
				[ "$v" -gt "$anon" ] && anon=$v &&
				    echo "$anon" >"$T/$tag.anon"
				break
			fi
		done <"/proc/$p/status" 2>/dev/null
		sleep 0.2
	  done ) &
	cafe "${tag}_dst" sync --wait --timeout 600 >/dev/null ||
	    die "($tag) sync did not finish"
	t1=$(now)
	echo "$(calc "$t1 - $t0")" >"$T/$tag.secs"
	kb "$p" VmHWM >"$T/$tag.hwm"
	cafe "${tag}_dst" status --json >"$T/$tag.status"
	got=$(jq -r .commits "$T/$tag.status")
	[ "$got" = "$n" ] || die "($tag) receiver holds $got commits, not $n"
	[ "$(jq -r .digest "$T/$tag.status")" = \
	    "$(cafe "${tag}_src" status --json | jq -r .digest)" ] ||
	    die "($tag) digests differ"
	jq -r '.daemon.peers[0] | "\(.bytes_in) \(.bytes_out)"' \
	    "$T/$tag.status" >"$T/$tag.bytes"
	stop "${tag}_dst"
	stop "${tag}_src"
	rm -rf "$T/${tag}_src" "$T/${tag}_dst"
}

sync_bench f "$N" 1
sync_bench g "$NBIG" 100

say "(h) live propagation site -> hub -> replica, $LAT_N writes"
net=$(cafe hub init --name hub --role hub)
site=$(cafe site init --name site --role site --network "$net")
rep=$(cafe rep init --name rep --role consultant --network "$net")
cafe hub peer add site --inbound --key "$site"
cafe hub peer add rep --inbound --key "$rep"
cafe site peer add hub "127.0.0.1:$PORT" --key "$net"
cafe rep peer add hub "127.0.0.1:$PORT" --key "$net"
start hub --listen "127.0.0.1:$PORT"
sleep 1
kb "$(pid hub)" VmRSS >"$T/idle.rss"
kb "$(pid hub)" RssAnon >"$T/idle.anon"
start site
start rep
SITE_ID=$(cafe hub add site name="Latency Site")
# The hub is the network's admin: it enrolls the site's key for that site
# and the replica as a consultant reading every site.  The site writes
# only once it holds its member record, pushed by the hub.
cafe hub member add "$site" --role site --name site --site "$SITE_ID" \
    >/dev/null || die "member add site failed"
cafe hub member add "$rep" --role consultant --name rep --all \
    >/dev/null || die "member add rep failed"
cafe hub sync --wait --timeout 30 >/dev/null || die "hub did not sync"
cafe site sync --wait --timeout 30 >/dev/null || die "site did not sync"
i=0
until cafe site member list --json 2>/dev/null |
    jq -e --arg k "$site" 'any(.[]; .key == $k)' >/dev/null; do
	i=$((i + 1)); [ $i -lt 600 ] || die "the site never received its enrollment"
	sleep 0.05
done
"$BENCH_BIN/bench_latency" "$T/site" "$T/rep" "$SITE_ID" "$LAT_N" \
    >"$T/lat" || die "bench_latency failed"
stop site; stop rep; stop hub

"$BENCH_BIN/bench_verify" 3 >"$T/verify2" || die "bench_verify failed"

# ---- figures -----------------------------------------------------------------

VERIFY=$(calc "($(get verify_per_s "$T/verify1") + \
    $(get verify_per_s "$T/verify2")) / 2")
F_RATE=$(calc "$N / $(cat "$T/f.secs")")
F_RATIO=$(calc "$F_RATE / $VERIFY")
F_WIRE=$(awk '{ print $1 + $2 }' "$T/f.bytes")
F_OWN=$(get gen_commit_bytes "$T/f.gen")
F_X=$(calc "$F_WIRE / $F_OWN")
G_OPS=$(get gen_ops "$T/g.gen")
G_RATE=$(calc "$G_OPS / $(cat "$T/g.secs")")
G_WIRE=$(awk '{ print $1 + $2 }' "$T/g.bytes")
G_OWN=$(get gen_commit_bytes "$T/g.gen")
G_X=$(calc "$G_WIRE / $G_OWN")
LAT_MED=$(get lat_median "$T/lat")
LAT_P99=$(get lat_p99 "$T/lat")
IDLE=$(calc "$(cat "$T/idle.rss") / 1024")
IDLE_ANON=$(calc "$(cat "$T/idle.anon") / 1024")
F_HWM=$(calc "$(cat "$T/f.hwm") / 1024")
F_ANON=$(calc "$(cat "$T/f.anon" 2>/dev/null || echo 0) / 1024")

verdict() {
	if [ "$(calc "($1) ? 1 : 0")" = 1 ]; then echo PASS; else echo MISS; fi
}
row() { printf '%-3s %-47s %-22s %-14s %s\n' "$1" "$2" "$3" "$4" "$5"; }

echo
echo "cafesync sync benchmarks ($(date -u +%Y-%m-%dT%H:%MZ)), loopback," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
row "" "figure" "measured" "goal" "result"
row v "ed25519 verify, libsodium, 1 core" "$(fmt 0 "$VERIFY") verifies/s" \
    "(reference)" "-"
row f "sync $N single-op commits" "$(fmt 0 "$F_RATE") commits/s" \
    ">= 1.4 x v" "$(verdict "$F_RATIO >= 1.4") ($(fmt 2 "$F_RATIO") x v)"
row f "  wire bytes / the commits' own bytes" \
    "$(fmt 3 "$F_X") x" "<= 0.6 x" "$(verdict "$F_X <= 0.6")"
row g "sync $NBIG commits of 100 ops" "$(fmt 0 "$G_RATE") ops/s" \
    "none set" "-"
row g "  wire bytes / the commits' own bytes" \
    "$(fmt 3 "$G_X") x" "<= 0.6 x" "$(verdict "$G_X <= 0.6")"
row h "site -> hub -> replica, median of $LAT_N" "$(fmt 2 "$LAT_MED") ms" \
    "< 5 ms" "$(verdict "$LAT_MED < 5")"
row h "  99th percentile" "$(fmt 2 "$LAT_P99") ms" "none set" "-"
row m "idle cafed, VmRSS" "$(fmt 1 "$IDLE") MiB" "< 8 MiB" \
    "$(verdict "$IDLE < 8")"
row m "cafed receiving f, peak VmHWM" "$(fmt 1 "$F_HWM") MiB" "none set" "-"
row m "  largest RssAnon sampled" "$(fmt 1 "$F_ANON") MiB" "none set" "-"
echo
echo "details: f took $(fmt 2 "$(cat "$T/f.secs")") s, $(fmt 1 \
    "$(calc "$F_WIRE / $N")") wire bytes per commit for $(fmt 1 \
    "$(calc "$F_OWN / $N")") own bytes; g took $(fmt 2 "$(cat "$T/g.secs")")" \
    "s ($(fmt 0 "$(calc "$NBIG / $(cat "$T/g.secs")")") commits/s); idle" \
    "RssAnon $(fmt 1 "$IDLE_ANON") MiB; latency max $(get lat_max "$T/lat") ms"
