#!/bin/sh
# fanin.sh: fan-in, many sites reconnecting to one hub at once.  `make
# bench` runs it with
#
#   CAFE=... CAFED=... BENCH_BIN=/abs/build-bench/tests sh tests/bench/fanin.sh
#
# A real hub (cafed, the network's admin) holds FANIN_SITES (1,000) sites
# and their member records (bench_fanin setup); a real site (cafed, its own
# site record) is connected to it.  Then bench_fanin storm connects all the
# simulated sites at once, each with its own key and loopback address, each
# pushing FANIN_COMMITS (50) new single-op commits and receiving the admin
# log (offering the schema dictionary, so compressed, as real sites
# receive it), and stays connected.  During the storm the real site makes LAT_N
# (200) single writes, each timed from durable on the site to stored on the
# hub (bench_latency).
#
#   v   ed25519 verify rate of libsodium, one core (bench_verify, before and
#       after, averaged); the hub checks a batch's signatures on libuv's
#       thread pool in two halves at once, so it can use 2 cores: the
#       verify time of the storm is N * M / (2 * v)
#   s   time from the first connect until every site is caught up (the hub
#       acknowledged all its commits, it holds the admin log), against
#       1.3 x that verify time
#   c   the hub's CPU seconds over s (/proc/PID/stat, every thread), the
#       part of it beyond verifying N * M signatures, the load tool's own
#       CPU and the machine's idle CPU over s; and (hub + tool) / cores,
#       the shortest s these two processes' CPU allows on this machine
#   r   the hub's peak resident memory (VmHWM), its largest anonymous
#       share (RssAnon, sampled every 0.2 s until caught up) and its
#       descriptors once caught up, every site still connected
#   l   the real site's live latency during the storm (the writes that
#       ended before the last site was caught up), median and 95th
#       percentile
#
# Everything runs in a private temporary directory, removed on exit.
set -eu

for v in CAFE CAFED BENCH_BIN; do
	eval "[ -n \"\${$v:-}\" ]" || { echo "fanin.sh: set $v" >&2; exit 2; }
done
N=${FANIN_SITES:-1000}
M=${FANIN_COMMITS:-50}
LAT_N=${LAT_N:-200}
PORT=${BENCH_PORT:-$((25000 + $$ % 2000))}

unset CAFE_DATA
T=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/cafe-fanin.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${FANIN_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

. "$(dirname "$0")/benchlib.sh"
# The daemons' logs' last lines with a failure; a thousand handshakes may
# hold the socket back for a while.
die() { printf "bench: FAILED: %s\n" "$*" >&2; tail -n 5 "$T"/*.log >&2 2>/dev/null; exit 1; }
START_TRIES=500

say "(v) ed25519 verify rate, one core"
"$BENCH_BIN/bench_verify" 3 >"$T/verify1" || die "bench_verify failed"

say "(s) a hub with $N sites enrolled, and a real site"
hub=$(cafe hub init --name hub --role hub)
live=$(cafe live init --name live --role site --network "$hub")
LIVE_SITE=$(cafe hub add site name="Live site")
cafe hub member add "$live" --role site --name live --site "$LIVE_SITE" \
    >/dev/null || die "member add live failed"
"$BENCH_BIN/bench_fanin" setup "$T/hub" "$N" "$T/sites" ||
    die "bench_fanin setup failed"
cafe hub peer add live --inbound --key "$live"
cafe live peer add hub "127.0.0.1:$PORT" --key "$hub"
start hub --listen "127.0.0.1:$PORT"
start live
i=0
until cafe live member list 2>/dev/null | grep -q "^$(echo "$live" | cut -c1-16) "; do
	i=$((i + 1)); [ $i -lt 600 ] || die "the live site never got its enrollment"
	sleep 0.05
done
cafe live sync --wait --timeout 60 >/dev/null || die "the live site did not sync"
sync
sleep 1

say "(s) timed: $N sites x $M commits at once, live writes meanwhile"
"$BENCH_BIN/bench_fanin" storm "127.0.0.1:$PORT" "$hub" "$N" "$M" \
    "$T/sites" "$(pid hub)" >"$T/storm" 2>"$T/storm.err" &
STORM=$!
PIDS="$PIDS $STORM"
# The hub's largest anonymous share (RssAnon, every 0.2 s): VmHWM also
# counts the store's pages mapped from its file.
( p=$(pid hub); anon=0
  while [ -r "/proc/$p/status" ] && [ ! -e "$T/storm.over" ]; do
	while read -r k v _; do
		if [ "$k" = "RssAnon:" ]; then
			[ "$v" -gt "$anon" ] && anon=$v && echo "$anon" >"$T/anon"
			break
		fi
	done <"/proc/$p/status" 2>/dev/null
	sleep 0.2
  done ) &
# The latency run starts once the sites have signed their logs and begun
# to dial: while the hub is busiest.
i=0
until [ -s "$T/storm" ] || grep -q dialing "$T/storm.err" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 6000 ] || die "the storm never started"
	kill -0 $STORM 2>/dev/null || die "bench_fanin: $(cat "$T/storm.err")"
	sleep 0.01
done
# A write that takes over 10 s ends the run (bench_latency says which):
# the figure is then missed, not measured.
LAT_OK=1
LAT_SAMPLES=1 "$BENCH_BIN/bench_latency" "$T/live" "$T/hub" "$LIVE_SITE" \
    "$LAT_N" >"$T/lat" 2>"$T/lat.err" || LAT_OK=0
date +%s.%N >"$T/lat.end"
until grep -q '^fanin_done' "$T/storm"; do
	kill -0 $STORM 2>/dev/null || die "bench_fanin: $(cat "$T/storm.err")"
	sleep 0.1
done
touch "$T/storm.over"
kill -TERM $STORM
wait $STORM || die "bench_fanin: $(cat "$T/storm.err")"
got=$(cafe hub status --json | jq -r .commits)
want=$(calc "$N * $M")
[ "$got" -ge "$want" ] || die "the hub holds $got commits, fewer than $want"

"$BENCH_BIN/bench_verify" 3 >"$T/verify2" || die "bench_verify failed"

# ---- figures -----------------------------------------------------------------

VERIFY=$(calc "($(get verify_per_s "$T/verify1") + \
    $(get verify_per_s "$T/verify2")) / 2")
VT=$(calc "$N * $M / (2 * $VERIFY)")
S=$(get fanin_secs "$T/storm")
RATIO=$(calc "$S / $VT")
CPU=$(get fanin_hub_cpu_s "$T/storm")
TOOL=$(get fanin_tool_cpu_s "$T/storm")
IDLE=$(get fanin_idle_s "$T/storm")
# What the two cores could not do faster: the CPU the hub and the load
# tool both spent over s, spread over every core.
BOUND=$(calc "($CPU + $TOOL) / $(nproc)")
HWM=$(calc "$(get fanin_hub_hwm_kb "$T/storm") / 1024")
FDS=$(get fanin_hub_fds "$T/storm")
ANON=$(calc "$(cat "$T/anon" 2>/dev/null || echo 0) / 1024")
STORM_END=$(grep '^storm_end ' "$T/storm.err" | cut -d' ' -f2)
# Only the writes that ended before the last site caught up count: the
# latency during the storm.
awk -v end="$STORM_END" '$1 == "lat_sample" && $2 <= end { print $3 }' \
    "$T/lat" | sort -n >"$T/lat.storm"
LAT_IN=$(wc -l <"$T/lat.storm")
if [ $LAT_OK = 1 ] && [ "$LAT_IN" -gt 0 ]; then
	LAT_MED=$(awk -v n="$LAT_IN" 'NR == int(n / 2) + 1' "$T/lat.storm")
	LAT_P95=$(awk -v n="$LAT_IN" 'NR == int(n * 95 / 100) + 1' "$T/lat.storm")
elif [ $LAT_OK = 1 ]; then
	say "live latency: no write ended during the storm"
	LAT_OK=0
	LAT_MED=10000
	LAT_P95=10000
else
	say "live latency: $(cat "$T/lat.err")"
	LAT_MED=10000
	LAT_P95=10000
fi

verdict() {
	if [ "$(calc "($1) ? 1 : 0")" = 1 ]; then echo PASS; else echo MISS; fi
}
row() { printf '%-3s %-47s %-22s %-14s %s\n' "$1" "$2" "$3" "$4" "$5"; }

echo
echo "cafesync fan-in benchmark ($(date -u +%Y-%m-%dT%H:%MZ)), loopback," \
    "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
row "" "figure" "measured" "goal" "result"
row v "ed25519 verify, libsodium, 1 core" "$(fmt 0 "$VERIFY") verifies/s" \
    "(reference)" "-"
row v "  $N x $M signatures on the hub's 2 cores" "$(fmt 2 "$VT") s" \
    "(reference)" "-"
row s "$N sites x $M commits, all caught up" "$(fmt 2 "$S") s" \
    "<= 1.3 x v" "$(verdict "$RATIO <= 1.3") ($(fmt 2 "$RATIO") x v)"
row c "  hub CPU over that time" "$(fmt 2 "$CPU") s" "none set" "-"
row c "    of it beyond verifying, N x M / v" \
    "$(fmt 2 "$(calc "$CPU - $N * $M / $VERIFY")") s" "none set" "-"
row c "  load tool CPU over that time" "$(fmt 2 "$TOOL") s" "none set" "-"
row c "  idle CPU over that time, all cores" "$(fmt 2 "$IDLE") s" \
    "none set" "-"
row c "  (hub + tool CPU) / $(nproc) cores" "$(fmt 2 "$BOUND") s" \
    "none set" "s = $(fmt 2 "$(calc "$S / $BOUND")") x"
row r "  hub peak VmHWM" "$(fmt 1 "$HWM") MiB" "<= 128 MiB" \
    "$(verdict "$HWM <= 128")"
row r "  largest hub RssAnon sampled" "$(fmt 1 "$ANON") MiB" "none set" "-"
row r "  hub descriptors, all connected" "$FDS" "none set" "-"
row l "live site -> hub in the storm, median of $LAT_IN" \
    "$([ $LAT_OK = 1 ] && echo "$(fmt 2 "$LAT_MED") ms" || echo "a write > 10 s")" \
    "< 20 ms" "$(verdict "$LAT_MED < 20")"
row l "  95th percentile" "$(fmt 2 "$LAT_P95") ms" "none set" "-"
echo
echo "details: site caught up at median $(fmt 2 "$(get fanin_site_p50 \
    "$T/storm")") s; $(get fanin_redials "$T/storm") redials; each site" \
    "received $(get fanin_admin_seq "$T/storm") admin commits" \
    "($(get fanin_admin_bytes "$T/storm") bytes, $(get fanin_admin_wire \
    "$T/storm") on the wire before sealing; $(get fanin_admin_verified \
    "$T/storm") signatures verified); $LAT_N live writes, the" \
    "last $(fmt 2 "$(calc "$(cat "$T/lat.end") - $STORM_END")") s after" \
    "the last site caught up (negative: within the storm);" \
    "$(get fanin_live_drops "$T/storm") live connections lost; the live" \
    "writes of the whole run: median $(awk '$1 == "lat_median" { print $2 }' \
    "$T/lat") ms, p95 $(awk '$1 == "lat_p95" { print $2 }' "$T/lat") ms"
